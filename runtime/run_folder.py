"""The run folder: config.json, trace.jsonl (a line per step and per LLM call), result.json, report.md."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


def append_trace(run_dir: str | None, record: dict[str, Any]) -> None:
    """Append one JSON line; written as it happens so a killed run keeps its trace."""
    if not run_dir:
        return
    record = {"time": round(time.time(), 3), **record}
    append_line(Path(run_dir) / "trace.jsonl", json.dumps(record, default=str))


def append_line(path: Path, line: str) -> None:
    """Append `line` with one write(2) on an O_APPEND descriptor: a kill leaves the line whole or absent.

    A line torn earlier (a full disk, a crash of another writer) is closed first, so it spoils only itself and
    never the record appended after it."""
    data = (line + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
        written = os.write(fd, data)
        while written < len(data):  # a short write (signal, full pipe): finish the same line
            written += os.write(fd, data[written:])
    finally:
        os.close(fd)


def emit(runtime: Any, run_dir: str | None, record: dict[str, Any]) -> None:
    """Append a trace record and stream it live (stream_mode="custom"): step, action, model, cost."""
    append_trace(run_dir, record)
    writer = getattr(runtime, "stream_writer", None)
    if writer is not None:
        writer(json.loads(json.dumps(record, default=str)))  # plain JSON, as the server sends it


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """A temporary file in the same folder, then os.replace, so a reader (or a kill) sees the old file or the
    new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_trace(run_dir: str | Path, name: str = "trace.jsonl") -> list[dict[str, Any]]:
    """The trace's records; blank lines, lines torn by a kill mid-write and non-record lines are skipped."""
    path = Path(run_dir) / name
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # blank, or torn by a kill mid-write
        if isinstance(record, dict):
            records.append(record)
    return records


RECIPE_SOURCE = "recipe (no model)"
LEARNED_SOURCE = "learned (no model)"  # a change an earlier run measured, taken as its own code
SCAFFOLD_SOURCE = "scaffold"
REPORT_CHANGE_CHARS = 160


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
    if result.get("baseline_source"):
        lines.append(f"- baseline: {result['baseline_source']}")
    if result.get("fallback"):
        lines.append(f"- {result['fallback']}")
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


def render_changes(rows: list[tuple[int, str, str, str, bool]]) -> str:
    """The report's account of every change (step, who proposed it, what, what it measured, whether it beat the best
    before it): the recipes taken without a model apart from what the models proposed beyond them."""
    if not rows:
        return ""
    by_models = [row for row in rows if row[1] not in (RECIPE_SOURCE, LEARNED_SOURCE, SCAFFOLD_SOURCE)]
    lines = [
        "",
        "## Changes and what each measured",
        "",
        f"Beyond the recipes the models proposed {len(by_models)} change(s); "
        f"{sum(1 for row in by_models if row[4])} measured better than the best version before them.",
        "",
        "| step | proposed by | change | measured | better |",
        "|---|---|---|---|---|",
    ]
    for step, source, change, outcome, better in rows:
        said = " ".join(change.split()).replace("|", "/")
        said = said if len(said) <= REPORT_CHANGE_CHARS else said[: REPORT_CHANGE_CHARS - 3] + "..."
        lines.append(f"| {step} | {source} | {said} | {outcome.replace('|', '/')} | {'yes' if better else ''} |")
    return "\n".join(lines) + "\n"


def render_experience(result: dict[str, Any]) -> str:
    """The report's account of experience across runs: when the run first beat the bar, which past changes it was
    offered (and warned of) from the experience store, and which of them it made."""
    experience = result.get("experience") or {}
    step = result.get("first_success_step")
    first = (
        f"first reached +10 % on the validation metric at step {step} ({result.get('first_success_s')} s)"
        if step is not None
        else "never reached +10 % on the validation metric"
    )
    status = experience.get("status", "off")
    lines = ["", "## Experience from earlier runs", "", f"- This run {first}.", f"- Experience store: {status}."]
    if status == "off":
        return "\n".join(lines) + "\n"
    used = set(experience.get("used", []))
    offered, warnings = experience.get("offered", []), experience.get("warnings", [])
    lines.append(f"- Offered {len(offered)} learned change(s), used {len(used)}; warned of {len(warnings)}.")
    if offered or warnings:
        lines += ["", "| record | from | change | measured there | code | used |", "|---|---|---|---|---|---|"]
    for offer in [*offered, *warnings]:
        said = " ".join(str(offer["instruction"]).split()).replace("|", "/")
        said = said if len(said) <= REPORT_CHANGE_CHARS else said[: REPORT_CHANGE_CHARS - 3] + "..."
        where = "this task" if offer["same_task"] else offer["task"]
        effect = "failed" if offer["effect"] is None else f"{offer['effect']:+.1%}"
        mark = "yes" if offer["id"] in used else ("warning" if offer in warnings else "")
        lines.append(f"| {offer['id']} | {where} | {said} | {effect} | {'yes' if offer['code'] else ''} | {mark} |")
    return "\n".join(lines) + "\n"
