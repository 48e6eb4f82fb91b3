"""Loading an ML task folder in MLAgentBench form (env/ + scripts/).

One schema from folder to state: TaskConfig (what the folder declares) -> Task (that, plus what the folder holds)
-> TaskFacts (the fields the run's state carries, by their names there; runtime.state.TaskInfo adds what the run
measures). A field is declared once, on TaskConfig or Task; it reaches the state when TaskFacts names it (by the
field's name, or its serialization alias).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, NotRequired, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_serializer, field_validator
from typing_extensions import TypedDict  # pydantic (LangGraph Studio schemas) needs it on Python < 3.12

from budgetmlagent.workspace.errors import TaskError
from budgetmlagent.workspace.metric_inference import from_eval_source, from_problem, metric_from_words

Direction = Literal["higher", "lower"]
# Where a task's declared facts come from: its budgetmlagent.json, the known-task table, or the defaults.
ConfigSource = Literal["file", "known", "default"]

CONFIG_FILE = "budgetmlagent.json"
# MLAgentBench's own stamp name: it only checks that the file exists, so we can store JSON in it and
# stay compatible in both directions.
PREPARED_STAMP = "prepared"
DEFAULT_BASELINE_SCRIPT = "train.py"
_SKIP_DIRS = {"__pycache__", ".git", ".stamps"}
# Files above this size are hashed by size plus head and tail, so multi-GB datasets load quickly.
_FULL_HASH_LIMIT = 64 * 1024 * 1024
_PARTIAL_HASH_BYTES = 1024 * 1024


class SandboxConfig(BaseModel):
    """A task's sandbox limits ("sandbox" in budgetmlagent.json); a field left out keeps the caller's value.

    A value set here wins over the run's settings: the task's author knows what its scripts need.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Wall-clock seconds of one script run, and of one scoring run.
    timeout_s: float | None = Field(default=None, gt=0)
    # Address space per process in MiB; 0 means no limit (CUDA reserves far more than it uses).
    memory_mb: int | None = Field(default=None, ge=0)
    # CPU-seconds backstop per process (default: timeout times the number of cores).
    cpu_s: float | None = Field(default=None, gt=0)
    # Size of any one file a script writes, in MiB; 0 means no limit.
    file_size_mb: int | None = Field(default=None, ge=0)
    # Characters of script output shown in an observation.
    output_chars: int | None = Field(default=None, gt=0)
    # Processes and threads of one run (enforced on Linux 6.14 and later).
    max_processes: int | None = Field(default=None, ge=1)
    # Environment variables scripts may see on top of the allow-list (names that look secret stay out).
    env_allow: tuple[str, ...] = ()

    @field_validator("env_allow")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [name for name in value if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)]
        if bad:
            raise ValueError(f"env_allow holds names that are not environment variable names: {bad}")
        return value

    def run_kwargs(self) -> dict[str, Any]:
        """The fields that are set, as run_script keyword arguments (a memory or file limit of 0 means none)."""
        values: dict[str, Any] = {
            "timeout_s": self.timeout_s,
            "memory_limit_mb": self.memory_mb,
            "cpu_limit_s": self.cpu_s,
            "file_limit_mb": self.file_size_mb,
            "max_output_chars": self.output_chars,
            "max_processes": self.max_processes,
        }
        kwargs = {key: value for key, value in values.items() if value is not None}
        if self.env_allow:
            kwargs["env_allow"] = self.env_allow
        return kwargs


