"""`budgetmlagent resume RUN_DIR`: continue a killed run from its last completed graph step."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal


def add_resume_parser(sub: argparse._SubParsersAction) -> None:
    resume = sub.add_parser("resume", help="Continue a run that was killed, from its run folder.")
    resume.add_argument("run_dir", type=Path, help="the run folder (it holds checkpoints.sqlite)")
    resume.add_argument("--json", action="store_true", help="print result.json instead of the summary")
    resume.set_defaults(handler=resume_command)


def resume_point(values: dict[str, Any]) -> Literal["finished", "not_started", "resumable"]:
    """Where a run folder's last checkpoint stands. Decided on the result, not on the snapshot's `next`: a kill
    between a node's saved writes and the checkpoint after them leaves `next` empty although the run is not over."""
    if values.get("result"):
        return "finished"
    return "resumable" if values else "not_started"


def resume_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from budgetmlagent.graph import Context, build_graph
    from budgetmlagent.graph.durable import CHECKPOINT_FILE, open_checkpointer, thread_config, trim_trace
    from budgetmlagent.run_command import stream_run

    console = Console(stderr=True, soft_wrap=True)
    run_dir: Path = args.run_dir
    config_file = run_dir / "config.json"
    if not (run_dir / CHECKPOINT_FILE).is_file() or not config_file.is_file():
        console.print(f"[red]error:[/] {run_dir} has no {CHECKPOINT_FILE} and config.json: not a resumable run folder")
        return 2
    saved = json.loads(config_file.read_text(encoding="utf-8"))
    known = {f.name for f in fields(Context)}
    ctx = Context(**{k: v for k, v in saved.items() if k in known})
    checkpointer = open_checkpointer(run_dir)
    try:
        snapshot = build_graph(checkpointer=checkpointer).get_state(thread_config(100))
    finally:
        checkpointer.conn.close()
    where = resume_point(snapshot.values)
    if where == "finished":
        result = snapshot.values["result"]
        console.print(f"{run_dir} already finished (status {result.get('status', '?')}); nothing to resume.")
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        return 0
    if where == "not_started":
        console.print(
            f"[red]error:[/] {run_dir} was stopped before its first checkpoint; nothing to resume: start it again "
            "with `budgetmlagent run` into a new folder"
        )
        return 1
    # get_state's values include the saved writes of tasks that finished before the kill (the resume applies
    # them rather than running those nodes again), so the trace is cut back to exactly what the resume keeps.
    steps_done = len(snapshot.values.get("steps", []))
    ledger = snapshot.values.get("ledger")
    moved = trim_trace(run_dir, steps_done, len(ledger.calls) if ledger is not None else 0)
    console.print(
        f"[bold]resuming[/] {run_dir} after step {steps_done} at {', '.join(snapshot.next) or 'the step it was in'}"
        + (f" ({len(moved)} trace records of the interrupted step set aside)" if moved else "")
    )
    return stream_run(None, ctx, run_dir, console, as_json=args.json)
