"""Per-run measurements read back from trace.jsonl: prompt tokens per step and framework overhead."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Any

from budgetmlagent.runtime.run_folder import read_trace


def run_stats(run_dir: Path) -> dict[str, Any]:
    """Planner prompt tokens by step, and seconds per step spent outside model calls and scripts.

    Overhead of a step = its wall time (from the previous step's end, or the run's start) minus the
    seconds of its model calls and script runs: graph routing, prompts, memory, file work.
    """
    try:
        trace = read_trace(run_dir)
    except (OSError, ValueError):
        trace = []
    planner_prompt: dict[int, int] = {}
    llm_seconds: dict[int, float] = defaultdict(float)
    script_seconds: dict[int, float] = defaultdict(float)
    step_end: dict[int, float] = {}
    start: float | None = None
    cost = 0.0
    for record in trace:
        kind, step = record.get("type"), record.get("step")
        if kind == "start":
            start = record["time"]
        elif kind == "llm_call" and isinstance(step, int):
            llm_seconds[step] += float(record.get("seconds") or 0.0)
            cost += float(record.get("cost_usd") or 0.0)
            # The first planner call of a step is the comparable one (retries repeat the same prompt).
            if record.get("role") == "planner" and step not in planner_prompt:
                planner_prompt[step] = int(record.get("input_tokens") or 0)
        elif kind == "script_run" and isinstance(step, int):
            script_seconds[step] += float(record.get("seconds") or 0.0)
        elif kind == "step" and isinstance(step, int):
            step_end[step] = record["time"]
    overhead: list[float] = []
    previous = start
    for step in sorted(step_end):
        if previous is not None:
            overhead.append(max(0.0, step_end[step] - previous - llm_seconds[step] - script_seconds[step]))
        previous = step_end[step]
    return {
        "planner_prompt_tokens": [planner_prompt.get(step) for step in sorted(step_end)],
        "overhead_s_per_step": [round(x, 3) for x in overhead],
        "median_overhead_s": round(median(overhead), 3) if overhead else None,
        "llm_seconds": round(sum(llm_seconds.values()), 1),
        "script_seconds": round(sum(script_seconds.values()), 1),
        "trace_cost_usd": round(cost, 8),
    }
