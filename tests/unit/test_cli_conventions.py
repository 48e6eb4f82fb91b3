"""CLI conventions: every command that prints results has --json (one JSON document on stdout), errors are one line
on stderr with the documented exit code, every flag has help text, and sweeps record repository-relative paths."""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_bench_harness import FakeRunner

from budgetmlagent import bench_command
from budgetmlagent.benchmarks import harness
from budgetmlagent.benchmarks.harness import (
    RESULTS_FILE,
    SWEEP_FILE,
    Sweep,
    SweepSettings,
    load_results,
    relative_command,
    relative_paths_in,
    relative_to_repo,
    repo_root,
)
from budgetmlagent.cli import EXIT_FAILED, EXIT_USAGE, build_parser, main
from budgetmlagent.providers.catalogue import CATALOGUE_ENV, MODELS_DIR_ENV

REPO = Path(__file__).resolve().parents[2]
TITANIC = REPO / "benchmarks" / "tasks" / "titanic"
# Commands whose flags this file holds to the help-text rule; `run` is checked too when its flags all have help.
OWN_COMMANDS = ("models", "resume", "bench", "tasks")


@pytest.fixture(autouse=True)
def no_model_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model client was made")

    # (`models smoke` is only run without its model: get_server then refuses before starting anything.)
    monkeypatch.setattr("budgetmlagent.providers.chat.load_chat_model", refuse)


def one_document(out: str) -> Any:
    """stdout of a --json command: exactly one JSON document, nothing else."""
    return json.loads(out)


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


# --- help text --------------------------------------------------------------------------------------------------


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(command path, action) for every action of the parser and of all its subparsers, -h excluded."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            # the line each subcommand shows in its parent's help (argparse lists only those given help=)
            shown = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), SimpleNamespace(help=shown.get(name), option_strings=[], dest="(command)")
                yield from walk(sub, (*path, name))
            continue
        yield path, action


def missing_help(commands: tuple[str, ...] | None = None) -> list[str]:
    return [
        f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}"
        for path, action in walk(build_parser())
        if (commands is None or (path and path[0] in commands))
        and (not action.help or not str(action.help).strip() or action.help == argparse.SUPPRESS)
    ]


def test_every_flag_of_our_commands_has_help() -> None:
    assert missing_help(OWN_COMMANDS) == []


def test_every_flag_of_every_command_has_help() -> None:
    assert missing_help() == []


def test_every_command_that_prints_results_has_json() -> None:
    parser = build_parser()
    for argv in (
        ["models", "--json"],
        ["models", "install", "--json"],
        ["models", "smoke", "--json"],
        ["tasks", "list", "--json"],
        ["tasks", "check", "x", "--json"],
        ["bench", "--json"],
        ["resume", "r", "--json"],
        ["run", "t", "--json"],
    ):
        args = parser.parse_args(argv)
        assert getattr(args, "json", False) or getattr(args, "models_json", False), argv


# --- --json documents -------------------------------------------------------------------------------------------


def test_tasks_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list", "--json"]) == 0
    captured = capsys.readouterr()
    document = one_document(captured.out)
    titanic = next(t for t in document["tasks"] if t["name"] == "titanic")
    assert titanic["direction"] in ("higher", "lower") and titanic["metric"] and isinstance(titanic["prepared"], bool)
    assert not captured.err


def test_tasks_check_json_on_a_bundled_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "check", str(TITANIC), "--json"]) == 0
    document = one_document(capsys.readouterr().out)
    assert document["usable"] and document["problems"] == 0 and document["run"] is None
    assert all({"level", "message"} <= set(f) for f in document["findings"])


def test_tasks_check_json_with_run(tiny_task: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "check", str(tiny_task), "--run", "--json"]) == 0
    document = one_document(capsys.readouterr().out)
    assert document["usable"] and document["run"]["baseline"] == 0.5 and document["run"]["metric"] == "score"


