"""The sweep: tasks x configurations x seeds, one agent run per cell, resumable, results in results.jsonl."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shlex
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from budgetmlagent.benchmarks.configs import BenchConfig, parse_config
from budgetmlagent.benchmarks.trace_stats import run_stats

RESULTS_FILE = "results.jsonl"
SWEEP_FILE = "sweep.json"
# A crashed cell is tried once more, then recorded as failed with its error (the sweep goes on).
MAX_ATTEMPTS = 2
# One llama.cpp server uses 2 threads: more parallel cells than cores/2 only oversubscribe the CPU.
THREADS_PER_CELL = 2
_PATH_CHARS = r"[\w./~-]"  # a character that may precede a path component: the root must not start mid-path


def repo_root() -> Path | None:
    """The checkout this package runs from (the folder holding its pyproject.toml); None for an installed copy."""
    root = Path(__file__).resolve().parents[1]
    pyproject = root / "pyproject.toml"
    try:
        if pyproject.is_file() and 'name = "budgetmlagent"' in pyproject.read_text(encoding="utf-8"):
            return root
    except OSError:
        pass
    return None


def _anchors() -> list[Path]:
    """Folders paths are recorded relative to, in order of preference: the repository, then the working folder
    (never the file-system root: `/` as the working folder would make every path relative)."""
    return [root for root in (repo_root(), Path.cwd().resolve()) if root is not None and root != Path(root.anchor)]


def relative_to_repo(path: str | os.PathLike[str]) -> str:
    """`path` as committed results record it: relative to the repository root (or, outside the repository, to the
    working folder) in POSIX form; absolute only for a path outside both."""
    absolute = Path(os.path.abspath(Path(path).expanduser()))
    candidates = [absolute]
    with contextlib.suppress(OSError, RuntimeError):  # a link loop
        candidates.append(absolute.resolve())  # /tmp -> /private/tmp and other links
    for anchor in _anchors():
        for candidate in candidates:
            if candidate.is_relative_to(anchor):
                return candidate.relative_to(anchor).as_posix() or "."
    return str(absolute)


def relative_paths_in(text: str) -> str:
    """Text (an error message, a traceback) with absolute paths under the repository or working folder made relative."""
    for anchor in _anchors():
        prefix = str(anchor).rstrip(os.sep) + os.sep
        text = re.sub(rf"(?<!{_PATH_CHARS}){re.escape(prefix)}", "", text)
    return text


def relative_record(value: Any) -> Any:
    """A results record (or any JSON value) with `relative_paths_in` applied to every string in it."""
    if isinstance(value, str):
        return relative_paths_in(value)
    if isinstance(value, dict):
        return {key: relative_record(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [relative_record(item) for item in value]
    return value


def relative_command(command: str) -> str:
    """A recorded command line with every absolute path argument (`/a/b`, `--out=/a/b`) made `relative_to_repo`."""
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes: leave the words alone, shorten the paths in the text
        return relative_paths_in(command)

    def shorten(word: str) -> str:
        flag, eq, value = word.partition("=")
        if eq and flag.startswith("-") and os.path.isabs(value):
            return f"{flag}={relative_to_repo(value)}"
        return relative_to_repo(word) if os.path.isabs(word) else word

    return shlex.join(shorten(word) for word in words)


@dataclass(frozen=True)
class Cell:
    """One agent run of the sweep."""

    task: str
    task_dir: Path
    config: BenchConfig
    seed: int

    @property
    def key(self) -> str:
        return f"{self.task}/{self.config.name}/seed{self.seed}"


@dataclass(frozen=True)
class RayOptions:
    """Where and with what resources `bench --ray` runs each cell (see docs/ray.md)."""

    address: str  # "auto" (the cluster this machine belongs to), "local" (start one here) or host:port
    cpus_per_cell: float = THREADS_PER_CELL  # the cell's share of its node's model server, and its scripts
    gpus_per_cell: float = 0
    # Times Ray runs a cell again after its worker process or node died (it resumes from its checkpoint).
    max_retries: int = 3


@dataclass
class SweepSettings:
    """What to sweep and the caps of every run."""

    tasks: list[Path]
    configs: list[str]
    out: Path
    seeds: int = 1
    max_steps: int = 15
    preset: str = "local"
    jobs: int = 1
    wall_clock_s: float = 1800
    budget_usd: float = 2.0
    script_timeout_s: float = 300
    lifelines: int = 5
    command: str = ""  # the command line, recorded in sweep.json
    # Extra Context fields for every run (tests pass scripted models here).
    context_overrides: dict[str, Any] = field(default_factory=dict)
    # The Ray cluster that runs the cells (benchmarks/ray_engine.py); None runs them here, in threads.
    ray: RayOptions | None = None

    CAP_NAMES: ClassVar[tuple[str, ...]] = ("max_steps", "budget_usd", "wall_clock_s", "script_timeout_s", "lifelines")

    def caps(self) -> dict[str, Any]:
        """The caps every run of the sweep shares, as Context settings."""
        return {name: getattr(self, name) for name in self.CAP_NAMES}

    def cells(self) -> list[Cell]:
        configs = [parse_config(name) for name in self.configs]
        return [
            Cell(task=path.name, task_dir=path, config=config, seed=seed)
            for path in self.tasks
            for config in configs
            for seed in range(self.seeds)
        ]


CellRunner = Callable[[Cell, SweepSettings, Path], dict[str, Any]]


def cell_context(cell: Cell, settings: SweepSettings, run_dir: Path) -> Any:
    """The Context a cell runs with: the sweep's caps, the configuration's models, then the overrides."""
    from budgetmlagent.graph import Context

    values: dict[str, Any] = settings.caps() | {
        "seed": cell.seed,
        # Each cell remembers only its own steps: memory shared across cells would leak between configs.
        "memory_dir": str(run_dir / "memory"),
    }
    return Context(**(values | cell.config.context_settings(settings.preset) | settings.context_overrides))


def local_models(settings: SweepSettings) -> set[str]:
    """The catalogue names of the local models the sweep's cells call (none when tests script the models)."""
    names: set[str] = set()
    for config in (parse_config(name) for name in settings.configs):
        context = cell_context(Cell("", Path("."), config, 0), settings, Path("."))
        if context.chat_model_factory is not None:
            continue
        specs = [spec for specs in context.public_dict()["models"].values() for spec in (specs or [])]
        names |= {spec.removeprefix("local:") for spec in specs if isinstance(spec, str) and spec.startswith("local:")}
    return names


