"""`budgetmlagent models` wiring (light imports, exit codes) and local-server helpers without a model."""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from budgetmlagent import models_command as commands
from budgetmlagent.providers.catalogue import CATALOGUE_ENV, MODELS_DIR_ENV
from budgetmlagent.providers.local_server import THREADS_ENV, LocalServerError, default_threads, metrics_delta


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="budgetmlagent")
    commands.add_models_parser(parser.add_subparsers(dest="command"))
    return parser


def test_subcommands_route_to_handlers() -> None:
    p = _parser()
    assert p.parse_args(["models"]).handler is commands._cmd_list
    args = p.parse_args(["models", "install", "a", "b", "--force"])
    assert args.handler is commands._cmd_install and args.names == ["a", "b"] and args.force
    args = p.parse_args(["models", "--catalogue", "x.toml", "smoke", "--threads", "1"])
    assert args.handler is commands._cmd_smoke and args.name is None and args.threads == 1
    assert args.catalogue == Path("x.toml")


def test_registering_the_parser_imports_nothing_heavy() -> None:
    code = (
        "import sys, argparse\n"
        "from budgetmlagent.models_command import add_models_parser\n"
        "p = argparse.ArgumentParser(); add_models_parser(p.add_subparsers())\n"
        "roots = ('torch', 'langchain_core', 'langchain_openai', 'xllamacpp', 'openai', 'pydantic')\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in roots]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_list_and_install_with_a_user_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    monkeypatch.setenv(CATALOGUE_ENV, "")  # recorded, so the value `--catalogue` sets is undone afterwards
    data = b"GGUF tiny"
    (tmp_path / "tiny.gguf").write_bytes(data)
    toml = tmp_path / "cat.toml"
    toml.write_text(
        f'[models."tiny"]\nsha256 = "{hashlib.sha256(data).hexdigest()}"\n'
        '[models."tiny".source]\nkind = "file"\npath = "tiny.gguf"\n'
    )
    p = _parser()
    args = p.parse_args(["models", "--catalogue", str(toml)])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "qwen2.5-coder-0.5b" in out
    args = p.parse_args(["models", "--catalogue", str(toml), "install", "tiny"])
    assert args.handler(args) == 0
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF tinx")
    assert args.handler(args) == 1
    assert "corrupt" in capsys.readouterr().err
    args = p.parse_args(["models", "--catalogue", str(toml), "install", "nope"])
    assert args.handler(args) == 2


def test_smoke_without_model_fails_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    args = _parser().parse_args(["models", "smoke"])
    assert args.handler(args) == 1
    assert "budgetmlagent models install qwen2.5-coder-0.5b" in capsys.readouterr().err


def test_default_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert default_threads() == 2
    monkeypatch.setenv(THREADS_ENV, "3")
    assert default_threads() == 3
    monkeypatch.setenv(THREADS_ENV, "many")
    with pytest.raises(LocalServerError, match=THREADS_ENV):
        default_threads()


def test_metrics_delta() -> None:
    before = {
        "prompt_tokens_total": 100,
        "prompt_seconds_total": 1.0,
        "tokens_predicted_total": 10,
        "tokens_predicted_seconds_total": 0.5,
        "prompt_tokens_cached_total": 0,
    }
    after = {
        "prompt_tokens_total": 150,
        "prompt_seconds_total": 1.5,
        "tokens_predicted_total": 30,
        "tokens_predicted_seconds_total": 1.5,
        "prompt_tokens_cached_total": 900,
    }
    d = metrics_delta(before, after)
    assert d["prompt_tokens"] == 50 and d["cached_tokens"] == 900
    assert d["prompt_per_second"] == pytest.approx(100.0) and d["decode_per_second"] == pytest.approx(20.0)