class TaskConfig(BaseModel):
    """What a task declares: its scripts/budgetmlagent.json, else its KNOWN_TASKS entry, else these defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = "score"
    direction: Direction = "higher"
    # The baseline score, when the task states it; else the untouched baseline script is run and scored.
    baseline: float | None = None
    # The script the agent improves; "main_script" in the run's state.
    baseline_script: str = Field(default=DEFAULT_BASELINE_SCRIPT, serialization_alias="main_script")
    # A regex whose first group is the hold-out metric the scripts print, e.g. "Validation accuracy: (\\S+)".
    validation_pattern: str | None = None
    # A regex whose first group is output no change may alter, e.g. "First generated tokens: (.*)" for a speed task:
    # a run that prints another value is not valid, whatever its metric.
    invariant_pattern: str | None = None
    # Python files in env/ that eval.py imports and runs itself, e.g. ["train.py"] when it times the script's
    # functions: only these decide whether the agent changed the code. Empty: every .py file in env/.
    scored_code: list[str] = Field(default_factory=list)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)

    @field_validator("scored_code")
    @classmethod
    def _inside_env(cls, value: list[str]) -> list[str]:
        for name in value:
            path = Path(name)
            if path.is_absolute() or ".." in path.parts or path.suffix != ".py" or name.strip() in ("", "."):
                raise ValueError(f"scored_code names {name!r}: give .py files by their path in env/, e.g. 'train.py'")
        return value

    @field_validator("validation_pattern", "invariant_pattern")
    @classmethod
    def _compiles(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise ValueError(f"{info.field_name} is not a valid regular expression: {exc}") from exc
            if compiled.groups < 1:
                example = "'Validation MAE: (\\S+)'" if info.field_name == "validation_pattern" else "'Tokens: (.*)'"
                raise ValueError(f"{info.field_name} needs one group around the value, e.g. {example}")
        return value

    @field_serializer("sandbox")
    def _limits_set(self, sandbox: SandboxConfig) -> dict[str, Any]:
        """Only the limits the task sets travel: one it leaves out keeps the run's own value."""
        return sandbox.model_dump(exclude_none=True)


# Baselines for skeleton starter scripts are the benchmark's constants (PAPER.md); the lower-is-better
# entries were read from each task's eval.py (perplexity, MCRMSE, SMAPE).
KNOWN_TASKS: dict[str, TaskConfig] = {
    "house-price": TaskConfig(metric="MAE", direction="lower", baseline=1e10),
    "spaceship-titanic": TaskConfig(metric="accuracy", direction="higher", baseline=0.5),
    "imdb": TaskConfig(metric="accuracy", direction="higher", baseline=0.5),
    "ogbn-arxiv": TaskConfig(metric="accuracy", direction="higher", baseline=0.3134),
    "vectorization": TaskConfig(metric="seconds", direction="lower", baseline=6.1742),
    "cifar10": TaskConfig(metric="accuracy", direction="higher"),
    "feedback": TaskConfig(metric="MCRMSE", direction="lower"),
    "amp-parkinsons-disease-progression-prediction": TaskConfig(metric="SMAPE", direction="lower"),
    "parkinsons-disease": TaskConfig(metric="SMAPE", direction="lower"),
    "babylm": TaskConfig(metric="perplexity", direction="lower"),
    "clrs": TaskConfig(metric="score", direction="higher"),
    "fathomnet": TaskConfig(metric="score", direction="higher"),
    "identify-contrails": TaskConfig(metric="dice", direction="higher"),
    "llama-inference": TaskConfig(metric="tokens per second", direction="higher", baseline_script="inference.py"),
}


def declared_config(root: Path, *, use_file: bool = True) -> tuple[TaskConfig, ConfigSource]:
    """What a task folder declares, and where from: scripts/budgetmlagent.json (unless use_file is False), else the
    known-task table (by the folder's name), else the defaults. A file that does not validate raises pydantic's
    ValidationError."""
    config_path = root / "scripts" / CONFIG_FILE
    if use_file and config_path.is_file():
        return TaskConfig.model_validate_json(config_path.read_text(encoding="utf-8")), "file"
    known = KNOWN_TASKS.get(root.name.lower())
    if known is not None:
        return known, "known"
    return TaskConfig(), "default"


class TaskFacts(TypedDict):
    """A loaded task as the run's state carries it (Task.facts()): Task's fields by their state names, as JSON.

    runtime.state.TaskInfo is this plus what the run measures. Each key is a Task field, or a field's
    serialization alias; a key added later is NotRequired, since checkpoints written before it lack it.
    """

    name: str
    problem: str
    metric: str
    direction: Direction
    read_only: list[str]
    scripts_dir: str
    content_hash: str
    validation_pattern: str | None
    invariant_pattern: NotRequired[str | None]  # output no change may alter
    sandbox: dict[str, Any]  # the task's own script limits (the SandboxConfig fields it sets), over the run's
    main_script: NotRequired[str]  # the script the task is about (train.py)
    metric_source: NotRequired[str]  # where metric and direction came from (declared, or what inferred them)
    direction_source: NotRequired[str]