def run_agent_cell(cell: Cell, settings: SweepSettings, run_dir: Path) -> dict[str, Any]:
    """Run the agent graph on one cell in this process, with a SQLite checkpointer in its run folder: a run
    folder that already holds checkpoints (its sweep or worker was killed) continues from its last step."""
    from budgetmlagent.graph import build_graph, recursion_limit
    from budgetmlagent.runtime.durable import open_checkpointer, thread_config, trim_trace

    context = cell_context(cell, settings, run_dir)
    checkpointer = open_checkpointer(run_dir)
    try:
        graph = build_graph(checkpointer=checkpointer)
        config = thread_config(recursion_limit(context.max_steps))
        saved = graph.get_state(config).values
        if saved.get("result"):  # finished, but killed before the sweep recorded it: nothing to run again
            return dict(saved["result"]) | {"resumed_after_step": len(saved.get("steps", []))}
        payload: dict[str, Any] | None = {"task_dir": str(cell.task_dir), "run_dir": str(run_dir)}
        if saved:
            # As `budgetmlagent resume` does: the trace keeps what the checkpoint holds; the calls of the
            # interrupted step move aside, where the result counts their dollars once.
            ledger = saved.get("ledger")
            trim_trace(run_dir, len(saved.get("steps", [])), len(ledger.calls) if ledger is not None else 0)
            payload = None
        state = graph.invoke(payload, context=context, config=config)
    finally:
        checkpointer.conn.close()
    result = state.get("result")
    if not result:
        raise RuntimeError(f"the run of {cell.key} ended without a result (status {state.get('status')})")
    return dict(result) | ({"resumed_after_step": len(saved.get("steps", []))} if saved else {})


def resumable(run_dir: Path) -> bool:
    """A run folder a killed sweep or worker left behind, which the next attempt continues: it holds at least
    one checkpoint and no crash report (a crashed attempt starts afresh, as it did before checkpoints)."""
    import sqlite3

    from budgetmlagent.runtime.durable import CHECKPOINT_FILE

    path = run_dir / CHECKPOINT_FILE
    if not path.is_file() or any(run_dir.glob("crash-*.txt")):
        return False
    # read-only: a damaged file is set aside with the folder, never repaired here; resolved: `--out` may be relative
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            return conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return False


def load_results(out: Path) -> dict[str, dict[str, Any]]:
    """Finished cells of a sweep folder by key; a torn last line (killed sweep) is ignored."""
    path = out / RESULTS_FILE
    done: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "key" in record:
            done[record["key"]] = record
    return done


