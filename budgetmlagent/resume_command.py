"""`budgetmlagent resume RUN_DIR`: continue a killed run from its last completed graph step."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from budgetmlagent.runtime.context import Context


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

    from budgetmlagent.preflight import BadInput, check_context, check_local_models_installed
    from budgetmlagent.run_command import escape, show_error, stream_run
    from budgetmlagent.runtime.durable import trim_trace

    console = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)
    run_dir: Path = args.run_dir
    try:
        values, next_nodes = saved_state(run_dir)
        where = resume_point(values)
        ctx = saved_context(run_dir) if where == "resumable" else None
        if ctx is not None:
            check_context(ctx)  # the keys and models of a run started elsewhere, or in another shell
            check_local_models_installed(ctx)
    except BadInput as exc:
        return show_error(console, str(exc), exc.exit_code)
    if where == "finished":
        result = values["result"]
        status = result.get("status", "?")
        console.print(f"{escape(str(run_dir))} already finished (status {status}); nothing to resume.")
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        return 0
    if where == "not_started":
        return show_error(
            console,
            f"{run_dir} was stopped before its first checkpoint; nothing to resume: start it again with "
            "`budgetmlagent run` into a new folder",
            1,
        )
    if ctx is None:
        return show_error(console, f"{run_dir} has lost its config.json, so the run's settings are unknown", 1)
    # get_state's values include the saved writes of tasks that finished before the kill (the resume applies
    # them rather than running those nodes again), so the trace is cut back to exactly what the resume keeps.
    steps_done = len(values.get("steps", []))
    ledger = values.get("ledger")
    moved = trim_trace(run_dir, steps_done, len(ledger.calls) if ledger is not None else 0)
    console.print(
        f"[bold]resuming[/] {escape(str(run_dir))} after step {steps_done} at "
        f"{', '.join(next_nodes) or 'the step it was in'}"
        + (f" ({len(moved)} trace records of the interrupted step set aside)" if moved else "")
    )
    return stream_run(None, ctx, run_dir, console, as_json=args.json)


def saved_state(run_dir: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The last checkpoint's values and next nodes; BadInput when the folder holds no readable checkpoints."""
    import sqlite3

    from budgetmlagent.graph import build_graph
    from budgetmlagent.preflight import BadInput
    from budgetmlagent.runtime.durable import CHECKPOINT_FILE, open_checkpointer, thread_config

    if not (run_dir / CHECKPOINT_FILE).is_file():
        raise BadInput(f"{run_dir} has no {CHECKPOINT_FILE}: not a resumable run folder (give the folder `run` made)")
    try:
        checkpointer = open_checkpointer(run_dir)
    except sqlite3.Error as exc:
        raise BadInput(f"{run_dir / CHECKPOINT_FILE} cannot be opened ({exc}); the run cannot be resumed") from None
    try:
        snapshot = build_graph(checkpointer=checkpointer).get_state(thread_config(100))
    except (sqlite3.Error, ValueError, TypeError) as exc:  # a damaged file, or checkpoints of another program
        raise BadInput(
            f"{run_dir / CHECKPOINT_FILE} is unreadable ({type(exc).__name__}: {exc}); the run cannot be resumed: "
            "start it again with `budgetmlagent run` into a new folder",
            exit_code=1,
        ) from None
    finally:
        checkpointer.conn.close()
    return dict(snapshot.values), tuple(snapshot.next)


def saved_context(run_dir: Path) -> Context | None:
    """The settings the run was started with (config.json, written by its first step); None before that."""
    from budgetmlagent.graph import Context
    from budgetmlagent.preflight import BadInput

    config_file = run_dir / "config.json"
    if not config_file.is_file():
        return None
    try:
        saved = json.loads(config_file.read_text(encoding="utf-8"))
        if not isinstance(saved, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in fields(Context)} - {"chat_model_factory"}
        return Context(**{k: v for k, v in saved.items() if k in known})
    except (OSError, ValueError, TypeError) as exc:
        raise BadInput(
            f"{config_file} is damaged ({exc}); the run's settings are lost, so it cannot be resumed", exit_code=1
        ) from None
