"""Command-line entry point: `budgetmlagent models|run|resume|bench|tasks|memory`.

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
# Exit codes, the same for every command (docs/cli.md, "Exit codes"). Errors are one line on stderr; results (and
# with --json one JSON document) go to stdout.
EXIT_OK = 0  # the command did its work (a run ended with a verdict, successful or not)
EXIT_FAILED = 1  # the work failed: a broken task folder or baseline, a run stopped by an error, a failed install
EXIT_USAGE = 2  # refused before anything ran: unknown flag or command, bad setting, preset, model spec, missing key
EXIT_INTERRUPTED = 130  # Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    from budgetmlagent import __version__
    from budgetmlagent.bench_command import add_bench_parser
    from budgetmlagent.memory_command import add_memory_parser
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
    add_memory_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    args.argv = words  # the command line as given (`bench` records it in sweep.json)
    handler = getattr(args, "handler", None)
    if handler is None:  # no command: a usage error, so the help goes to stderr with exit 2 as argparse's do
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: one line that names the failure, never a traceback
        from budgetmlagent.preflight import one_line

        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        print(
            f"error: {one_line(f'{type(exc).__name__}: {exc}')} (set {DEBUG_ENV}=1 to see the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