def _drop_torn_tail(path: Path) -> None:
    """Cut a half-written last line (the sweep was killed mid-write) so new lines start clean."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def effective_jobs(requested: int, cpu_count: int | None = None) -> int:
    """Parallel cells, capped so the local model servers and scripts do not oversubscribe the CPU."""
    cores = cpu_count or os.cpu_count() or 1
    return max(1, min(requested, cores // THREADS_PER_CELL))


def machine_facts() -> dict[str, Any]:
    """The hardware a sweep ran on (results are only comparable on the same kind of machine)."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory_gib = round(pages * page_size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    gpu = shutil.which("nvidia-smi") is not None
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "gpu_visible": gpu,
    }


@dataclass
class Tally:
    """How far a sweep is: cells done of all (earlier runs' included), successes, time spent and time left."""

    total: int
    done: int = 0
    successes: int = 0
    done_here: int = 0  # cells this process finished: the pace of the time-left estimate
    started: float = field(default_factory=time.monotonic)

    def add(self, record: dict[str, Any]) -> None:
        self.done, self.done_here = self.done + 1, self.done_here + 1
        self.successes += bool(record.get("success"))

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def left_s(self) -> float | None:
        """Cells left times this process's mean seconds per cell (None until one has finished)."""
        if not self.done_here:
            return None
        return (self.total - self.done) * self.elapsed_s / self.done_here

    def line(self) -> str:
        left = "" if self.left_s is None else f", about {self.left_s / 60:.0f} min left"
        return (
            f"{self.done}/{self.total} cells done, {self.successes} successes, "
            f"{self.elapsed_s / 60:.0f} min elapsed{left}"
        )


