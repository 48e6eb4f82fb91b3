"""`budgetmlagent resume RUN_DIR`: continue a killed run from its last completed graph step."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path


def add_resume_parser(sub: argparse._SubParsersAction) -> None:
    resume = sub.add_parser("resume", help="Continue a run that was killed, from its run folder.")
    resume.add_argument("run_dir", type=Path, help="the run folder (it holds checkpoints.sqlite)")
    resume.add_argument("--json", action="store_true", help="print result.json instead of the summary")
    resume.set_defaults(handler=resume_command)


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
    if not snapshot.next:
        result = snapshot.values.get("result") or {}
        console.print(f"{run_dir} already finished (status {result.get('status', '?')}); nothing to resume.")
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        return 0
    steps_done = len(snapshot.values.get("steps", []))
    ledger = snapshot.values.get("ledger")
    moved = trim_trace(run_dir, steps_done, len(ledger.calls) if ledger is not None else 0)
    console.print(
        f"[bold]resuming[/] {run_dir} after step {steps_done} at {', '.join(snapshot.next)}"
        + (f" ({len(moved)} trace records of the interrupted step set aside)" if moved else "")
    )
    return stream_run(None, ctx, run_dir, console, as_json=args.json)
