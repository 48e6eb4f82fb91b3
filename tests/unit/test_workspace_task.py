"""load_task on synthetic MLAgentBench-style folders and on the bundled titanic task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budgetmlagent.workspace.errors import TaskError
from budgetmlagent.workspace.task import load_task, read_only_patterns

BUNDLED_TITANIC = Path(__file__).resolve().parents[2] / "benchmarks" / "tasks" / "titanic"

PREPARE = """
from pathlib import Path
here = Path(__file__).resolve().parent
(here.parent / "env" / "data.csv").write_text("x,y\\n1,2\\n")
(here / "answer.csv").write_text("y\\n2\\n")
with open(here.parent.parent / "prepare_runs.log", "a") as log:
    log.write("ran\\n")
"""


def make_task(parent: Path, name: str = "toy", *, prepare: str | None = PREPARE, config: dict | None = None) -> Path:
    """A minimal task folder in MLAgentBench form."""
    root = parent / name
    (root / "env").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "env" / "train.py").write_text("print('hi')\n")
    (root / "scripts" / "research_problem.txt").write_text("Improve the score.\n")
    (root / "scripts" / "eval.py").write_text("def get_score(folder):\n    return 1.0\n")
    (root / "scripts" / "read_only_files.txt").write_text("./data.csv\n\ndata/*\n")
    if prepare is not None:
        (root / "scripts" / "prepare.py").write_text(prepare)
    if config is not None:
        (root / "scripts" / "budgetmlagent.json").write_text(json.dumps(config))
    return root


def prepare_runs(parent: Path) -> int:
    log = parent / "prepare_runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_load_minimal_task_runs_prepare_once(tmp_path: Path) -> None:
    root = make_task(tmp_path)
    task = load_task(root)
    assert task.name == "toy"
    assert task.root == root.resolve()
    assert task.env_dir == root.resolve() / "env"
    assert task.research_problem == "Improve the score."
    assert task.read_only_files == ["./data.csv", "data/*"]
    assert (task.metric_name, task.direction, task.declared_baseline) == ("score", "higher", None)
    assert task.baseline_script == "train.py"
    assert task.has_eval
    assert (root / "env" / "data.csv").exists()
    assert prepare_runs(tmp_path) == 1
    again = load_task(root)
    assert prepare_runs(tmp_path) == 1
    assert again.content_hash == task.content_hash


def test_prepare_reruns_when_its_output_is_missing_or_it_changes(tmp_path: Path) -> None:
    root = make_task(tmp_path)
    load_task(root)
    (root / "env" / "data.csv").unlink()
    load_task(root)
    assert prepare_runs(tmp_path) == 2
    (root / "scripts" / "prepare.py").write_text(PREPARE + "\n# changed\n")
    changed = load_task(root)
    assert prepare_runs(tmp_path) == 3
    assert changed.content_hash != ""


def test_mlagentbench_success_stamp_is_trusted(tmp_path: Path) -> None:
    root = make_task(tmp_path)
    (root / "scripts" / "prepared").write_text("success")
    load_task(root)
    assert prepare_runs(tmp_path) == 0


def test_failing_prepare_raises_task_error(tmp_path: Path) -> None:
    root = make_task(tmp_path, prepare="raise SystemExit('no data here')\n")
    with pytest.raises(TaskError, match="no data here"):
        load_task(root)


def test_content_hash_changes_with_env(tmp_path: Path) -> None:
    root = make_task(tmp_path, prepare=None)
    first = load_task(root).content_hash
    (root / "env" / "train.py").write_text("print('changed')\n")
    assert load_task(root).content_hash != first


def test_config_file_sets_metric(tmp_path: Path) -> None:
    root = make_task(tmp_path, prepare=None, config={"metric": "MAE", "direction": "lower", "baseline": 3.5})
    task = load_task(root)
    assert (task.metric_name, task.direction, task.declared_baseline) == ("MAE", "lower", 3.5)


def test_invalid_config_is_a_task_error(tmp_path: Path) -> None:
    root = make_task(tmp_path, prepare=None, config={"direction": "sideways"})
    with pytest.raises(TaskError, match=r"budgetmlagent\.json"):
        load_task(root)


@pytest.mark.parametrize(
    ("name", "metric", "direction", "baseline"),
    [
        ("house-price", "MAE", "lower", 1e10),
        ("spaceship-titanic", "accuracy", "higher", 0.5),
        ("imdb", "accuracy", "higher", 0.5),
        ("ogbn-arxiv", "accuracy", "higher", 0.3134),
        ("vectorization", "seconds", "lower", 6.1742),
        ("cifar10", "accuracy", "higher", None),
        ("something-new", "score", "higher", None),
    ],
)
def test_known_mlagentbench_tasks(
    tmp_path: Path, name: str, metric: str, direction: str, baseline: float | None
) -> None:
    task = load_task(make_task(tmp_path, name, prepare=None))
    assert (task.metric_name, task.direction, task.declared_baseline) == (metric, direction, baseline)


def test_llama_inference_uses_its_own_script(tmp_path: Path) -> None:
    assert load_task(make_task(tmp_path, "llama-inference", prepare=None)).baseline_script == "inference.py"


@pytest.mark.parametrize("missing", ["env", "scripts/research_problem.txt"])
def test_not_a_task(tmp_path: Path, missing: str) -> None:
    root = make_task(tmp_path, prepare=None)
    target = root / missing
    if target.is_dir():
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
    else:
        target.unlink()
    with pytest.raises(TaskError, match="not a task folder"):
        load_task(root)


def test_missing_folder_is_a_task_error(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="not a directory"):
        load_task(tmp_path / "nope")


def test_read_only_patterns_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "ro.txt"
    path.write_text("a.csv\n\n  data/*  \n")
    assert read_only_patterns(path) == ["a.csv", "data/*"]
    assert read_only_patterns(tmp_path / "missing.txt") == []


def test_bundled_titanic_task_loads() -> None:
    task = load_task(BUNDLED_TITANIC)
    assert task.name == "titanic"
    assert (task.metric_name, task.direction, task.declared_baseline) == ("accuracy", "higher", None)
    assert {"train.py", "train.csv", "test.csv", "data_description.txt"} <= {p.name for p in task.env_dir.iterdir()}
    assert (task.scripts_dir / "answer.csv").is_file()
    assert "submission.csv" in task.research_problem
    assert task.read_only_files == ["./train.csv", "./test.csv"]
    header = (task.env_dir / "test.csv").read_text().splitlines()[0]
    assert "survived" not in header
    assert not {"boat", "body", "home.dest"} & set(header.split(","))
    assert load_task(BUNDLED_TITANIC).content_hash == task.content_hash


def test_sandbox_limits_come_from_budgetmlagent_json(tmp_path: Path) -> None:
    sandbox = {"timeout_s": 30, "memory_mb": 0, "file_size_mb": 64, "output_chars": 2000, "max_processes": 64}
    task = load_task(make_task(tmp_path, prepare=None, config={"sandbox": sandbox | {"env_allow": ["MY_FLAG"]}}))
    assert task.sandbox.run_kwargs() == {
        "timeout_s": 30,
        "memory_limit_mb": 0,  # no limit: CUDA reserves far more address space than it uses
        "file_limit_mb": 64,
        "max_output_chars": 2000,
        "max_processes": 64,
        "env_allow": ("MY_FLAG",),
    }
    assert load_task(make_task(tmp_path, "plain", prepare=None)).sandbox.run_kwargs() == {}


@pytest.mark.parametrize(
    "sandbox", [{"timeout_s": 0}, {"memory_mb": -1}, {"env_allow": ["BAD NAME"]}, {"unknown_limit": 1}]
)
def test_invalid_sandbox_limits_are_a_task_error(tmp_path: Path, sandbox: dict) -> None:
    with pytest.raises(TaskError, match="sandbox"):
        load_task(make_task(tmp_path, prepare=None, config={"sandbox": sandbox}))


def test_scored_code_names_the_files_eval_runs(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path, prepare=None, config={"scored_code": ["train.py", "lib/model.py"]}))
    assert task.scored_code == ("train.py", "lib/model.py")
    assert load_task(make_task(tmp_path, "plain", prepare=None)).scored_code == ()


@pytest.mark.parametrize("name", ["../eval.py", "/etc/passwd.py", "data.csv", "", "lib/../../x.py"])
def test_scored_code_outside_env_or_not_python_is_a_task_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(TaskError, match="scored_code names"):
        load_task(make_task(tmp_path, prepare=None, config={"scored_code": [name]}))


def test_invariant_pattern_needs_a_group(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path, prepare=None, config={"invariant_pattern": "Tokens: (.*)"}))
    assert task.invariant_pattern == "Tokens: (.*)"
    with pytest.raises(TaskError, match="invariant_pattern needs one group around the value"):
        load_task(make_task(tmp_path, "no-group", prepare=None, config={"invariant_pattern": "Tokens"}))
    with pytest.raises(TaskError, match="invariant_pattern is not a valid regular expression"):
        load_task(make_task(tmp_path, "bad", prepare=None, config={"invariant_pattern": "(unclosed"}))


def test_read_invariant_takes_the_last_match_stripped() -> None:
    from budgetmlagent.workspace.validation import read_invariant

    assert read_invariant("Tokens: [1]\nTokens:  [2, 3] \n", r"Tokens: (.*)") == "[2, 3]"
    assert read_invariant("nothing here\n", r"Tokens: (.*)") is None
    assert read_invariant("Tokens: [1]\n", None) is None


def test_a_declared_metric_without_a_direction_takes_the_direction_its_name_implies(tmp_path: Path) -> None:
    """`{"metric": "MAE"}` alone used to mean higher is better, which inverts every verdict of an error metric."""
    task = load_task(make_task(tmp_path, config={"metric": "MAE"}, prepare=None))
    assert (task.metric, task.direction) == ("MAE", "lower")
    assert task.metric_source == "declared in scripts/budgetmlagent.json"
    assert task.direction_source == "the declared metric's name names MAE"


def test_declarations_can_be_ignored_and_are_then_inferred(tmp_path: Path) -> None:
    root = make_task(tmp_path, config={"metric": "accuracy", "direction": "higher"}, prepare=None)
    (root / "scripts" / "eval.py").write_text(
        "import numpy as np\n\ndef get_score(folder):\n    return float(np.abs(np.array([1.0]) - 2.0).mean())\n"
    )
    declared = load_task(root)
    ignored = load_task(root, use_declarations=False)
    assert (declared.metric, declared.direction) == ("accuracy", "higher")
    assert (ignored.metric, ignored.direction) == ("MAE", "lower")
    assert ignored.direction_source == "eval.py computes an absolute difference"