class Sweep:
    """Runs the cells not yet in results.jsonl; appends one line per finished cell."""

    def __init__(
        self,
        settings: SweepSettings,
        runner: CellRunner = run_agent_cell,
        log: Callable[[str], None] = print,
        on_cell: Callable[[Tally], None] | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.log = log
        self.on_cell = on_cell  # called after every finished cell (the CLI's progress bar)
        self.tally = Tally(total=0)
        self._lock = threading.Lock()

    def run(self) -> list[dict[str, Any]]:
        out = self.settings.out
        out.mkdir(parents=True, exist_ok=True)
        self._write_sweep_file()
        _drop_torn_tail(out / RESULTS_FILE)
        done = load_results(out)
        cells = self.settings.cells()
        todo = [cell for cell in cells if cell.key not in done]
        finished_before = [done[cell.key] for cell in cells if cell.key in done]
        self.tally = Tally(total=len(cells), done=len(finished_before))
        self.tally.successes = sum(bool(record.get("success")) for record in finished_before)
        if self.on_cell is not None:
            self.on_cell(self.tally)
        if len(todo) < len(cells):
            self.log(f"resuming: {len(cells) - len(todo)} of {len(cells)} cells already finished")
        if self.settings.ray is not None:
            from budgetmlagent.benchmarks.ray_engine import run_on_ray

            run_on_ray(todo, self.settings, self.runner, log=self.log, on_record=self._add)
        else:
            jobs = effective_jobs(self.settings.jobs)
            if jobs < self.settings.jobs:
                self.log(f"--jobs {self.settings.jobs} capped to {jobs} on {os.cpu_count()} cores")
            if jobs == 1:
                for cell in todo:
                    self._run_cell(cell)
            else:
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    list(pool.map(self._run_cell, todo))
        finished = load_results(out)
        return [finished[cell.key] for cell in cells if cell.key in finished]

    def _write_sweep_file(self) -> None:
        s = self.settings
        facts = {
            # Relative to the repository, so committed results do not carry the paths of the machine that ran them.
            "tasks": [relative_to_repo(p) for p in s.tasks],
            "configs": s.configs,
            "seeds": s.seeds,
            "preset": s.preset,
            "jobs": s.jobs,
            **s.caps(),
            "settings": relative_record(
                {k: v for k, v in s.context_overrides.items() if isinstance(v, str | int | float | bool)}
            ),
            "command": relative_command(s.command),
            "machine": machine_facts(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        }
        if s.ray is not None:  # the driver's machine above; the cells ran on the cluster's nodes
            facts["ray"] = {k: v for k, v in vars(s.ray).items() if k != "address"}
        path = s.out / SWEEP_FILE
        if path.exists():  # keep the first start; note the resumptions
            previous = json.loads(path.read_text(encoding="utf-8"))
            facts["started"] = previous.get("started", facts["started"])
            facts["resumed"] = [*previous.get("resumed", []), time.strftime("%Y-%m-%d %H:%M:%S %Z")]
        path.write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")

    def _run_cell(self, cell: Cell) -> dict[str, Any]:
        record = execute_cell(cell, self.settings, self.runner, self.log)
        self._add(record)
        return record

    def _add(self, record: dict[str, Any]) -> None:
        """Append a finished cell's line to results.jsonl (the driver's only write), then report progress."""
        with self._lock, (self.settings.out / RESULTS_FILE).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
            self.tally.add(record)
        word = "SUCCESS" if record["success"] else "failure"
        self.log(
            f"[{record['key']}] {word} ({record['status']}) score {record.get('score')} vs {record.get('baseline')}"
            f" | {self.tally.line()}"
        )
        if self.on_cell is not None:
            self.on_cell(self.tally)


def cell_dir(cell: Cell, settings: SweepSettings) -> Path:
    return settings.out / "runs" / cell.task / cell.config.name / f"seed{cell.seed}"


def execute_cell(cell: Cell, settings: SweepSettings, runner: CellRunner, log: Callable[[str], None]) -> dict[str, Any]:
    """Run one cell to its record: a crashed attempt is tried once more, then recorded as crashed. Writes only
    in the cell's run folder, so it runs the same in a thread of the sweep or in a Ray worker elsewhere."""
    base_dir = cell_dir(cell, settings)
    errors: list[str] = []
    crashed_cost = 0.0  # money spent by crashed attempts still counts
    record: dict[str, Any] = {}
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if attempt == 1 and base_dir.exists() and resumable(base_dir):
            log(f"[{cell.key}] continues the run a killed sweep or worker left, from its last checkpoint")
        elif base_dir.exists():  # a half-finished run without checkpoints, or the crashed attempt
            base_dir.rename(base_dir.with_name(f"{base_dir.name}.crashed-{time.time_ns()}"))
        base_dir.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        log(f"[{cell.key}] attempt {attempt} starts")
        try:
            result = runner(cell, settings, base_dir)
        except Exception as exc:  # one crashed cell must not end the sweep
            errors.append(f"{type(exc).__name__}: {exc}")
            detail = traceback.format_exc(limit=8)
            log(f"[{cell.key}] attempt {attempt} crashed: {errors[-1]}")
            base_dir.mkdir(parents=True, exist_ok=True)
            (base_dir / f"crash-{attempt}.txt").write_text(relative_paths_in(detail), encoding="utf-8")
            crashed_cost += run_stats(base_dir)["trace_cost_usd"]
            continue
        record = _record(cell, settings, result, attempt, errors, time.monotonic() - started, base_dir)
        record["cost_usd"] = float(record.get("cost_usd") or 0.0) + crashed_cost
        break
    else:
        record = crashed_record(cell, settings, errors, base_dir) | {"cost_usd": crashed_cost}
    return relative_record(record)  # error messages quote workspace paths: keep them machine-independent


def _base(cell: Cell, settings: SweepSettings, run_dir: Path) -> dict[str, Any]:
    return {
        "key": cell.key,
        "task": cell.task,
        "config": cell.config.name,
        "seed": cell.seed,
        "run_dir": str(run_dir.relative_to(settings.out)),
    }


def _record(
    cell: Cell,
    settings: SweepSettings,
    result: dict[str, Any],
    attempt: int,
    errors: Sequence[str],
    seconds: float,
    run_dir: Path,
) -> dict[str, Any]:
    keep = (
        "status", "success", "score", "score_error", "baseline", "metric", "direction", "improvement", "steps",
        "cost_usd", "tokens_per_model", "llm_calls", "escalations", "expert_calls", "error", "last", "best",
        "validation_baseline", "resumed_after_step",
    )  # fmt: skip
    record = _base(cell, settings, run_dir) | {k: result.get(k) for k in keep if k in result}
    record |= {"attempts": attempt, "crash_errors": list(errors), "wall_time_s": round(seconds, 1)}
    record["stats"] = run_stats(run_dir)
    return record


def crashed_record(cell: Cell, settings: SweepSettings, errors: Sequence[str], run_dir: Path) -> dict[str, Any]:
    return _base(cell, settings, run_dir) | {
        "status": "crashed",
        "success": False,
        "score": None,
        "error": errors[-1] if errors else "unknown",
        "attempts": MAX_ATTEMPTS,
        "crash_errors": list(errors),
        "tokens_per_model": {},
        "stats": run_stats(run_dir),
    }
