"""run.png, a picture of one run: the validation metric per step with the best so far, the baseline, escalations
and expert calls (top); tokens per role and cascade tier (bottom). Drawn when the run ends, next to report.md."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from budgetmlagent.workspace.task import Direction
from budgetmlagent.workspace.validation import is_better

PLOT_FILE = "run.png"
EXPERT_ACTION = "Ask Expert"


def best_so_far(values: Sequence[float | None], direction: Direction, start: float | None = None) -> list[float | None]:
    """The best value seen up to each position, in the metric's direction; None (a step that measured nothing)
    keeps the previous best. `start` is the baseline's value, the best before the first step."""
    best = start
    series: list[float | None] = []
    for value in values:
        if value is not None and is_better(value, best, direction):
            best = value
        series.append(best)
    return series


def validation_per_step(steps: Sequence[Mapping[str, Any]], measured: Iterable[Sequence[Any]]) -> list[float | None]:
    """The validation metric of each step, in step order (None: the step measured nothing).

    The state keeps measurements apart from the steps, as (step, value) pairs; a step measured twice (an edit, then
    the debugger's fix) counts its last run, the version the step left behind. A step record's own "validation"
    key, where one exists, wins."""
    by_step: dict[int, float] = {}
    for step, value in measured:
        if value is not None:
            by_step[int(step)] = float(value)
    values: list[float | None] = []
    for record in steps:
        own = record.get("validation")
        values.append(float(own) if own is not None else by_step.get(int(record["step"])))
    return values


def tokens_by_role_tier(calls: Iterable[Any]) -> dict[str, dict[tuple[int, str], int]]:
    """Tokens (input + output) per role, then per (tier, model), from the ledger's call records."""
    out: dict[str, dict[tuple[int, str], int]] = {}
    for call in calls:
        key = (int(call.tier), str(call.model))
        per_role = out.setdefault(str(call.role), {})
        per_role[key] = per_role.get(key, 0) + int(call.input_tokens) + int(call.output_tokens)
    return out


def plot_section(run_dir: str | Path, state: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> str:
    """Draw run.png and return the report.md lines that show it, or the line that says why it was not drawn.

    Never raises (short of an interrupt): a picture is not worth a finished run's result files."""
    try:
        write_run_plot(Path(run_dir), state, steps)
    except Exception as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        return f"\n- plot not drawn: {reason}\n"
    return f"\n## Run\n\n![run]({PLOT_FILE})\n"


def write_run_plot(run_dir: Path, state: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> Path:
    """run.png in the run folder; raises whatever matplotlib or a malformed state raises."""
    # Lazy and without pyplot: no import cost for runs that never finish, and no global backend switched under a
    # host process (LangGraph server, notebook) that has its own.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    task = state.get("task") or {}
    direction: Direction = "lower" if task.get("direction") == "lower" else "higher"
    baseline = task.get("validation_baseline")
    values = validation_per_step(steps, state.get("measured") or [])
    numbers = [int(s["step"]) for s in steps]

    fig = Figure(figsize=(8, 6.5))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})

    points = [(n, v) for n, v in zip(numbers, values, strict=True) if v is not None]
    if points:
        # NaN, not a skipped point: the line breaks where a step measured nothing instead of bridging it.
        gapped = [math.nan if v is None else v for v in values]
        top.plot(numbers, gapped, "o-", color="tab:blue", label="validation per step")
    best = best_so_far(values, direction, baseline)
    # The best starts at the baseline (step 0), as in runtime.measure.best_value.
    start = [(0, baseline)] if baseline is not None else []
    line = [(n, b) for n, b in [*start, *zip(numbers, best, strict=True)] if b is not None]
    if line:
        top.step(*zip(*line, strict=True), where="post", color="tab:green", label="best so far")
    if baseline is not None:
        top.axhline(baseline, color="grey", linestyle="--", label="baseline")
    failed = [int(s["step"]) for s in steps if not s.get("ok", True)]
    if failed:
        # On the axis, not at a value: a failed step usually measured nothing.
        top.plot(
            failed,
            [0] * len(failed),
            "x",
            color="tab:red",
            transform=top.get_xaxis_transform(),
            clip_on=False,
            label="failed",
        )
    for i, step in enumerate(sorted({int(e["step"]) for e in state.get("escalations") or [] if "step" in e})):
        top.axvline(step, color="tab:orange", linestyle=":", label="escalation" if i == 0 else None)
    asked = [int(s["step"]) for s in steps if s.get("action") == EXPERT_ACTION]
    for i, step in enumerate(asked):
        top.axvline(step, color="tab:purple", linestyle="-.", label="expert call" if i == 0 else None)
    if not points:
        top.text(0.5, 0.5, "no validation metric measured", transform=top.transAxes, ha="center", color="grey")
    top.set_xlabel("step")
    top.set_ylabel(f"validation {task.get('metric', 'metric')} ({direction} is better)")
    top.set_title(f"{task.get('name', 'run')}: validation per step")
    top.grid(alpha=0.3)
    if top.get_legend_handles_labels()[0]:
        top.legend(fontsize=8, loc="best")

    ledger = state.get("ledger")
    calls = list(getattr(ledger, "calls", None) or [])
    by_role = tokens_by_role_tier(calls)
    roles = list(by_role)
    groups = sorted({key for per_role in by_role.values() for key in per_role})
    floor = [0] * len(roles)
    for tier, model in groups:  # stacked: cheap tier at the bottom, so an escalation shows as a taller top
        heights = [by_role[r].get((tier, model), 0) / 1000 for r in roles]
        bottom.bar(roles, heights, bottom=floor, label=f"tier {tier}: {model}")
        floor = [f + h for f, h in zip(floor, heights, strict=True)]
    cost = sum(float(getattr(c, "cost_usd", 0.0) or 0.0) for c in calls)
    bottom.set_ylabel("tokens (thousands)")
    bottom.set_title(f"tokens per role and tier ({len(calls)} calls, ${cost:.4f})")
    if groups:
        bottom.legend(fontsize=7, loc="best")
    else:
        bottom.text(0.5, 0.5, "no model calls", transform=bottom.transAxes, ha="center", color="grey")
    bottom.grid(alpha=0.3, axis="y")
    fig.tight_layout()

    # A temporary file, then os.replace: a reader never sees half a PNG.
    path = run_dir / PLOT_FILE
    tmp = run_dir / f".{PLOT_FILE}.{os.getpid()}.tmp"
    try:
        fig.savefig(tmp, format="png", dpi=100)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
