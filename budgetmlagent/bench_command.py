"""`budgetmlagent bench`: the paper's Table 2 as a sweep over tasks x configurations x seeds."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator
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
    # Caps default to None: a flag given wins, then BUDGETMLAGENT_<NAME>, then the sweep's default (bench_caps).
    bench.add_argument("--max-steps", type=int, help="step cap per run (default 15)")
    bench.add_argument("--wall-clock", type=float, help="wall-clock cap per run in seconds (default 1800)")
    bench.add_argument("--budget-usd", type=float, help="dollar cap per run (default 2.0)")
    bench.add_argument("--script-timeout", type=float, help="timeout of one script run in seconds (default 300)")
    bench.add_argument("--lifelines", type=int, help="expert calls + top-tier escalations per run (default 5)")
    bench.add_argument("--preset", help="model line-up the configurations draw from (default local)")
    bench.add_argument("--jobs", type=int, default=1, help="cells in parallel (capped at cores/2)")
    bench.add_argument("--out", type=Path, default=Path("runs/bench"), help="sweep folder (re-run to resume)")
    bench.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the cells as Ray tasks: auto (the cluster this machine joined), local (a new one here) or "
        "HOST:PORT; --out and the tasks must be on a path every node sees (docs/ray.md)",
    )
    bench.add_argument("--ray-cpus-per-cell", type=float, default=2.0, help="CPUs Ray reserves a cell (default 2)")
    bench.add_argument("--ray-gpus-per-cell", type=float, default=0.0, help="GPUs Ray reserves a cell (default 0)")
    bench.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Context setting for every run, e.g. use_best_snapshot=false (ablations); repeatable",
    )
    bench.add_argument("--report-only", action="store_true", help="rebuild report.md from results.jsonl")
    bench.add_argument(
        "--json",
        action="store_true",
        help="print the sweep's records and summary as one JSON document (the log still goes to stderr)",
    )
    bench.set_defaults(handler=bench_command)


def note(line: str) -> None:
    """Progress and notes of a sweep: stderr, so stdout holds only the result."""
    print(line, file=sys.stderr, flush=True)


def bench_command(args: argparse.Namespace) -> int:
    from budgetmlagent.benchmarks.harness import RayOptions, Sweep, SweepSettings
    from budgetmlagent.benchmarks.ray_engine import RayUnavailable
    from budgetmlagent.benchmarks.report import write_report
    from budgetmlagent.preflight import BadInput

    try:
        tasks, overrides = check_sweep(args)
        ray = check_ray(args)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if not args.report_only:
        settings = SweepSettings(
            tasks=tasks,
            configs=list(args.configs),
            out=args.out,
            seeds=args.seeds,
            preset=args.preset,
            jobs=args.jobs,
            **bench_caps(args),
            context_overrides=overrides,
            # The harness records it with paths relative to the repository.
            command=shlex.join(["budgetmlagent", *getattr(args, "argv", sys.argv[1:])]),
            ray=None if ray is None else RayOptions(ray, args.ray_cpus_per_cell, args.ray_gpus_per_cell),
        )
        cells = settings.cells()
        note(f"sweep: {len(tasks)} tasks x {len(args.configs)} configs x {args.seeds} seeds = {len(cells)} runs")
        try:
            with sweep_display() as (log, on_cell):
                Sweep(settings, log=log, on_cell=on_cell).run()
        except RayUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    try:
        report = write_report(args.out)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps(sweep_document(args.out, report), indent=2, default=str))
    else:
        print(f"report: {report}")
    return 0


@contextlib.contextmanager
def sweep_display() -> Iterator[tuple[Callable[[str], None], Callable[[Any], None] | None]]:
    """(log, on_cell) for a sweep: on a terminal a progress bar (cells done/total, elapsed, time left,
    successes) under the log lines; without one (CI, a log file) plain lines, each with the same tally."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
    if not console.is_terminal:
        yield note, None
        return
    columns = (
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[left]} | {task.fields[successes]} successes"),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("sweep", total=None, left="", successes=0)

        def on_cell(tally: Any) -> None:
            left = "" if tally.left_s is None else f"~{tally.left_s / 60:.0f} min left"
            bar.update(task, total=tally.total, completed=tally.done, successes=tally.successes, left=left)

        yield (lambda line: bar.console.print(escape(line))), on_cell


