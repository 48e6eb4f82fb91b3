"""Scoring a workspace with the task's eval.py, measuring baselines, and the success verdict."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from budgetmlagent.workspace.integrity import prepare_for_scoring
from budgetmlagent.workspace.sandbox import cpu_backstop, run_process, sandbox_env, truncate_middle
from budgetmlagent.workspace.task import Direction, Task
from budgetmlagent.workspace.validation import read_invariant, read_validation_metric, recognise_validation_pattern
from budgetmlagent.workspace.workspace import Workspace

SUCCESS_THRESHOLD = 0.10
# Keeps an exact +10 % (0.55 over 0.5 computes as 0.10000000000000009) from counting as "more than".
_EPSILON = 1e-9
_SCORE_MARKER = "__BUDGETMLAGENT_SCORE__"
# Starts in a scratch folder (the only writable place in the sandbox), then moves into scripts/ so eval.py
# finds its answer files by relative path, as MLAgentBench expects; scripts/ and the workspace stay read-only.
_SCORER = f"""
import importlib.util, inspect, json, math, os, sys
os.chdir(sys.argv[2])
spec = importlib.util.spec_from_file_location("eval", "eval.py")
module = importlib.util.module_from_spec(spec)
sys.modules["eval"] = module
spec.loader.exec_module(module)
target = sys.argv[1]
# Some MLAgentBench forks score a file: get_score(submission_path="../env/submission.csv") gets the file.
first = next(iter(inspect.signature(module.get_score).parameters.values()), None)
default = first.default if first is not None and isinstance(first.default, str) else ""
if os.path.splitext(os.path.basename(default))[1]:
    target = os.path.join(target, os.path.basename(default))
value = module.get_score(target)
print()
print("{_SCORE_MARKER}", json.dumps(float(value)))
"""

ScoreSource = Literal["declared", "measured", "cache", "eval"]


@dataclass(frozen=True)
class ScoreResult:
    """A score, or why there is none."""

    score: float | None
    error: str | None = None
    source: ScoreSource = "eval"
    seconds: float = 0.0
    # The hold-out metric the baseline script printed (task's validation_pattern), when known.
    validation: float | None = None
    # The pattern that read it: the task's, or one recognised in the baseline's output when the task declares none.
    validation_pattern: str | None = None
    # The output the baseline script printed that no change may alter (task's invariant_pattern), when known.
    invariant: str | None = None
    # What had to be repaired in the workspace before scoring (restored read-only files, removed links).
    repairs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether a finite score exists."""
        return self.score is not None


@dataclass(frozen=True)
class Verdict:
    """Whether a run succeeded, and its relative improvement over the baseline."""

    success: bool
    improvement: float | None
    reason: str = ""


def score_workspace(
    task: Task,
    folder: Path,
    *,
    timeout_s: float = 600,
    memory_limit_mb: int | None = 8192,
    repair: bool = True,
) -> ScoreResult:
    """Run get_score(folder) from scripts/eval.py in a subprocess with cwd = scripts/.

    First (unless repair is False) the workspace is made safe to score: links leading outside and special
    files are removed and read-only files restored (ScoreResult.repairs says what was done). The task's
    sandbox config, where set, overrides timeout_s and memory_limit_mb.
    """
    if not task.has_eval:
        return ScoreResult(None, f"task {task.name} has no scripts/eval.py to score with")
    folder = Path(folder).resolve()
    if not folder.is_dir():
        return ScoreResult(None, f"workspace folder {folder} does not exist")
    repairs = tuple(prepare_for_scoring(task, folder)) if repair else ()
    limits: dict[str, Any] = {"timeout_s": timeout_s, "memory_limit_mb": memory_limit_mb}
    limits |= {key: value for key, value in task.sandbox.run_kwargs().items() if key in limits}
    result = _run_eval(task, folder, **limits)
    return ScoreResult(result.score, result.error, seconds=result.seconds, repairs=repairs)


def _run_eval(task: Task, folder: Path, *, timeout_s: float, memory_limit_mb: int | None) -> ScoreResult:
    """get_score(folder) in the sandbox, parsed from its marked output line."""
    # eval.py may import the agent's code (timing tasks): score in the same sandbox scripts run in, with
    # no network, limits, and nothing writable but a scratch folder, so answers cannot be tampered with.
    with tempfile.TemporaryDirectory(prefix="budgetmlagent-score-") as scratch:
        run = run_process(
            [sys.executable, "-c", _SCORER, str(folder), str(task.scripts_dir.resolve())],
            cwd=Path(scratch),
            env=sandbox_env(Path(scratch), task.sandbox.env_allow),
            timeout_s=timeout_s,
            memory_limit_mb=memory_limit_mb,
            cpu_limit_s=cpu_backstop(timeout_s),
            isolate_network=True,
            confine_filesystem=True,
            max_output_chars=4000,
        )
    if run.timed_out:
        return ScoreResult(None, f"eval.py did not finish within {timeout_s:g} s", seconds=run.seconds)
    if run.returncode != 0:
        detail = run.traceback or run.output
        return ScoreResult(None, f"eval.py failed:\n{truncate_middle(detail, 3000)}", seconds=run.seconds)
    for line in reversed(run.stdout.splitlines()):
        if line.startswith(_SCORE_MARKER):
            value = json.loads(line.removeprefix(_SCORE_MARKER).strip())
            if value is None or not math.isfinite(value):
                return ScoreResult(None, f"eval.py returned a non-finite score ({value})", seconds=run.seconds)
            return ScoreResult(float(value), seconds=run.seconds)
    return ScoreResult(None, "eval.py printed no score", seconds=run.seconds)


