"""Pure helpers of the sandbox (env scrubbing, output truncation, tracebacks) and its fallback flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from budgetmlagent.workspace import sandbox
from budgetmlagent.workspace.sandbox import last_traceback, scrub_env, truncate_middle


def test_scrub_env_drops_secrets_and_keeps_the_rest() -> None:
    env = {
        "OPENAI_API_KEY": "x",
        "GOOGLE_API_KEY": "x",
        "GOOGLE_APPLICATION_CREDENTIALS": "x",
        "ANTHROPIC_BASE_URL": "x",
        "AWS_ACCESS_KEY_ID": "x",
        "HF_TOKEN": "x",
        "GITHUB_TOKEN": "x",
        "MY_SECRET": "x",
        "some_api_key": "x",
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": "2",
    }
    assert scrub_env(env) == {"PATH": "/usr/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "2"}


def test_truncate_middle_keeps_head_and_tail() -> None:
    text = "H" * 500 + "M" * 10_000 + "T" * 500
    out = truncate_middle(text, 1000)
    assert out.startswith("H" * 400) and out.endswith("T" * 500)
    assert "characters omitted" in out
    assert truncate_middle("short", 1000) == "short"


def test_last_traceback_takes_the_last_block() -> None:
    stderr = (
        'warning\nTraceback (most recent call last):\n  File "a.py", line 1\nValueError: one\n'
        "more\nTraceback (most recent call last):\n  File \"b.py\", line 2\nKeyError: 'two'\n"
    )
    block = last_traceback(stderr)
    assert block is not None and block.startswith("Traceback") and block.endswith("KeyError: 'two'")
    assert "ValueError" not in block
    assert last_traceback("all good\n") is None


def test_no_namespaces_falls_back_unconfined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "namespace_prefix", lambda **_: None)
    (tmp_path / "hello.py").write_text("print('hello')\n")
    run = sandbox.run_script(tmp_path, "hello.py", timeout_s=30)
    assert run.ok and run.stdout.strip() == "hello"
    assert not run.filesystem_confined and not run.network_isolated


def test_network_only_when_mounts_are_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An empty prefix stands in for a working `unshare -n`; the mount namespace is what is missing.
    monkeypatch.setattr(sandbox, "namespace_prefix", lambda *, network, filesystem: None if filesystem else ())
    (tmp_path / "hello.py").write_text("print('hello')\n")
    run = sandbox.run_script(tmp_path, "hello.py", timeout_s=30)
    assert run.ok and not run.filesystem_confined and run.network_isolated
