"""Hostile task folders and configurations: each is refused with one line that says what is wrong and how to fix
it, a non-zero exit and no traceback, before any model is loaded (`run`, `bench`, `tasks check`)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from budgetmlagent.cli import main

# Every model stays unloaded: a bad input must be caught before a client or a llama.cpp server exists.
LOADERS = ("budgetmlagent.providers.chat.load_chat_model", "budgetmlagent.providers.local_server.get_server")
KEYS = ("OPENAI_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY")


@pytest.fixture(autouse=True)
def no_model_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was loaded for a bad input")

    for target in LOADERS:
        monkeypatch.setattr(target, refuse)
    for key in KEYS:
        monkeypatch.delenv(key, raising=False)


def eval_returning(expression: str) -> str:
    return f"def get_score(submission_folder):\n    return {expression}\n"


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


# Each breaks the tiny task one way (conftest's `tiny_task`): (what it does to the folder, words the line must say).
TaskBreak = Callable[[Path], None]
BROKEN_TASKS: dict[str, tuple[TaskBreak, str]] = {
    "no env/": (lambda r: __import__("shutil").rmtree(r / "env"), "env/ is missing"),
    "no train.py": (lambda r: (r / "env" / "train.py").unlink(), "env/train.py is missing"),
    "no eval.py": (lambda r: (r / "scripts" / "eval.py").unlink(), "scripts/eval.py is missing"),
    "no research_problem.txt": (
        lambda r: (r / "scripts" / "research_problem.txt").unlink(),
        "research_problem.txt is missing",
    ),
    "empty research problem": (lambda r: write(r, "scripts/research_problem.txt", "  \n"), "is empty"),
    "eval.py raises": (
        lambda r: write(r, "scripts/eval.py", eval_returning("int('boom')")),
        "ValueError: invalid literal for int() with base 10: 'boom'",
    ),
    "eval.py returns NaN": (lambda r: write(r, "scripts/eval.py", eval_returning("float('nan')")), "non-finite"),
    "eval.py returns inf": (lambda r: write(r, "scripts/eval.py", eval_returning("float('inf')")), "non-finite"),
    "eval.py returns text": (
        lambda r: write(r, "scripts/eval.py", eval_returning("'high'")),
        "could not convert string to float: 'high'",
    ),
    "eval.py returns None": (lambda r: write(r, "scripts/eval.py", eval_returning("None")), "TypeError"),
    "eval.py does not parse": (lambda r: write(r, "scripts/eval.py", "def get_score(:\n"), "does not parse"),
    "eval.py has no get_score": (
        lambda r: write(r, "scripts/eval.py", "def score(folder):\n    return 1.0\n"),
        "no top-level function get_score",
    ),
    "eval.py exits": (lambda r: write(r, "scripts/eval.py", eval_returning("exit('no answers')")), "no answers"),
    "train.py crashes": (
        lambda r: write(r, "env/train.py", "raise RuntimeError('no data here')\n"),
        "RuntimeError: no data here",
    ),
    "train.py writes no submission": (
        lambda r: write(r, "env/train.py", "print('nothing written')\n"),
        "FileNotFoundError",
    ),
    "bad budgetmlagent.json": (
        lambda r: write(r, "scripts/budgetmlagent.json", '{"metric": "acc", "direction": "up"}'),
        "budgetmlagent.json is invalid",
    ),
    "budgetmlagent.json not JSON": (
        lambda r: write(r, "scripts/budgetmlagent.json", "{metric: acc"),
        "budgetmlagent.json is invalid",
    ),
    "validation_pattern without a group": (
        lambda r: write(r, "scripts/budgetmlagent.json", '{"validation_pattern": "score"}'),
        "validation_pattern needs one group",
    ),
    "scored_code outside env/": (
        lambda r: write(r, "scripts/budgetmlagent.json", '{"scored_code": ["../scripts/eval.py"]}'),
        "scored_code names '../scripts/eval.py'",
    ),
    "scored_code names a missing file": (
        lambda r: write(r, "scripts/budgetmlagent.json", '{"scored_code": ["model.py"]}'),
        "names env/model.py, which is missing",
    ),
    "prepare.py fails": (
        lambda r: write(r, "scripts/prepare.py", "raise SystemExit('download refused')\n"),
        "prepare.py failed with exit code 1: download refused",
    ),
}


def one_error_line(text: str) -> str:
    """The output must be exactly one line, an `error:` line, and carry no traceback."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    assert lines[0].startswith("error:") and "Traceback" not in text, text
    return lines[0]