def test_tasks_check_json_on_a_broken_task(tiny_task: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tiny_task / "scripts" / "eval.py").write_text("def get_score(submission_folder):\n    return int('boom')\n")
    assert main(["tasks", "check", str(tiny_task), "--run", "--json"]) == EXIT_FAILED
    document = one_document(capsys.readouterr().out)  # findings are a result, even when they fail the folder
    assert not document["usable"] and "boom" in document["run"]["error"]
    (tiny_task / "scripts" / "eval.py").unlink()
    assert main(["tasks", "check", str(tiny_task), "--json"]) == EXIT_FAILED
    document = one_document(capsys.readouterr().out)
    assert document["problems"] == 1 and any("eval.py is missing" in f["message"] for f in document["findings"])


@pytest.fixture
def user_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv(CATALOGUE_ENV, "")  # recorded, so the value `--catalogue` sets is undone afterwards
    data = b"GGUF tiny"
    (tmp_path / "tiny.gguf").write_bytes(data)
    toml = tmp_path / "cat.toml"
    toml.write_text(
        f'[models."tiny"]\nsha256 = "{hashlib.sha256(data).hexdigest()}"\n'
        '[models."tiny".source]\nkind = "file"\npath = "tiny.gguf"\n'
    )
    return toml


def test_models_json(user_catalogue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--catalogue", str(user_catalogue), "--json"]) == 0
    document = one_document(capsys.readouterr().out)
    tiny = next(m for m in document["models"] if m["name"] == "tiny")
    assert tiny["installed"] and tiny["verified"] and tiny["path"].endswith("tiny.gguf")
    assert main(["models", "--catalogue", str(user_catalogue), "install", "tiny", "--json"]) == 0
    captured = capsys.readouterr()
    assert one_document(captured.out) == {"installed": {"tiny": tiny["path"]}, "failed": {}}
    # `models --json install`: the group's flag reaches the subcommand
    assert main(["models", "--catalogue", str(user_catalogue), "--json", "install", "tiny"]) == 0
    assert one_document(capsys.readouterr().out)["failed"] == {}


def test_models_install_failure_json(user_catalogue: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (user_catalogue.parent / "tiny.gguf").write_bytes(b"GGUF tinx")
    assert main(["models", "--catalogue", str(user_catalogue), "install", "tiny", "--json"]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert "corrupt" in error_line(captured.err) or "sha256" in captured.err
    assert list(one_document(captured.out)["failed"]) == ["tiny"]


def finished_run(tiny_task: Path, tmp_path: Path) -> Path:
    """A run folder whose run finished (scripted models: one improving edit, then Final Answer)."""
    from conftest import IMPROVED_TRAIN
    from fakes import ScriptedModels
    from test_graph_edges import code, edit, plan

    from budgetmlagent.graph import Context, build_graph
    from budgetmlagent.runtime.durable import open_checkpointer, thread_config

    priced = "openai:gpt-4o"
    context = Context(
        planner_models=[priced],
        coder_models=[priced],
        debugger_models=[priced],
        worker_model=priced,
        use_expert=False,
        use_retrieval=False,
        keep_improving=False,
        cache_dir=str(tmp_path / "cache"),
        chat_model_factory=ScriptedModels(
            {
                priced: [
                    plan("List Files", dir_path="."),
                    edit(),
                    code(IMPROVED_TRAIN),
                    plan("Final Answer", final_answer="done"),
                ]
            }
        ),
    )
    run_dir = tmp_path / "run"
    saver = open_checkpointer(run_dir)
    try:
        build_graph(checkpointer=saver).invoke(
            {"task_dir": str(tiny_task), "run_dir": str(run_dir)}, context=context, config=thread_config(200)
        )
    finally:
        saver.conn.close()
    return run_dir


def test_resume_json_on_a_finished_run(tiny_task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = finished_run(tiny_task, tmp_path)
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--json"]) == 0
    captured = capsys.readouterr()
    assert one_document(captured.out)["status"] and "already finished" in captured.err


@pytest.fixture
def fake_sweep(monkeypatch: pytest.MonkeyPatch) -> FakeRunner:
    """`bench` with every cell run by the harness tests' fake runner, and no check of installed models."""
    runner = FakeRunner(success={"titanic/single-base/seed0"})

    class FakeSweep(Sweep):
        def __init__(self, settings: SweepSettings, log: Any = print, on_cell: Any = None) -> None:
            super().__init__(settings, runner, log, on_cell)

    monkeypatch.setattr(harness, "Sweep", FakeSweep)
    monkeypatch.setattr(bench_command, "check_cell_settings", lambda *args, **kw: None)
    return runner


def test_bench_json_and_relative_command(
    fake_sweep: FakeRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "sweep"
    argv = ["bench", "--tasks", "titanic", "--configs", "single-base", "--out", str(out), "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    document = one_document(captured.out)
    assert [r["key"] for r in document["records"]] == ["titanic/single-base/seed0"] == fake_sweep.calls
    assert document["summary"]["aggregate"]["configs"] == ["single-base"]
    assert document["report"] == str(out / "report.md")
    assert "sweep: 1 tasks" in captured.err  # the log is on stderr
    sweep = document["sweep"]
    # the command as given to main (not pytest's argv), its --out relative to the working folder
    assert sweep["command"] == "budgetmlagent bench --tasks titanic --configs single-base --out sweep --json"
    assert sweep["tasks"] == ["benchmarks/tasks/titanic"]
    assert str(tmp_path) not in (out / "report.md").read_text()

    assert main([*argv[:-1], "--report-only"]) == 0  # human mode: the result line on stdout
    assert capsys.readouterr().out.strip() == f"report: {out / 'report.md'}"


# --- errors: stderr, documented exit codes, nothing on stdout ---------------------------------------------------

ERRORS: dict[str, tuple[list[str], int, str]] = {
    "no command": ([], EXIT_USAGE, "usage: budgetmlagent"),
    "tasks without its action": (["tasks"], EXIT_USAGE, "usage: budgetmlagent tasks"),
    "tasks check on nothing": (["tasks", "check", "{tmp}/nowhere", "--json"], EXIT_FAILED, "no task folder"),
    "bench with an unknown configuration": (
        ["bench", "--tasks", "titanic", "--configs", "cascade+oracle", "--out", "{tmp}/sw", "--json"],
        EXIT_USAGE,
        "unknown configuration 'cascade+oracle'",
    ),
    "bench with zero seeds": (
        ["bench", "--tasks", "titanic", "--seeds", "0", "--out", "{tmp}/sw", "--json"],
        EXIT_USAGE,
        "--seeds 0: must be 1 or more",
    ),
    "bench report of an empty sweep": (
        ["bench", "--tasks", "titanic", "--report-only", "--out", "{tmp}/sw", "--json"],
        EXIT_FAILED,
        "has no finished cells yet",
    ),
    "resume of a folder without checkpoints": (["resume", "{tmp}", "--json"], EXIT_USAGE, "not a resumable run"),
    "models with a broken catalogue": (["models", "--catalogue", "{tmp}/bad.toml", "--json"], EXIT_USAGE, "error:"),
    "models install of an unknown name": (
        ["models", "--catalogue", "{tmp}/bad.toml", "install", "nope", "--json"],
        EXIT_USAGE,
        "error:",
    ),
    "models smoke without the model": (["models", "smoke", "--json"], EXIT_FAILED, "error:"),
    "run on a missing task": (["run", "{tmp}/nowhere", "--out", "{tmp}/out", "--json"], EXIT_FAILED, "error:"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_go_to_stderr_with_the_documented_exit_code(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, code, says = ERRORS[case]
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv(CATALOGUE_ENV, "")
    (tmp_path / "bad.toml").write_text('[models."x"]\nsource = 3\n' if "unknown" not in case else "")
    (tmp_path / "sw").mkdir()
    assert main([arg.replace("{tmp}", str(tmp_path)) for arg in argv]) == code
    captured = capsys.readouterr()
    assert captured.out == ""  # no half document: stdout is empty on an error
    assert says in captured.err


def test_an_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["tasks", "list", "--no-such-flag"])
    assert stop.value.code == EXIT_USAGE
    captured = capsys.readouterr()
    assert not captured.out and "unrecognized arguments: --no-such-flag" in captured.err


def test_the_documented_exit_codes_are_the_ones_in_cli() -> None:
    from budgetmlagent import cli

    doc = (REPO / "docs" / "cli.md").read_text()
    table = dict(re.findall(r"^\| `(\d+)` \| (.+) \|$", doc, re.MULTILINE))
    assert set(table) == {str(c) for c in (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_USAGE, cli.EXIT_INTERRUPTED)}


# --- paths relative to the repository ---------------------------------------------------------------------------


def test_relative_to_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert repo_root() == REPO
    monkeypatch.chdir(tmp_path)
    assert relative_to_repo(TITANIC) == "benchmarks/tasks/titanic"
    assert relative_to_repo(REPO) == "."
    assert relative_to_repo(tmp_path / "a" / "b") == "a/b"  # outside the repository: relative to the working folder
    assert relative_to_repo("a/b") == "a/b"
    assert relative_to_repo("/elsewhere/x") == "/elsewhere/x"  # outside both: absolute
    assert relative_command(f"budgetmlagent bench --tasks {TITANIC} x --out={tmp_path}/o --out /elsewhere") == (
        "budgetmlagent bench --tasks benchmarks/tasks/titanic x --out=o --out /elsewhere"
    )
    assert relative_command(f"budgetmlagent bench --out '{REPO}/runs/a b'") == "budgetmlagent bench --out 'runs/a b'"
    message = f"No such file: '{REPO}/runs/x/submission.csv' nor /other{REPO}/y"
    assert relative_paths_in(message) == f"No such file: 'runs/x/submission.csv' nor /other{REPO}/y"


def test_the_working_folder_at_the_root_is_not_an_anchor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    assert relative_to_repo("/elsewhere/x") == "/elsewhere/x"
    assert relative_paths_in("see /elsewhere/x") == "see /elsewhere/x"


def test_sweep_records_relative_paths_and_resumes_from_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "results" / "sweep"
    beta = tmp_path / "tasks" / "beta"
    settings = SweepSettings(
        tasks=[TITANIC, beta],
        configs=["single-base"],
        out=out,
        command=f"budgetmlagent bench --tasks {TITANIC} {beta} --out {out}",
        context_overrides={"cache_dir": str(tmp_path / "cache")},
    )
    (beta / "env").mkdir(parents=True)
    runner = FakeRunner()

    def crashing(cell: Any, s: SweepSettings, run_dir: Path) -> dict[str, Any]:
        if cell.task == "beta":  # an error message that quotes an absolute path
            raise FileNotFoundError(f"no such file {beta}/env/train.py")
        return runner(cell, s, run_dir)

    Sweep(settings, crashing, log=lambda _: None).run()
    recorded = json.loads((out / SWEEP_FILE).read_text())
    assert recorded["tasks"] == ["benchmarks/tasks/titanic", "tasks/beta"]
    assert recorded["command"] == "budgetmlagent bench --tasks benchmarks/tasks/titanic tasks/beta --out results/sweep"
    assert recorded["settings"] == {"cache_dir": "cache"}
    text = (out / RESULTS_FILE).read_text()
    assert str(tmp_path) not in text and "FileNotFoundError: no such file tasks/beta/env/train.py" in text
    crash_files = list((out / "runs" / "beta" / "single-base").glob("*/crash-*.txt"))
    assert len(crash_files) == 2
    assert all(str(tmp_path) not in f.read_text() and str(REPO) not in f.read_text() for f in crash_files)

    # Resuming from what sweep.json recorded (relative task folders) finds the finished cells.
    again = FakeRunner()
    # a relative task folder is the repository's, else the working folder's (where `bench` was run)
    tasks = [REPO / p if (REPO / p).is_dir() else Path(p) for p in recorded["tasks"]]
    resumed = SweepSettings(tasks=tasks, configs=recorded["configs"], out=Path("results/sweep"), command="x")
    records = Sweep(resumed, again, log=lambda _: None).run()
    assert again.calls == [] and len(records) == 2 == len(load_results(out))
    recorded = json.loads((out / SWEEP_FILE).read_text())
    assert recorded["tasks"] == ["benchmarks/tasks/titanic", "tasks/beta"] and len(recorded["resumed"]) == 1
