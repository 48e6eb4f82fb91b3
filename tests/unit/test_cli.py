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
    assert "run" in capsys.readouterr().out


def test_run_on_a_missing_task_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert code == 1
    assert (tmp_path / "out" / "result.json").exists()
    assert "error" in capsys.readouterr().err