def run(tmp_path: Path, task: Path | str, *extra: str) -> list[str]:
    return ["run", str(task), "--out", str(tmp_path / "out"), "--set", f"cache_dir={tmp_path / 'cache'}", *extra]


@pytest.mark.adversarial("task-config")
@pytest.mark.parametrize("case", list(BROKEN_TASKS))
def test_a_broken_task_folder_is_one_line_and_a_recorded_result(
    case: str, tiny_task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    breaks, says = BROKEN_TASKS[case]
    breaks(tiny_task)
    assert main(run(tmp_path, tiny_task)) == 1
    line = one_error_line(capsys.readouterr().err)
    assert says in line
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["status"] == "error" and result["success"] is False and says in result["error"]
    assert not (tmp_path / "out" / "checkpoints.sqlite").exists()  # the run never started


@pytest.mark.adversarial("task-config")
def test_a_missing_task_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(run(tmp_path, tmp_path / "nowhere")) == 1
    assert "is not a directory" in one_error_line(capsys.readouterr().err)
    assert json.loads((tmp_path / "out" / "result.json").read_text())["status"] == "error"


@pytest.mark.adversarial("task-config")
def test_a_file_given_as_the_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "task.txt").write_text("not a folder")
    assert main(run(tmp_path, tmp_path / "task.txt")) == 1
    assert "is not a directory" in one_error_line(capsys.readouterr().err)


@dataclass
class BadConfig:
    """Command-line arguments after the task folder, the words the line must say, and the environment."""

    args: list[str]
    says: str
    env: dict[str, str] = field(default_factory=dict)


PAPER_KEYS = "GOOGLE_API_KEY or GEMINI_API_KEY (for google_genai:gemini-2.5-flash-lite) and OPENAI_API_KEY"
BAD_CONFIGS: dict[str, BadConfig] = {
    "unknown preset": BadConfig(["--preset", "huge"], "unknown preset 'huge'; choose one of: local, paper"),
    "single: without a spec": BadConfig(["--preset", "single:"], "single:<spec> needs a model spec"),
    "single: with a malformed spec": BadConfig(["--preset", "single:gpt4"], "missing `provider:` prefix"),
    "preset with an unknown provider": BadConfig(["--preset", "single:anthropic:claude"], "unknown provider"),
    "planner spec without a provider": BadConfig(
        ["--set", "planner_models=bogus"], "planner model: invalid model spec 'bogus'"
    ),
    "planner specs as a JSON list, one bad": BadConfig(
        ["--set", 'planner_models=["local:qwen2.5-coder-0.5b", "openai:"]'], "invalid model spec 'openai:'"
    ),
    "planner specs as broken JSON": BadConfig(["--set", "planner_models=[local:x"], "is not a JSON list"),
    "an empty planner cascade": BadConfig(["--set", "planner_models=[]"], "planner_models=[]: name one model"),
    "openai_compatible without a URL": BadConfig(
        ["--set", "coder_models=openai_compatible:llama3"], "openai_compatible needs `<model>@<base_url>`"
    ),
    "openai_compatible with a bad URL": BadConfig(
        ["--set", "worker_model=openai_compatible:m@ftp://host"], "must start with http:// or https://"
    ),
    "a spec with whitespace": BadConfig(["--set", "expert_model=openai:gpt 4o"], "contains whitespace"),
    "an unknown local model": BadConfig(
        ["--set", "expert_model=local:llama-70b"], "expert model local:llama-70b: unknown local model 'llama-70b'"
    ),
    "a local model named like an emoji": BadConfig(
        ["--set", "worker_model=local:llama"], "worker model local:llama: unknown local model"
    ),
    "paper preset without keys": BadConfig(["--preset", "paper"], PAPER_KEYS),
    "openai model without OPENAI_API_KEY": BadConfig(
        ["--set", "planner_models=local:qwen2.5-coder-0.5b,openai:gpt-4o-mini"],
        "OPENAI_API_KEY (for openai:gpt-4o-mini)",
    ),
    "gemini model without GOOGLE_API_KEY": BadConfig(
        ["--preset", "single:google_genai:gemini-2.5-flash"], "GOOGLE_API_KEY or GEMINI_API_KEY"
    ),
    "a blank API key": BadConfig(
        ["--preset", "single:openai:gpt-4o-mini"], "OPENAI_API_KEY", env={"OPENAI_API_KEY": "   "}
    ),
    "--set an unknown name": BadConfig(["--set", "lifeline=3"], "unknown setting 'lifeline' (did you mean lifelines?)"),
    "--set without =": BadConfig(["--set", "lifelines"], "expected NAME=VALUE"),
    "--set the test hook": BadConfig(["--set", "chat_model_factory=os.system"], "expected NAME=VALUE"),
    "--set a word for a number": BadConfig(["--set", "lifelines=many"], "expected a whole number, got 'many'"),
    "--set a word for a flag": BadConfig(["--set", "use_retrieval=maybe"], "expected true or false, got 'maybe'"),
    "--set a word in a list": BadConfig(["--set", "tries_per_tier=3,x"], "expected a whole number, got 'x'"),
    "--set an empty list": BadConfig(["--set", "tries_per_tier="], "tries_per_tier=[]: must list"),
    "--set zero tries": BadConfig(["--set", "tries_per_tier=3,0"], "each 1 or more"),
    "--set zero steps": BadConfig(["--set", "max_steps=0"], "max_steps=0: must be 1 or more"),
    "--set a NaN budget": BadConfig(["--set", "budget_usd=nan"], "budget_usd=nan: must be a number above 0"),
    "--set a hot temperature": BadConfig(["--set", "planning_temperature=7"], "must be between 0 and 2"),
    "--max-steps negative": BadConfig(["--max-steps", "-1"], "max_steps=-1: must be 1 or more"),
    "--budget-usd zero": BadConfig(["--budget-usd", "0"], "budget_usd=0.0: must be a number above 0"),
    "--wall-clock inf": BadConfig(["--wall-clock", "inf"], "wall_clock_s=inf: must be a number above 0"),
    "--script-timeout negative": BadConfig(["--script-timeout", "-5"], "script_timeout_s=-5.0"),
    "--lifelines negative": BadConfig(["--lifelines", "-2"], "lifelines=-2: must be 0 or more"),
    "a bad BUDGETMLAGENT_ variable": BadConfig(
        [], "$BUDGETMLAGENT_REPEAT_LIMIT='often': expected a whole number", env={"BUDGETMLAGENT_REPEAT_LIMIT": "often"}
    ),
    "a bad preset variable": BadConfig([], "unknown preset 'cloud'", env={"BUDGETMLAGENT_PRESET": "cloud"}),
}