class Task(TaskConfig):
    """An ML task folder, loaded: what it declares (TaskConfig's fields) plus where its files are and what they say."""

    name: str
    root: Path
    env_dir: Path
    scripts_dir: Path
    research_problem: str = Field(serialization_alias="problem")
    read_only_files: list[str] = Field(default_factory=list, serialization_alias="read_only")
    content_hash: str
    scored_code: tuple[str, ...] = ()  # as declared, frozen
    # Where metric and direction came from: the declaration, or what inferred them (eval.py, the problem's words).
    metric_source: str = "declared"
    direction_source: str = "declared"

    @property
    def metric_name(self) -> str:
        """The declared metric (this name is the scorers' and the tests')."""
        return self.metric

    @property
    def declared_baseline(self) -> float | None:
        """The baseline score the task states, None when it is to be measured (this name is the scorers')."""
        return self.baseline

    @property
    def eval_script(self) -> Path:
        """Path of scripts/eval.py (may be missing for tasks scored another way)."""
        return self.scripts_dir / "eval.py"

    @property
    def has_eval(self) -> bool:
        """Whether the task ships an eval.py with get_score."""
        return self.eval_script.is_file()

    def facts(self) -> TaskFacts:
        """The fields TaskFacts names, by their state names, as JSON (paths as text)."""
        dumped = self.model_dump(mode="json", by_alias=True)
        return cast(TaskFacts, {key: dumped[key] for key in TaskFacts.__annotations__})


def load_task(
    path: Path, *, prepare: bool = True, prepare_timeout_s: float = 3600, use_declarations: bool = True
) -> Task:
    """Load a task folder, running scripts/prepare.py once per task content. What the folder does not declare (or
    everything, with use_declarations False, but the known MLAgentBench table) is read from eval.py and the problem."""
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise TaskError(f"{root} is not a directory, so it is not a task folder.")
    env_dir, scripts_dir = root / "env", root / "scripts"
    problem_file = scripts_dir / "research_problem.txt"
    missing = [str(p.relative_to(root)) for p in (env_dir, problem_file) if not p.exists()]
    if missing:
        raise TaskError(
            f"{root} is not a task folder in MLAgentBench form: missing {', '.join(missing)} "
            "(expected env/, scripts/research_problem.txt, scripts/eval.py with get_score(folder))."
        )
    if prepare:
        run_prepare(root, timeout_s=prepare_timeout_s)
    try:
        config, source = declared_config(root, use_file=use_declarations)
    except ValidationError as exc:
        raise TaskError(f"{scripts_dir / CONFIG_FILE} is invalid: {exc}") from exc
    problem = problem_file.read_text(encoding="utf-8", errors="replace").strip()
    return Task(
        **(dict(config) | infer_metric(config, source, scripts_dir / "eval.py", problem)),
        name=root.name,
        root=root,
        env_dir=env_dir,
        scripts_dir=scripts_dir,
        research_problem=problem,
        read_only_files=read_only_patterns(scripts_dir / "read_only_files.txt"),
        content_hash=content_hash(root),
    )


_SOURCE_WORDS = {"file": f"declared in scripts/{CONFIG_FILE}", "known": "MLAgentBench's table of its tasks"}


