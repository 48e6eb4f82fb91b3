"""Settings precedence: a value the caller gave > BUDGETMLAGENT_<NAME> > the default, on every entry point."""

from __future__ import annotations

import dataclasses
from typing import Any, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from budgetmlagent.cli import build_parser
from budgetmlagent.preflight import given, run_caps
from budgetmlagent.runtime.context import Context


@pytest.fixture
def steps_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGETMLAGENT_MAX_STEPS", "10")


def test_the_default_applies_without_a_value_or_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUDGETMLAGENT_MAX_STEPS", raising=False)
    assert Context().max_steps == 30


def test_a_variable_beats_the_default(steps_env: None) -> None:
    assert Context().max_steps == 10


def test_a_given_value_beats_the_variable_even_when_it_equals_the_default(steps_env: None) -> None:
    assert Context(max_steps=30).max_steps == 30
    assert Context(max_steps=12).max_steps == 12


def test_a_variable_fills_only_the_settings_not_given(steps_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGETMLAGENT_LIFELINES", "2")
    ctx = Context(max_steps=30)
    assert (ctx.max_steps, ctx.lifelines) == (30, 2)


def test_a_copy_keeps_the_resolved_values(steps_env: None) -> None:
    ctx = dataclasses.replace(Context(), seed=4)
    assert (ctx.max_steps, ctx.seed) == (10, 4)


def _run_settings(argv: list[str]) -> dict[str, Any]:
    args = build_parser().parse_args(["run", "some-task", *argv])
    return run_caps(args) | given({"preset": args.preset, "seed": args.seed})


def test_run_flags_left_out_leave_the_variable_in_charge(steps_env: None) -> None:
    settings = _run_settings([])
    assert "max_steps" not in settings and "preset" not in settings
    assert Context(**settings).max_steps == 10


def test_a_run_flag_equal_to_the_default_beats_the_variable(steps_env: None) -> None:
    assert Context(**_run_settings(["--max-steps", "30"])).max_steps == 30


def test_a_run_flag_beats_the_variable(steps_env: None) -> None:
    assert Context(**_run_settings(["--max-steps", "7", "--wall-clock", "60"])).max_steps == 7


class _Probe(TypedDict, total=False):
    max_steps: int


def _context_probe() -> Any:
    """A one-node graph with Context as its context_schema: LangGraph builds Context from a dict as Studio's does."""

    def read(state: _Probe, runtime: Runtime[Context]) -> _Probe:
        return {"max_steps": runtime.context.max_steps}

    builder = StateGraph(_Probe, context_schema=Context)
    builder.add_node("read", read)
    builder.add_edge(START, "read")
    builder.add_edge("read", END)
    return builder.compile()


def test_studio_context_dict_follows_the_same_order(steps_env: None) -> None:
    probe = _context_probe()
    assert probe.invoke({}, context={"max_steps": 30})["max_steps"] == 30
    assert probe.invoke({}, context={"seed": 1})["max_steps"] == 10


def test_graph_invoke_with_a_context_object_follows_the_same_order(steps_env: None) -> None:
    probe = _context_probe()
    assert probe.invoke({}, context=Context(max_steps=30))["max_steps"] == 30
    assert probe.invoke({}, context=Context())["max_steps"] == 10


def _bench_caps(argv: list[str]) -> dict[str, Any]:
    from budgetmlagent.bench_command import bench_caps

    return bench_caps(build_parser().parse_args(["bench", *argv]))


def test_bench_caps_default_to_the_sweeps_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUDGETMLAGENT_MAX_STEPS", raising=False)
    monkeypatch.delenv("BUDGETMLAGENT_SCRIPT_TIMEOUT_S", raising=False)
    caps = _bench_caps([])
    assert (caps["max_steps"], caps["script_timeout_s"]) == (15, 300)


def test_bench_reads_the_variables_its_flags_leave_out(steps_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGETMLAGENT_SCRIPT_TIMEOUT_S", "90")
    caps = _bench_caps(["--wall-clock", "60"])
    assert (caps["max_steps"], caps["script_timeout_s"], caps["wall_clock_s"]) == (10, 90.0, 60.0)


def test_a_bench_flag_equal_to_its_default_beats_the_variable(steps_env: None) -> None:
    assert _bench_caps(["--max-steps", "15"])["max_steps"] == 15


def test_a_bad_bench_variable_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGETMLAGENT_LIFELINES", "many")
    with pytest.raises(ValueError, match=r"\$BUDGETMLAGENT_LIFELINES='many': expected a whole number"):
        _bench_caps([])
