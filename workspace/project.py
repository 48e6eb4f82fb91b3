"""An ordinary project as a task folder: a training script, its data, and the user's own command that prints the
score (`budgetmlagent run PROJECT_DIR --goal TEXT --score-cmd CMD`).

The project is copied (code and data, no VCS or virtual-env folders) into `env/` of a task folder kept under the
cache, so the run, the scaffold, the sandbox and the verdict are the ones a benchmark folder gets; the project
itself is never changed. `scripts/eval.py` runs the score command in the workspace and reads the last number it
prints; files the command reads and the agent must not change are named with `--read-only`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from budgetmlagent.workspace.errors import TaskError
from budgetmlagent.workspace.metric_inference import Direction, from_problem

# Folders no training run needs and that can be huge.
_SKIPPED = shutil.ignore_patterns(".git", ".hg", ".venv", "venv", "__pycache__", "node_modules", ".mypy_cache")
SCORE_TIMEOUT_S = 600

_EVAL = '''"""Scores the workspace with the project's own command: its last printed number is the score."""

import os
import re
import subprocess
import sys

COMMAND = {command}
NUMBER = re.compile(r"[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?")


def get_score(submission_folder="../env"):
    # `python` in the command is the interpreter the scripts run with.
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    done = subprocess.run(
        COMMAND, shell=True, cwd=submission_folder, capture_output=True, text=True, timeout={timeout},
        env=dict(os.environ, PATH=path),
    )
    if done.returncode != 0:
        output = done.stdout[-1500:] + done.stderr[-1500:]
        raise RuntimeError(f"the score command failed (exit {{done.returncode}}):\\n{{output}}")
    numbers = NUMBER.findall(done.stdout.replace(",", ""))
    if not numbers:
        raise RuntimeError(f"the score command printed no number:\\n{{done.stdout[-1500:]}}")
    return float(numbers[-1])


if __name__ == "__main__":
    print(get_score())
'''


def project_task_folder(
    project: Path,
    *,
    goal: str,
    score_cmd: str,
    cache_dir: Path,
    script: str | None = None,
    read_only: list[str] | None = None,
    metric: str | None = None,
    direction: Direction | None = None,
) -> Path:
    """Write (or refresh) the task folder for a project and return it; the same inputs give the same folder, so the
    measured baseline is cached across runs."""
    root = Path(project).expanduser().resolve()
    if not root.is_dir():
        raise TaskError(f"{root} is not a directory: give the project's folder")
    if not goal.strip():
        raise TaskError("--goal is empty: say what to improve, e.g. 'lower the validation RMSE of train.py'")
    if not score_cmd.strip():
        raise TaskError("--score-cmd is empty: give the command that prints the score, e.g. 'python evaluate.py'")
    starter = script or _starter(root)
    if not (root / starter).is_file():
        raise TaskError(f"{starter} is not a file of {root}: name the training script with --script")
    for name in read_only or []:
        if not (root / name).exists():
            raise TaskError(f"--read-only {name}: no such file in {root}")
    guess = from_problem(goal)
    chosen_direction = direction or (guess.direction if guess else None)
    if chosen_direction is None:
        raise TaskError(
            "cannot tell from --goal whether a higher or a lower score is better: add --direction higher|lower"
        )
    key = json.dumps([str(root), goal, score_cmd, starter, sorted(read_only or []), metric, chosen_direction])
    folder = Path(cache_dir).expanduser() / "projects" / f"{root.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    env, scripts = folder / "env", folder / "scripts"
    if env.exists():
        shutil.rmtree(env)  # the project may have changed since the last run: copy it afresh
    scripts.mkdir(parents=True, exist_ok=True)
    shutil.copytree(root, env, ignore=_SKIPPED, symlinks=True)
    problem = (
        f"{goal.strip()}\n\nThe score is measured by running `{score_cmd}` in the project folder after "
        f"{starter} has run; the last number it prints is the score ({chosen_direction} is better)."
    )
    (scripts / "research_problem.txt").write_text(problem + "\n", encoding="utf-8")
    (scripts / "eval.py").write_text(
        _EVAL.format(command=json.dumps(score_cmd), timeout=SCORE_TIMEOUT_S), encoding="utf-8"
    )
    (scripts / "read_only_files.txt").write_text("".join(f"{name}\n" for name in read_only or []), encoding="utf-8")
    config = {"metric": metric or (guess.metric if guess else "score"), "direction": chosen_direction}
    (scripts / "budgetmlagent.json").write_text(json.dumps(config | {"baseline_script": starter}), encoding="utf-8")
    return folder


def _starter(root: Path) -> str:
    """train.py when there is one, else the only Python file at the top of the project."""
    if (root / "train.py").is_file():
        return "train.py"
    scripts = sorted(p.name for p in root.glob("*.py"))
    if len(scripts) == 1:
        return scripts[0]
    listed = ", ".join(scripts) or "none"
    raise TaskError(f"which script trains the model? name it with --script (Python files here: {listed})")