def infer_metric(config: TaskConfig, source: ConfigSource, eval_py: Path, problem: str) -> dict[str, str]:
    """metric, direction and where each came from: declared values win; what is not declared is read from eval.py's
    source, then the research problem (a declared metric's own name gives its direction first); else 'score',
    higher is better, said as a default."""
    declared = (
        config.model_fields_set if source == "file" else set(TaskConfig.model_fields) if source == "known" else set()
    )
    facts = {"metric": config.metric, "direction": config.direction}
    found = {key: _SOURCE_WORDS[source] for key in facts if key in declared}
    text = eval_py.read_text(encoding="utf-8", errors="replace") if eval_py.is_file() else ""
    guesses = [
        metric_from_words(config.metric, "the declared metric's name") if "metric" in declared else None,
        from_eval_source(text) if text else None,
        from_problem(problem),
    ]
    for key in ("metric", "direction"):
        if key in found:
            continue
        guess = next((g for g in guesses if g is not None), None)
        if guess is not None:
            facts[key], found[key] = getattr(guess, key), guess.source
        else:
            found[key] = "nothing says; the default"
    return facts | {"metric_source": found["metric"], "direction_source": found["direction"]}


def read_only_patterns(path: Path) -> list[str]:
    """Glob patterns from a read_only_files.txt (one a line, MLAgentBench fnmatch style)."""
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _iter_files(folder: Path) -> Iterator[Path]:
    """Files under folder in a stable order, skipping caches."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _hash_file(digest: hashlib._Hash, path: Path) -> None:
    """Feed one file's bytes (or size plus head and tail for huge files) into digest."""
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        if size <= _FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        else:
            digest.update(handle.read(_PARTIAL_HASH_BYTES))
            handle.seek(size - _PARTIAL_HASH_BYTES)
            digest.update(handle.read(_PARTIAL_HASH_BYTES))


def content_hash(root: Path) -> str:
    """sha256 over the relative paths and contents of env/ and scripts/."""
    digest = hashlib.sha256()
    stamp = root / "scripts" / PREPARED_STAMP
    for sub in ("env", "scripts"):
        for file in _iter_files(root / sub):
            if file == stamp or not file.is_file():  # dangling links, FIFOs (opening one blocks), devices
                continue
            digest.update(file.relative_to(root).as_posix().encode() + b"\0")
            _hash_file(digest, file)
    return digest.hexdigest()


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every file under root, to see what prepare.py produced."""
    result: dict[str, tuple[int, int]] = {}
    for file in _iter_files(root):
        with contextlib.suppress(OSError):
            st = file.stat()
            result[file.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns)
    return result


def _is_prepared(root: Path, prepare_sha: str) -> bool:
    """True when the stamp matches prepare.py and every file it produced still exists."""
    stamp = root / "scripts" / PREPARED_STAMP
    if not stamp.is_file():
        return False
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # MLAgentBench's plain "success" stamp: trust it as it does.
    if not isinstance(data, dict) or data.get("prepare_sha256") != prepare_sha:
        return False
    return all((root / rel).exists() for rel in data.get("outputs", []))


@contextlib.contextmanager
def _prepare_lock(root: Path) -> Iterator[None]:
    """Serialise prepare.py runs on one task across processes (benchmarks run in parallel)."""
    key = hashlib.sha256(str(root).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"budgetmlagent-prepare-{key}.lock"
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_prepare(root: Path, *, timeout_s: float = 3600) -> bool:
    """Run scripts/prepare.py (cwd scripts/) unless already done; True if it ran."""
    script = root / "scripts" / "prepare.py"
    if not script.is_file():
        return False
    prepare_sha = hashlib.sha256(script.read_bytes()).hexdigest()
    with _prepare_lock(root):
        if _is_prepared(root, prepare_sha):
            return False
        before = _snapshot(root)
        try:
            proc = subprocess.run(
                [sys.executable, "prepare.py"],
                cwd=root / "scripts",
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise TaskError(f"{script} did not finish within {timeout_s:.0f} s.") from exc
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr)[-3000:]
            raise TaskError(f"{script} failed with exit code {proc.returncode}:\n{tail}")
        after = _snapshot(root)
        outputs = sorted(rel for rel, sig in after.items() if before.get(rel) != sig)
        stamp = {"prepare_sha256": prepare_sha, "outputs": [o for o in outputs if o != "scripts/prepared"]}
        # A read-only task folder can still be used; it just prepares again next time.
        with contextlib.suppress(OSError):
            (root / "scripts" / PREPARED_STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")
    return True
