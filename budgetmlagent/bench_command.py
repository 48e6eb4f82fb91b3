"""`budgetmlagent bench`: the paper's Table 2 as a sweep over tasks x configurations x seeds."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

DEFAULT_TASKS = ("titanic", "adult-income", "telecom-churn", "food-review-sentiment", "vectorize-conv2d")


def add_bench_parser(sub: argparse._SubParsersAction) -> None:
    from budgetmlagent.benchmarks.configs import CONFIG_HELP, DEFAULT_CONFIGS

    configs = "; ".join(f"{name}: {text}" for name, text in CONFIG_HELP.items())
    bench = sub.add_parser(
        "bench",
        help="Run tasks x configurations x seeds and report success rate, cost and tokens.",
        description=f"Configurations ({configs}). Append +R to any for retrieval of past observations.",
    )
    bench.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS), help="bundled task names or folders")
    bench.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS), help="e.g. cascade+expert+R")
    bench.add_argument("--seeds", type=int, default=1, help="runs per task and configuration")
    bench.add_argument("--max-steps", type=int, default=15, help="step cap per run")
    bench.add_argument("--wall-clock", type=float, default=1800, help="wall-clock cap per run (s)")
    bench.add_argument("--budget-usd", type=float, default=2.0, help="dollar cap per run")
    bench.add_argument("--script-timeout", type=float, default=300, help="timeout of one script run (s)")
    bench.add_argument("--lifelines", type=int, default=5)
    bench.add_argument("--preset", default="local", help="model line-up the configurations draw from")
    bench.add_argument("--jobs", type=int, default=1, help="cells in parallel (capped at cores/2)")
    bench.add_argument("--out", type=Path, default=Path("runs/bench"), help="sweep folder (re-run to resume)")
    bench.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Context setting for every run, e.g. use_best_snapshot=false (ablations); repeatable",
    )
    bench.add_argument("--report-only", action="store_true", help="rebuild report.md from results.jsonl")
    bench.set_defaults(handler=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    from budgetmlagent.benchmarks.harness import Sweep, SweepSettings
    from budgetmlagent.benchmarks.report import write_report
    from budgetmlagent.preflight import BadInput, run_caps

    try:
        tasks, overrides = check_sweep(args)
    except BadInput as exc:
        print(f"error: {exc}")
        return exc.exit_code
    if not args.report_only:
        settings = SweepSettings(
            tasks=tasks,
            configs=list(args.configs),
            out=args.out,
            seeds=args.seeds,
            preset=args.preset,
            jobs=args.jobs,
            **run_caps(args),
            context_overrides=overrides,
            command=" ".join(["budgetmlagent", *(shlex.quote(a) for a in sys.argv[1:])]),
        )
        cells = settings.cells()
        print(f"sweep: {len(tasks)} tasks x {len(args.configs)} configs x {args.seeds} seeds = {len(cells)} runs")
        Sweep(settings, log=lambda line: print(line, flush=True)).run()
    try:
        report = write_report(args.out)
    except ValueError as exc:
        print(f"error: {exc}")
        return 1
    print(f"report: {report}")
    return 0


def check_sweep(args: argparse.Namespace) -> tuple[list[Path], dict[str, Any]]:
    """Task folders and `--set` overrides of a sweep, after refusing anything that would fail every cell."""
    from budgetmlagent.benchmarks.configs import ConfigError, parse_config
    from budgetmlagent.preflight import BadInput, static_task_problems
    from budgetmlagent.runtime.context import parse_settings
    from budgetmlagent.runtime.presets import PresetError, resolve_preset
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.task_check import resolve_task

    try:
        tasks = [resolve_task(name) for name in args.tasks]
        configs = [parse_config(name) for name in args.configs]
        resolve_preset(args.preset)
        overrides = parse_settings(args.set)
    except (TaskError, ConfigError, PresetError, ValueError) as exc:
        raise BadInput(str(exc)) from None
    for flag, value in (("--seeds", args.seeds), ("--jobs", args.jobs)):
        if value < 1:
            raise BadInput(f"{flag} {value}: must be 1 or more")
    for path in tasks:
        problems = static_task_problems(path)
        if problems:
            raise BadInput(f"task {path.name}: {problems[0]} (`budgetmlagent tasks check {path}` lists all)")
    if not args.report_only:
        for config in configs:
            check_cell_settings(args, config.context_settings(args.preset) | overrides, config.name)
    return tasks, overrides


def check_cell_settings(args: argparse.Namespace, settings: dict[str, Any], config_name: str) -> None:
    """The Context one configuration's cells will run with (as the harness builds it) is usable."""
    from budgetmlagent.graph import Context
    from budgetmlagent.preflight import BadInput, check_context, check_local_models_installed, run_caps

    try:
        ctx = Context(**(run_caps(args) | settings))
        check_context(ctx)
        check_local_models_installed(ctx)
    except ValueError as exc:  # a BUDGETMLAGENT_* variable that does not parse
        raise BadInput(str(exc)) from None
    except BadInput as exc:
        raise BadInput(f"configuration {config_name}: {exc}") from None
