"""Metric and direction read from eval.py's source and the research problem, for folders that declare nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budgetmlagent.workspace.metric_inference import from_eval_source, from_problem
from budgetmlagent.workspace.task_check import TASKS_DIR

HEAD = "import os\nimport numpy as np\nimport pandas as pd\n"
EVALS = {
    # eval.py shapes seen in MLAgentBench and its forks, written here in our own words.
    "sum of abs over len": (
        "def get_score(submission_folder='../env'):\n"
        "    sub = pd.read_csv(os.path.join(submission_folder, 'submission.csv'))\n"
        "    ans = pd.read_csv('answer.csv')\n"
        "    err = sum(abs(sub['y'] - ans['y'])) / len(ans)\n"
        "    return err\n",
        ("MAE", "lower"),
    ),
    "counting hits in a loop": (
        "def get_score(submission_folder='../env'):\n"
        "    hits = 0\n    for p, t in zip(preds, truth):\n        hits += int(p == t)\n"
        "    return hits / len(truth)\n",
        ("accuracy", "higher"),
    ),
    "sklearn through an alias": (
        "from sklearn.metrics import mean_absolute_error as mae_fn, r2_score\n"
        "def get_score(path='../env/submission.csv'):\n    r2 = r2_score(a, b)\n    return mae_fn(a, b)\n",
        ("MAE", "lower"),
    ),
    "returned variable wins over a logged one": (
        "from sklearn.metrics import accuracy_score, log_loss\n"
        "def get_score(folder='../env'):\n    acc = accuracy_score(y, p)\n    loss = log_loss(y, q)\n"
        "    print(acc)\n    return loss\n",
        ("log loss", "lower"),
    ),
    "rmse by sqrt of mse": (
        "from sklearn.metrics import mean_squared_error\n"
        "def get_score(folder='../env'):\n    return float(np.sqrt(mean_squared_error(y, p)))\n",
        ("RMSE", "lower"),
    ),
    "rmse by squared=False": (
        "from sklearn import metrics\n"
        "def get_score(folder='../env'):\n    return metrics.mean_squared_error(y, p, squared=False)\n",
        ("RMSE", "lower"),
    ),
    "mse written out": (
        "def get_score(folder='../env'):\n    return float(((pred - true) ** 2).mean())\n",
        ("MSE", "lower"),
    ),
    "mean of equal predictions": (
        "def get_score(folder='../env'):\n    return float((sub['label'].values == ans['label'].values).mean())\n",
        ("accuracy", "higher"),
    ),
    "roc auc": (
        "from sklearn.metrics import roc_auc_score\ndef get_score(folder='../env'):\n    return roc_auc_score(y, p)\n",
        ("AUC", "higher"),
    ),
    "macro f1": (
        "from sklearn.metrics import f1_score\n"
        "def get_score(folder='../env'):\n    return f1_score(y, p, average='macro')\n",
        ("F1", "higher"),
    ),
    "a timed run": (
        "import time, subprocess\ndef get_score(folder='../env'):\n    start = time.perf_counter()\n"
        "    subprocess.run(['python', 'train.py'], cwd=folder)\n    return time.perf_counter() - start\n",
        ("seconds", "lower"),
    ),
    "docstring only": (
        'def get_score(folder="../env"):\n    """Root mean squared error of the predictions."""\n'
        "    return helper(folder)\n",
        ("RMSE", "lower"),
    ),
}


@pytest.mark.parametrize("name", list(EVALS))
def test_eval_sources_give_their_metric_and_direction(name: str) -> None:
    body, (metric, direction) = EVALS[name]
    guess = from_eval_source(HEAD + body)
    assert guess is not None and (guess.metric, guess.direction) == (metric, direction), guess
    assert guess.source.startswith(("eval.py", "get_score"))


def test_an_eval_that_says_nothing_gives_no_guess() -> None:
    body = "def get_score(folder='../env'):\n    s = pd.read_csv(folder + '/submission.csv', delimiter=';')\n"
    assert from_eval_source(HEAD + body + "    return float(s.columns[0])\n") is None
    assert from_eval_source("def get_score(:\n  broken") is None  # unparsable and wordless


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Improve the model. Submissions are scored on mean absolute error.", ("MAE", "lower")),
        ("Given train.py, improve the execution speed of the forward function.", ("seconds", "lower")),
        ("Improve the accuracy of the classifier by more than 10%.", ("accuracy", "higher")),
        ("The score is the loss on held-out data; lower is better.", ("loss", "lower")),
        ("Maximise the F1 score on the test set.", ("F1", "higher")),
    ],
)
def test_research_problems_name_their_metric(text: str, expected: tuple[str, str]) -> None:
    guess = from_problem(text)
    assert guess is not None and (guess.metric, guess.direction) == expected, guess


def test_every_bundled_eval_agrees_with_its_declared_direction() -> None:
    """The ten bundled tasks declare metric and direction; reading their eval.py alone must give the same direction
    (and the problem text too), so ignoring the declarations does not invert a verdict."""
    checked = 0
    for task in sorted(TASKS_DIR.iterdir()):
        config = task / "scripts" / "budgetmlagent.json"
        if not config.is_file():
            continue
        declared = json.loads(config.read_text())["direction"]
        guess = from_eval_source((task / "scripts" / "eval.py").read_text()) or from_problem(
            (task / "scripts" / "research_problem.txt").read_text()
        )
        assert guess is not None and guess.direction == declared, (task.name, guess)
        checked += 1
    assert checked >= 10


def test_bundled_tasks_folder_exists() -> None:
    assert Path(TASKS_DIR).is_dir()
