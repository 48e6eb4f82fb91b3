"""Pure helpers of the sandbox (env scrubbing, output truncation, tracebacks) and its fallback flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from budgetmlagent.workspace import sandbox
from budgetmlagent.workspace.sandbox import (
    clean_output,
    describe_sandbox,
    hide_plan,
    last_traceback,
    namespaces,
    pid_max_is_namespaced,
    sandbox_env,
    script_argument,
    scrub_env,
    truncate_middle,
)


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


@pytest.mark.adversarial("sandbox")
def test_scrub_env_is_an_allow_list_with_the_secret_patterns_on_top() -> None:
    env = {
        # Needed by Python, numpy, torch and scikit-learn: kept.
        "PATH": "/usr/bin",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "PYTHONHASHSEED": "0",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "0",
        # Not on the list, though no name looks secret: dropped.
        "DB_URL": "postgres://user:pw@db",
        "HTTP_PROXY": "http://user:pw@proxy",
        "SSH_AUTH_SOCK": "/tmp/agent.sock",
        "KUBECONFIG": "/root/.kube/config",
        "LD_PRELOAD": "/tmp/evil.so",
        # On an allowed prefix, but secret-looking: dropped by the second filter.
        "TORCH_HUB_TOKEN": "x",
        "CUDA_SECRET": "x",
        "NCCL_PASSWORD": "x",
    }
    kept = scrub_env(env)
    assert sorted(kept) == [
        "CUDA_VISIBLE_DEVICES",
        "LC_ALL",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "PATH",
        "PYTHONHASHSEED",
        "TZ",
    ]
    assert scrub_env({"MY_FLAG": "1", "MY_TOKEN": "x"}, ["MY_FLAG", "MY_TOKEN"]) == {"MY_FLAG": "1"}


def test_sandbox_env_points_home_and_tmp_into_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/root")
    env = sandbox_env(tmp_path)
    assert env["HOME"] == str(tmp_path) and env["TMPDIR"] == str(tmp_path / ".tmp")
    assert (tmp_path / ".tmp").is_dir() and "PATH" in env


def test_clean_output_removes_escapes_and_control_bytes() -> None:
    raw = "epoch 1\r\x1b[2K\x1b[31mloss\x1b[0m 0.5\x00\x07\tok\r\n\x1b]0;title\x07done\x1bc"
    assert clean_output(raw) == "epoch 1\nloss 0.5\tok\ndone"


def test_a_script_name_with_a_leading_dash_is_not_an_option() -> None:
    assert script_argument("-c.py") == "./-c.py"
    assert script_argument("train.py") == "train.py"


def test_hide_plan_leaves_holes_for_the_workspace_and_python(tmp_path: Path) -> None:
    private = tmp_path / "private"
    (private / "keep" / "workspace").mkdir(parents=True)
    (private / "secret.txt").write_text("x")
    workspace = private / "keep" / "workspace"
    plan = dict(hide_plan([private, tmp_path / "missing", workspace], workspace))
    assert plan == {str(private): [str(workspace)]}  # the workspace itself is never covered


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


def test_a_script_that_does_not_compile_has_a_traceback(tmp_path: Path) -> None:
    """Python reports a SyntaxError of the main script without the Traceback head; the debugger still needs it."""
    (tmp_path / "broken.py").write_text("import os\nsubmission = dict({\n")
    run = sandbox.run_script(tmp_path, "broken.py", timeout_s=30)
    assert not run.ok and run.traceback is not None
    assert run.traceback.startswith('File "') and "SyntaxError" in run.traceback
    assert last_traceback('  File "x.py", line 3 is what I print\nall good\n') is None


def test_no_namespaces_falls_back_unconfined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(namespaces, "isolation", lambda **_: sandbox.Isolation((), False, False, False))
    (tmp_path / "hello.py").write_text("print('hello')\n")
    run = sandbox.run_script(tmp_path, "hello.py", timeout_s=30)
    assert run.ok and run.stdout.strip() == "hello"
    assert not run.filesystem_confined and not run.network_isolated


def test_network_only_when_mounts_are_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `env` stands in for a working `unshare -n` (it runs the prelude unchanged); mounts are what is missing.
    monkeypatch.setattr(namespaces, "isolation", lambda **_: sandbox.Isolation(("env",), True, False, False))
    (tmp_path / "hello.py").write_text("print('hello')\n")
    run = sandbox.run_script(tmp_path, "hello.py", timeout_s=30)
    assert run.ok and not run.filesystem_confined and run.network_isolated


def test_pid_max_is_per_namespace_from_linux_6_14() -> None:
    assert pid_max_is_namespaced("6.14.0-1-generic") and pid_max_is_namespaced("7.0.1")
    assert not pid_max_is_namespaced("6.13.9") and not pid_max_is_namespaced("5.15.0-91")


def test_describe_sandbox_reports_what_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(namespaces, "isolation", lambda **_: sandbox.Isolation(("unshare",), True, False, False))
    report = describe_sandbox()
    assert report["network_isolated"] and not report["filesystem_confined"] and not report["process_count_capped"]
