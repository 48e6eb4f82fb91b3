"""`budgetmlagent memory list|show|export|clear`: the experience store that runs learn from (docs/experience.md).

Reads the store's plain JSON records only: no index is opened and no embedding model loaded, so it is instant."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from budgetmlagent.tasks_command import print_json

INSTRUCTION_SHOWN = 70


def add_memory_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    memory = sub.add_parser(
        "memory",
        help="List, show, export or clear the experience store that runs learn from.",
        description="The experience store: one JSON record per measured change and per run (docs/experience.md).",
    )
    actions = memory.add_subparsers(dest="memory_command", metavar="ACTION")
    listing = actions.add_parser("list", help="one line per record, oldest first")
    show = actions.add_parser("show", help="one record in full")
    show.add_argument("record_id", metavar="ID", help="a record's id, as `memory list` prints it")
    export = actions.add_parser("export", help="every record as one JSON document")
    export.add_argument("--out", type=Path, default=None, help="write the document to this file (default: stdout)")
    clear = actions.add_parser("clear", help="remove every record and the index")
    clear.add_argument("--yes", action="store_true", help="really remove them (without it, nothing is removed)")
    for action, handler in ((listing, _list), (show, _show), (export, _export), (clear, _clear)):
        action.add_argument(
            "--dir", type=Path, default=None, help="the store's folder (default: the experience_dir setting)"
        )
        action.add_argument("--json", action="store_true", help="print the result as one JSON document")
        action.set_defaults(handler=handler)
    memory.set_defaults(handler=lambda args: _missing_action(memory))


def _missing_action(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def store_dir(args: argparse.Namespace) -> Path:
    """--dir, else the experience_dir setting (BUDGETMLAGENT_EXPERIENCE_DIR, else the user's cache)."""
    if args.dir is not None:
        return Path(args.dir).expanduser()
    from budgetmlagent.runtime.context import Context

    return Path(Context().experience_dir).expanduser()


def _records(args: argparse.Namespace) -> tuple[Path, list[dict[str, Any]]]:
    from budgetmlagent.memory.experience import read_records, record_json

    path = store_dir(args)
    return path, [record_json(r) for r in read_records(path)]


def _list(args: argparse.Namespace) -> int:
    path, records = _records(args)
    if args.json:
        print_json({"dir": str(path), "count": len(records), "records": records})
        return 0
    for r in records:
        print(_line(r))
    print(f"{len(records)} record(s) in {path}")
    return 0


def _line(record: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(record["time"]))
    if record["kind"] == "run":
        verdict = "SUCCESS" if record["success"] else "FAILURE"
        first = record["first_success_step"]
        told = f"{verdict}, {record['steps']} steps, +10 % at step {first}" if first else f"{verdict}, no +10 %"
        return f"{record['id']}  {when}  run     {record['task']}: {told}; used {len(record['used'])} learned"
    effect = "failed" if not record["ran"] else ("n/a" if record["effect"] is None else f"{record['effect']:+.1%}")
    said = " ".join(record["instruction"].split())
    said = said if len(said) <= INSTRUCTION_SHOWN else said[: INSTRUCTION_SHOWN - 3] + "..."
    return f"{record['id']}  {when}  change  {record['task']}: {effect:>7} by {record['author']}: {said}"


def _show(args: argparse.Namespace) -> int:
    path, records = _records(args)
    found = next((r for r in records if r["id"] == args.record_id), None)
    if found is None:
        print(
            f"error: no record {args.record_id!r} in {path} (`budgetmlagent memory list` names them)", file=sys.stderr
        )
        return 1
    if args.json:
        print_json(found)
        return 0
    for key, value in found.items():
        if key == "fingerprint":
            for part, text in value.items():
                print(f"fingerprint.{part}: {text}")
        elif key == "fragment" and value:
            print("fragment:\n    " + "\n    ".join(str(value).splitlines()))
        else:
            print(f"{key}: {value}")
    return 0


def _export(args: argparse.Namespace) -> int:
    path, records = _records(args)
    document = {"dir": str(path), "exported_at": time.time(), "count": len(records), "records": records}
    if args.out is None:
        print_json(document)
        return 0
    import json

    args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print_json({"dir": str(path), "out": str(args.out), "count": len(records)})
    else:
        print(f"{len(records)} record(s) written to {args.out}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    from budgetmlagent.memory.experience import clear_store

    path, records = _records(args)
    if not args.yes:
        print(f"error: this would remove {len(records)} record(s) from {path}; add --yes to do it", file=sys.stderr)
        return 2
    removed = clear_store(path) if path.exists() else 0
    if args.json:
        print_json({"dir": str(path), "removed": removed})
    else:
        print(f"removed {removed} record(s) and the index from {path}")
    return 0
