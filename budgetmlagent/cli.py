"""Command-line entry point: `budgetmlagent models|run|resume|bench|tasks`.

Heavy modules (torch, chromadb, langchain) are imported inside the command handlers so that
`budgetmlagent --help` stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

DEBUG_ENV = "BUDGETMLAGENT_DEBUG"


def build_parser() -> argparse.ArgumentParser:
    from budgetmlagent import __version__
    from budgetmlagent.bench_command import add_bench_parser
    from budgetmlagent.models_command import add_models_parser
    from budgetmlagent.resume_command import add_resume_parser
    from budgetmlagent.run_command import add_run_parser
    from budgetmlagent.tasks_command import add_tasks_parser

    parser = argparse.ArgumentParser(
        prog="budgetmlagent",
        description="Cost-effective LLM agents that improve ML tasks (MLAgentBench form).",
    )
    parser.add_argument("--version", action="version", version=f"budgetmlagent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_models_parser(sub)
    add_run_parser(sub)
    add_resume_parser(sub)
    add_bench_parser(sub)
    add_tasks_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the last line of defence: one line that names the failure, never a traceback
        from budgetmlagent.preflight import one_line

        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        print(
            f"error: {one_line(f'{type(exc).__name__}: {exc}')} (set {DEBUG_ENV}=1 to see the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
