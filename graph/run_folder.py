"""The run folder: config.json, trace.jsonl (a line per step and per LLM call), result.json, report.md."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def append_trace(run_dir: str | None, record: dict[str, Any]) -> None:
    """Append one JSON line; written as it happens so a killed run keeps its trace."""
    if not run_dir:
        return
    record = {"time": round(time.time(), 3), **record}
    with (Path(run_dir) / "trace.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")


def emit(runtime: Any, run_dir: str | None, record: dict[str, Any]) -> None:
    """Append a trace record and stream it live (stream_mode="custom"): step, action, model, cost."""
    append_trace(run_dir, record)
    writer = getattr(runtime, "stream_writer", None)
    if writer is not None:
        writer(json.loads(json.dumps(record, default=str)))  # plain JSON, as the server sends it


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_trace(run_dir: str | Path, name: str = "trace.jsonl") -> list[dict[str, Any]]:
    path = Path(run_dir) / name
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # blank, or torn by a kill mid-write
    return records


def render_report(result: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    """A short human-readable account of the run."""
    verdict = "SUCCESS" if result.get("success") else "FAILURE"
    improvement = result.get("improvement")
    lines = [
        f"# {result['task']}: {verdict}",
        "",
        f"- status: {result['status']}",
        f"- score: {result.get('score')} (baseline {result.get('baseline')}, metric {result.get('metric')}, "
        f"{result.get('direction')} is better)",
        f"- improvement: {'n/a' if improvement is None else f'{improvement:+.1%}'}",
        f"- steps: {result['steps']}, wall time {result['wall_time_s']:.0f} s",
        f"- cost: ${result['cost_usd']:.4f}; escalations {result['escalations']}, "
        f"expert calls {result['expert_calls']}",
    ]
    best, last = result.get("best"), result.get("last")
    if best:
        where = "the untouched baseline" if best["step"] == 0 else f"step {best['step']}"
        lines.append(
            f"- ended on its best validated version, from {where} (validation {best['validation']}); "
            f"the last state scored {last['score'] if last else 'n/a'}"
        )
    if result.get("score_error"):
        lines.append(f"- scoring error: {result['score_error']}")
    lines += [
        "",
        "## Tokens per model",
        "",
        "| model | calls | input | output | $ |",
        "|---|---|---|---|---|",
    ]
    for model, usage in result.get("tokens_per_model", {}).items():
        lines.append(
            f"| {model} | {usage['calls']} | {usage['input_tokens']} | {usage['output_tokens']} "
            f"| {usage['cost_usd']:.4f} |"
        )
    lines += ["", "## Steps", ""]
    for step in steps:
        mark = "ok" if step["ok"] else "FAILED"
        lines.append(f"{step['step']}. **{step['action']}** ({step['model']}, {mark}): {step['thought'][:200]}")
    return "\n".join(lines) + "\n"
