"""The CLI parses and documents itself without importing the heavy stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from budgetmlagent.cli import build_parser, main


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys; from budgetmlagent.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('torch', 'chromadb', 'sentence_transformers', 'langchain_core', 'langgraph') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_run_flags_parse() -> None:
    args = build_parser().parse_args(
        ["run", "task", "--preset", "single:local:qwen2.5-coder-1.5b", "--max-steps", "4", "--budget-usd", "0.5",
         "--script-timeout", "30", "--out", "o", "--seed", "3", "--no-retrieval"]
    )  # fmt: skip
    assert (args.max_steps, args.budget_usd, args.script_timeout, args.seed) == (4, 0.5, 30.0, 3)
    assert args.no_retrieval and not args.no_expert and args.handler.__name__ == "run_command"


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "run" in capsys.readouterr().err  # a usage error: help on stderr


def test_run_on_a_missing_task_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert code == 1
    assert (tmp_path / "out" / "result.json").exists()
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("typed", "decision"),
    [
        (["a"], {"decision": "approve"}),
        ([""], {"decision": "approve"}),
        (["d", "use fewer epochs"], {"decision": "deny", "reason": "use fewer epochs"}),
        (["e", '{"script_name": "other.py"}'], {"decision": "edit", "action_input": {"script_name": "other.py"}}),
        (["e", "not json"], {"decision": "deny"}),
        (["x"], {"decision": "deny", "reason": "unrecognised answer 'x'"}),
    ],
)
def test_the_approval_prompt(monkeypatch: pytest.MonkeyPatch, typed: list[str], decision: dict) -> None:
    from rich.console import Console

    from budgetmlagent.run_command import ask_person

    answers = iter(typed)
    monkeypatch.setattr("builtins.input", lambda _prompt="": next(answers))
    request = {"action": "Execute Script", "action_input": {"script_name": "train.py"}, "why": "test it"}
    got = ask_person(Console(file=open("/dev/null", "w")), request)  # noqa: SIM115
    assert got.items() >= decision.items()


def test_approval_prompt_without_a_person_denies(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from budgetmlagent.run_command import ask_person

    def closed(_prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", closed)
    request = {"action": "Final Answer", "action_input": {}, "why": "done"}
    assert ask_person(Console(file=open("/dev/null", "w")), request)["decision"] == "deny"  # noqa: SIM115