def sweep_document(out: Path, report: Path) -> dict[str, Any]:
    """What `bench --json` prints: the sweep folder, its report, one record per finished cell and the summary."""
    from budgetmlagent.benchmarks.harness import RESULTS_FILE, SWEEP_FILE, load_results

    def read(name: str) -> Any:
        path = out / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    return {
        "out": str(out),
        "report": str(report),
        "results_file": str(out / RESULTS_FILE),
        "sweep": read(SWEEP_FILE),
        "summary": read("summary.json"),
        "records": list(load_results(out).values()),
    }


def check_sweep(args: argparse.Namespace) -> tuple[list[Path], dict[str, Any]]:
    """Task folders and `--set` overrides of a sweep, after refusing anything that would fail every cell."""
    from budgetmlagent.benchmarks.configs import ConfigError, parse_config
    from budgetmlagent.preflight import BadInput, static_task_problems
    from budgetmlagent.runtime.context import parse_settings
    from budgetmlagent.runtime.presets import PresetError, resolve_preset
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.task_check import resolve_task

    try:
        args.preset = args.preset or setting_from_environment("preset") or "local"
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


def check_ray(args: argparse.Namespace) -> str | None:
    """The --ray address, after refusing what cannot work (no Ray installed, no CPUs a cell); None without --ray."""
    from budgetmlagent.preflight import BadInput

    address = getattr(args, "ray", None)
    if address is None or args.report_only:
        return None
    if args.ray_cpus_per_cell <= 0 or args.ray_gpus_per_cell < 0:
        raise BadInput("--ray-cpus-per-cell must be above 0 and --ray-gpus-per-cell 0 or more")
    try:
        import ray  # noqa: F401
    except ImportError:
        from budgetmlagent.benchmarks.ray_engine import INSTALL_HINT

        raise BadInput(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return str(address)


def setting_from_environment(name: str) -> Any:
    """BUDGETMLAGENT_<NAME>, typed, or None when unset; ValueError says what was expected."""
    from budgetmlagent.runtime.context import coerce_setting

    text = os.environ.get(f"BUDGETMLAGENT_{name.upper()}")
    if text is None:
        return None
    try:
        return coerce_setting(name, text)
    except ValueError as exc:
        raise ValueError(f"$BUDGETMLAGENT_{name.upper()}={text!r}: {exc}; fix or unset the variable") from None


def bench_caps(args: argparse.Namespace) -> dict[str, Any]:
    """Every run's caps: a flag given > BUDGETMLAGENT_<NAME> > the sweep's own default (SweepSettings')."""
    from budgetmlagent.benchmarks.harness import SweepSettings
    from budgetmlagent.preflight import run_caps

    caps = run_caps(args)
    for name in SweepSettings.CAP_NAMES:
        if name not in caps:
            from_environment = setting_from_environment(name)
            caps[name] = (
                SweepSettings.__dataclass_fields__[name].default if from_environment is None else from_environment
            )
    return caps


def check_cell_settings(args: argparse.Namespace, settings: dict[str, Any], config_name: str) -> None:
    """The Context one configuration's cells will run with (as the harness builds it) is usable."""
    from budgetmlagent.graph import Context
    from budgetmlagent.preflight import BadInput, check_context, check_local_models_installed

    try:
        ctx = Context(**(bench_caps(args) | settings))
        check_context(ctx)
        check_local_models_installed(ctx)
    except ValueError as exc:  # a BUDGETMLAGENT_* variable that does not parse
        raise BadInput(str(exc)) from None
    except BadInput as exc:
        raise BadInput(f"configuration {config_name}: {exc}") from None
