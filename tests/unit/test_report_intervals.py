"""Sweep reports: Wilson 95 % intervals on success rates, and the paper-style Table 2."""

from __future__ import annotations

import json
from typing import Any

import pytest

from budgetmlagent.benchmarks.report import aggregate, config_table, plot, render_markdown, table2, wilson_interval
from budgetmlagent.runtime.presets import LOCAL_BASE, LOCAL_TOP


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [
        (0, 10, (0.0, 0.2775)),
        (5, 10, (0.2366, 0.7634)),
        (10, 10, (0.7225, 1.0)),
        (1, 1, (0.2065, 1.0)),
        (8, 20, (0.2188, 0.6134)),
    ],
)
def test_wilson_interval_known_values(successes: int, n: int, expected: tuple[float, float]) -> None:
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected[0], abs=1e-4) and high == pytest.approx(expected[1], abs=1e-4)


def test_wilson_interval_edges() -> None:
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0  # exact, not 1e-17 off
    assert wilson_interval(0, 0) == (0.0, 1.0)  # no runs: nothing known
    narrow, wide = wilson_interval(50, 100), wilson_interval(5, 10)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]
    low, high = wilson_interval(5, 10, z=1.0)
    assert 0.2366 < low < 0.5 < high < 0.7634
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def record(task: str, config: str, seed: int, success: bool, **kw: Any) -> dict[str, Any]:
    return {
        "key": f"{task}/{config}/seed{seed}",
        "task": task,
        "config": config,
        "seed": seed,
        "success": success,
        "score": 1.0,
        "improvement": 0.2 if success else 0.0,
        "cost_usd": kw.get("cost", 0.0),
        "tokens_per_model": {
            LOCAL_BASE: {"input_tokens": 3000, "output_tokens": 1000},
            LOCAL_TOP: {"input_tokens": kw.get("top", 0), "output_tokens": 0},
        },
        "llm_calls": kw.get("calls", 10),
        "expert_calls": kw.get("expert", 0),
        "escalations": 1,
        "wall_time_s": 60.0,
    }


RECORDS = [
    record("a", "cascade+expert", 0, True, top=2000, expert=2, cost=0.02, calls=12),
    record("b", "cascade+expert", 0, True, top=0, expert=1, cost=0.04, calls=8),
    record("a", "single-base", 0, False),
    record("b", "single-base", 0, False),
]


def test_summaries_carry_the_interval() -> None:
    agg = aggregate(RECORDS)
    full = agg["per_config"]["cascade+expert"]
    assert full["successes"] == 2 and full["success_ci"] == wilson_interval(2, 2)
    assert full["llm_calls"] == 10.0


def test_config_table_prints_the_interval_after_the_old_columns() -> None:
    table = config_table(aggregate(RECORDS))
    assert "| cascade+expert | 2 | 100% | - | 100% | 34%-100% | $0.0300 |" in table
    assert "| single-base | 2 | 0% | - | 0% | 0%-66% | $0.0000 |" in table


def test_table2_rows_per_configuration() -> None:
    table = table2(aggregate(RECORDS))
    lines = table.splitlines()
    assert lines[0].startswith("| configuration | runs | success rate % (95% CI) | avg cost/run ($) |")
    assert lines[2] == "| cascade+expert | 2 | 100.0 (34.2-100.0) | 0.0300 | 4.0k | 1.0k | 1.50 | 10.0 |"
    assert lines[3] == "| single-base | 2 | 0.0 (0.0-65.8) | 0.0000 | 4.0k | 0.0k | 0.00 | 10.0 |"


def test_table2_from_an_old_summary_without_intervals() -> None:
    """A summary.json written before intervals existed (tuples became lists, keys missing) still renders."""
    agg = json.loads(json.dumps(aggregate(RECORDS)))
    for summary in agg["per_config"].values():
        del summary["success_ci"], summary["llm_calls"]
    lines = table2(agg).splitlines()
    assert lines[2].startswith("| cascade+expert | 2 | 100.0 (34.2-100.0) |") and lines[2].endswith("| - |")


def test_markdown_has_table2_and_the_plots_have_error_bars(tmp_path: Any) -> None:
    agg = aggregate(RECORDS)
    plots = plot(agg, tmp_path)
    for name in plots:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
    text = render_markdown(agg, RECORDS, {}, plots)
    assert "## Table 2: success and cost per configuration" in text
    assert text.index("## Per configuration") < text.index("## Table 2") < text.index("## Per task")
    assert "| cascade+expert | 2 | 100.0 (34.2-100.0) |" in text