@pytest.mark.adversarial("task-config")
@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_bad_run_config_is_one_line_before_anything_runs(
    case: str, tiny_task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = BAD_CONFIGS[case]
    for name, value in bad.env.items():
        monkeypatch.setenv(name, value)
    assert main(run(tmp_path, tiny_task, *bad.args)) == 2
    assert bad.says in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()  # nothing measured or written


UNUSABLE_OUT = {
    "a file": ({"": "x"}, "is a file, not a folder"),
    "a folder with a run": ({"checkpoints.sqlite": "", "trace.jsonl": "{}\n"}, "`budgetmlagent resume"),
    "a folder of other things": ({"notes.txt": "mine"}, "holds no run to resume: give a new --out"),
}


@pytest.mark.adversarial("task-config")
@pytest.mark.parametrize("case", list(UNUSABLE_OUT))
def test_an_unusable_run_folder(case: str, tiny_task: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    files, says = UNUSABLE_OUT[case]
    target = tmp_path / "out"
    for name, text in files.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)
    before = {p: p.read_text() for p in [target, *target.rglob("*")] if p.is_file()}
    assert main(run(tmp_path, tiny_task)) == 2
    assert says in one_error_line(capsys.readouterr().err)
    assert {p: p.read_text() for p in [target, *target.rglob("*")] if p.is_file()} == before  # left as it was


def test_markup_in_a_bad_value_is_shown_as_written(tiny_task: Path, tmp_path: Path, capsys) -> None:
    assert main(run(tmp_path, tiny_task, "--set", "worker_model=[/bold]")) == 2
    assert "[/bold]" in one_error_line(capsys.readouterr().err)  # rich markup would swallow or crash on it


# bench: the same refusals for a whole sweep, before its first cell (errors go to stderr, as its log does).
BAD_BENCH: dict[str, tuple[list[str], str]] = {
    "unknown configuration": (["--configs", "cascade+oracle"], "unknown configuration 'cascade+oracle'"),
    "unknown task": (["--tasks", "no-such-task"], "no task folder 'no-such-task'"),
    "unknown preset": (["--preset", "huge"], "unknown preset 'huge'"),
    "paper preset without keys": (["--preset", "paper"], "configuration single-base: the models need"),
    "bad spec in --set": (["--set", "worker_model=gpt4"], "worker model: invalid model spec 'gpt4'"),
    "unknown --set name": (["--set", "use_magic=true"], "unknown setting 'use_magic'"),
    "bad --set value": (["--set", "use_retrieval=perhaps"], "expected true or false"),
    "zero seeds": (["--seeds", "0"], "--seeds 0: must be 1 or more"),
    "zero jobs": (["--jobs", "0"], "--jobs 0: must be 1 or more"),
    "zero steps": (["--max-steps", "0"], "max_steps=0: must be 1 or more"),
    "negative budget": (["--budget-usd", "-1"], "budget_usd=-1.0"),
}


@pytest.mark.adversarial("task-config")
@pytest.mark.parametrize("case", list(BAD_BENCH))
def test_a_bad_sweep_is_one_line_before_any_cell(case: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args, says = BAD_BENCH[case]
    assert main(["bench", "--tasks", "titanic", "--configs", "single-base", "--out", str(tmp_path / "sw"), *args]) == 2
    captured = capsys.readouterr()
    assert says in one_error_line(captured.err) and not captured.out
    assert not (tmp_path / "sw").exists()


@pytest.mark.adversarial("task-config")
def test_bench_refuses_a_broken_task_folder(tiny_task: Path, tmp_path: Path, capsys) -> None:
    (tiny_task / "scripts" / "eval.py").unlink()
    assert main(["bench", "--tasks", str(tiny_task), "--out", str(tmp_path / "sw")]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "task tiny-task: scripts/eval.py is missing" in line and "tasks check" in line


# tasks check: a finding per line; the broken part is a [FAIL] line with its cause, never a traceback.
CHECKED_TASKS = ["no env/", "no train.py", "no eval.py", "no research_problem.txt", "bad budgetmlagent.json"]
CHECKED_BY_RUNNING = ["eval.py raises", "eval.py returns NaN", "eval.py returns text", "train.py crashes"]


@pytest.mark.adversarial("task-config")
@pytest.mark.parametrize("case", CHECKED_TASKS + CHECKED_BY_RUNNING)
def test_tasks_check_names_the_broken_part(case: str, tiny_task: Path, capsys: pytest.CaptureFixture) -> None:
    breaks, says = BROKEN_TASKS[case]
    breaks(tiny_task)
    argv = ["tasks", "check", str(tiny_task), *(["--run"] if case in CHECKED_BY_RUNNING else [])]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "Traceback" not in out
    failed = [line for line in out.splitlines() if line.startswith("[FAIL]")]
    assert failed and says in failed[0], out


@pytest.mark.adversarial("task-config")
def test_tasks_check_on_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["tasks", "check", str(tmp_path / "nowhere")]) == 1
    assert "no task folder" in one_error_line(capsys.readouterr().err)


def test_a_good_config_passes_the_checks(tiny_task: Path, tmp_path: Path) -> None:
    """The checks refuse only what is wrong: the same task and settings, made valid, pass every one of them."""
    from budgetmlagent.preflight import check_task, context_from

    spec = "openai_compatible:m@http://127.0.0.1:9/v1"
    pairs = [f'planner_models=["{spec}"]', f"coder_models={spec}", f"debugger_models={spec}", f"worker_model={spec}"]
    ctx = context_from({"cache_dir": str(tmp_path / "cache"), "use_expert": False}, pairs)
    assert ctx.planner_models == [spec] and ctx.worker_model == spec
    assert check_task(tiny_task, ctx).name == "tiny-task"


def test_one_line_keeps_the_cause_of_a_traceback() -> None:
    from budgetmlagent.preflight import one_line

    text = textwrap.dedent(
        """\
        eval.py failed:
        Traceback (most recent call last):
          File "eval.py", line 2, in get_score
        ZeroDivisionError: division by zero
        """
    )
    assert one_line(text) == "eval.py failed: ZeroDivisionError: division by zero"
    assert one_line("") == "unknown error" and len(one_line("x" * 5000)) == 1200