def _cache_path(task: Task, cache_dir: Path) -> Path:
    """Cache file of a task's measured baseline, keyed by its content and by how its output is read (a run that
    ignores the task's declarations reads it another way)."""
    reading = hashlib.sha256(f"{task.validation_pattern}|{task.metric}".encode()).hexdigest()[:8]
    return Path(cache_dir) / f"baseline-{task.name}-{task.content_hash[:16]}-{reading}.json"


def baseline_score(
    task: Task,
    cache_dir: Path,
    *,
    timeout_s: float = 600,
    memory_limit_mb: int | None = 4096,
    repeats: int = 1,
) -> ScoreResult:
    """The declared baseline, else the mean score of the untouched starter script (cached)."""
    if task.declared_baseline is not None:
        return ScoreResult(task.declared_baseline, source="declared")
    cache_file = _cache_path(task, cache_dir)
    if cache_file.is_file():
        try:
            data = json.loads(cache_file.read_text(encoding="utf-8"))
            validation, invariant = data.get("validation"), data.get("invariant")
            return ScoreResult(
                float(data["score"]),
                source="cache",
                seconds=float(data.get("seconds", 0.0)),
                validation=None if validation is None else float(validation),
                invariant=None if invariant is None else str(invariant),
                validation_pattern=data.get("validation_pattern") or task.validation_pattern,
            )
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a corrupt cache entry is measured again
    scores: list[float] = []
    validations: list[float] = []
    pattern: str | None = None
    invariant: str | None = None
    seconds = 0.0
    for _ in range(max(1, repeats)):
        with tempfile.TemporaryDirectory(prefix="budgetmlagent-baseline-") as tmp:
            ws = Workspace.create(task, Path(tmp) / "workspace")
            if not (ws.root / task.baseline_script).is_file():
                return ScoreResult(None, f"baseline script {task.baseline_script} is missing from env/")
            run = ws.run_script(task.baseline_script, timeout_s=timeout_s, memory_limit_mb=memory_limit_mb)
            seconds += run.seconds
            if not run.ok:
                why = "timed out" if run.timed_out else f"failed (exit {run.returncode})"
                detail = truncate_middle(run.traceback or run.output, 3000)
                return ScoreResult(None, f"baseline {task.baseline_script} {why}:\n{detail}", seconds=seconds)
            pattern = pattern or task.validation_pattern or recognise_validation_pattern(run.stdout, task.metric)
            printed = read_validation_metric(run.stdout, pattern)
            if printed is not None:
                validations.append(printed)
            invariant = invariant or read_invariant(run.stdout, task.invariant_pattern)
            result = score_workspace(task, ws.root, timeout_s=timeout_s)
            seconds += result.seconds
            if result.score is None:
                return ScoreResult(None, f"scoring the baseline failed: {result.error}", seconds=seconds)
            scores.append(result.score)
    mean = sum(scores) / len(scores)
    validation = sum(validations) / len(validations) if validations else None
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    payload = {"task": task.name, "content_hash": task.content_hash, "score": mean, "scores": scores}
    payload |= {"seconds": seconds, "validation": validation, "invariant": invariant, "validation_pattern": pattern}
    tmp_file = cache_file.with_suffix(f".{os.getpid()}.tmp")
    tmp_file.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    tmp_file.replace(cache_file)  # atomic, so parallel benchmark workers never read half a file
    return ScoreResult(
        mean, source="measured", seconds=seconds, validation=validation, invariant=invariant, validation_pattern=pattern
    )


def improvement(score: float, baseline: float, direction: Direction) -> float:
    """Relative change in the metric's good direction; absolute change when the baseline is 0."""
    gain = score - baseline if direction == "higher" else baseline - score
    # A zero baseline has no relative scale: fall back to the absolute change (same 0.10 bar).
    return gain / abs(baseline) if baseline != 0 else gain


def verdict(score: float | None, baseline: float | None, direction: Direction) -> Verdict:
    """Success iff the score beats the baseline by more than 10 % in the metric's direction."""
    if score is None or not math.isfinite(score):
        return Verdict(False, None, "no score")
    if baseline is None or not math.isfinite(baseline):
        return Verdict(False, None, "no baseline")
    value = improvement(score, baseline, direction)
    success = value > SUCCESS_THRESHOLD + _EPSILON
    word = "above" if success else "not above"
    return Verdict(success, value, f"improvement {value:+.2%} is {word} the {SUCCESS_THRESHOLD:.0%} bar")
