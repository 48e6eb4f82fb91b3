"""Real script runs in the sandbox, and real baseline scoring of the bundled titanic task."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from budgetmlagent.workspace.sandbox import namespace_prefix, network_isolation_prefix, run_script
from budgetmlagent.workspace.scoring import baseline_score, score_workspace, verdict
from budgetmlagent.workspace.task import load_task
from budgetmlagent.workspace.workspace import Workspace

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TITANIC = REPO / "benchmarks" / "tasks" / "titanic"

SPAWNER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)  # TAG"])
print("child", child.pid, flush=True)
time.sleep(1000)
"""

ESCAPER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)  # TAG"], start_new_session=True)
print("child", child.pid, flush=True)
time.sleep(1000)
"""

WRITE_OUTSIDE = """
import ctypes, os
for path in [*PATHS, os.path.expandvars("$HOME/../HOME_NAME")]:
    try:
        with open(path, "w") as handle:
            handle.write("escaped")
        print("WROTE", path)
    except OSError as exc:
        print("BLOCKED", path, exc.errno)
libc = ctypes.CDLL(None, use_errno=True)
remount = libc.mount(b"none", b"/", None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND: read-write again
print("REMOUNT", "failed" if remount != 0 else "worked")
"""

WRITE_INSIDE = """
import tempfile
import numpy, pandas, sklearn, torch
open("result.txt", "w").write("42")
with tempfile.NamedTemporaryFile(delete=False) as handle:
    handle.write(b"tmp")
open(SHM, "w").write("shm")  # torch DataLoader workers need a writable /dev/shm
print("TMP", handle.name)
"""

confined_only = pytest.mark.skipif(
    namespace_prefix(network=True, filesystem=True) is None, reason="no mount namespace here (needs root or userns)"
)

# The bundled reference improvement (kept outside env/, never shown to the agent).
IMPROVED_TRAIN = (TITANIC / "reference" / "train.py").read_text()


def tagged(tag: str) -> list[int]:
    """Live host pids whose command line holds tag (a PID namespace gives the script other numbers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if tag.encode() in cmdline and state.split()[1] != "Z":
            found.append(int(entry.name))
    return found


def wait_gone(tag: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not tagged(tag):
            return True
        time.sleep(0.05)
    return not tagged(tag)


@pytest.mark.parametrize("script", [SPAWNER, ESCAPER], ids=["same-group", "setsid-escape"])
def test_timeout_kills_script_and_its_children(tmp_path: Path, script: str) -> None:
    tag = f"sandbox-child-{uuid.uuid4().hex}"
    (tmp_path / "forever.py").write_text(script.replace("TAG", tag))
    start = time.monotonic()
    run = run_script(tmp_path, "forever.py", timeout_s=2)
    assert run.timed_out and not run.ok
    assert time.monotonic() - start < 10
    assert "child" in run.stdout, run.output
    assert wait_gone(tag), f"children {tagged(tag)} survived the timeout"


def test_api_keys_are_not_visible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("GOOGLE_API_KEY", "google-should-not-leak")
    monkeypatch.setenv("HF_TOKEN", "hf-should-not-leak")
    (tmp_path / "env.py").write_text(
        "import os\nprint(sorted(os.environ.items()))\nprint('HOME=' + os.environ['HOME'])\n"
    )
    run = run_script(tmp_path, "env.py", timeout_s=30)
    assert run.ok, run.output
    assert "should-not-leak" not in run.stdout
    assert f"HOME={tmp_path.resolve()}" in run.stdout


def test_script_writes_inside_workspace(tmp_path: Path) -> None:
    code = "import tempfile\nopen('result.txt', 'w').write('42')\nprint(tempfile.gettempdir())\n"
    (tmp_path / "write.py").write_text(code)
    run = run_script(tmp_path, "write.py", timeout_s=30)
    assert run.ok, run.output
    assert (tmp_path / "result.txt").read_text() == "42"
    assert run.stdout.strip() == str(tmp_path.resolve() / ".tmp")


def test_network_is_cut_when_unshare_works(tmp_path: Path) -> None:
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n"
        "    print('CONNECTED')\n"
        "except OSError as exc:\n"
        "    print('BLOCKED', exc)\n"
    )
    (tmp_path / "net.py").write_text(code)
    run = run_script(tmp_path, "net.py", timeout_s=30)
    assert run.network_isolated is (network_isolation_prefix() is not None)
    if run.network_isolated:
        assert "BLOCKED" in run.stdout


@confined_only
def test_writes_outside_the_workspace_fail(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    tag = uuid.uuid4().hex
    targets = [
        Path("/tmp") / f"escape-{tag}",
        REPO.parent / f"escape-{tag}",  # /work, above the checkout
        Path(f"/proc/1/root/tmp/escape-root-{tag}"),  # the host's root seen through another process
    ]
    script = WRITE_OUTSIDE.replace("PATHS", repr(list(map(str, targets)))).replace("HOME_NAME", f"escape-{tag}")
    (workspace / "escape.py").write_text(script)
    on_host = [*targets[:2], Path(f"/tmp/escape-root-{tag}"), tmp_path / f"escape-{tag}"]
    mounts_before = Path("/proc/self/mounts").read_text()
    try:
        run = run_script(workspace, "escape.py", timeout_s=30)
        assert run.ok and run.filesystem_confined, run.output
        assert "WROTE" not in run.stdout and run.stdout.count("BLOCKED") == 4, run.stdout
        assert "REMOUNT failed" in run.stdout
        assert not [path for path in on_host if path.exists()], "written from inside the sandbox"
        assert Path("/proc/self/mounts").read_text() == mounts_before, "mounts leaked into the host"
    finally:
        for path in on_host:
            path.unlink(missing_ok=True)


@confined_only
def test_confined_script_writes_workspace_tmp_and_private_shm(tmp_path: Path) -> None:
    shm = Path("/dev/shm") / f"sandbox-{uuid.uuid4().hex}"
    (tmp_path / "inside.py").write_text(WRITE_INSIDE.replace("SHM", repr(str(shm))))
    run = run_script(tmp_path, "inside.py", timeout_s=120)
    assert run.ok and run.filesystem_confined, run.output
    assert (tmp_path / "result.txt").read_text() == "42"
    tmp_file = Path(run.stdout.split("TMP", 1)[1].split()[0])
    assert tmp_file.parent == tmp_path.resolve() / ".tmp" and tmp_file.read_bytes() == b"tmp"
    assert not shm.exists(), "the sandbox's /dev/shm is not private"


def test_memory_limit_stops_a_hog(tmp_path: Path) -> None:
    (tmp_path / "hog.py").write_text("x = bytearray(3 * 1024 ** 3)\nprint('allocated')\n")
    run = run_script(tmp_path, "hog.py", timeout_s=30, memory_limit_mb=1024)
    assert not run.ok and "allocated" not in run.stdout
    assert run.traceback is not None and "MemoryError" in run.traceback


def test_titanic_baseline_measured_cached_and_improvable(tmp_path: Path) -> None:
    task = load_task(TITANIC)
    cache = tmp_path / "cache"
    first = baseline_score(task, cache, timeout_s=120)
    assert first.source == "measured", first.error
    assert first.score is not None and 0.6 < first.score < 0.75
    start = time.monotonic()
    second = baseline_score(task, cache, timeout_s=120)
    assert second.source == "cache" and second.score == first.score
    assert time.monotonic() - start < 1

    ws = Workspace.create(task, tmp_path / "run" / "workspace")
    (ws.root / "train.py").write_text(IMPROVED_TRAIN)
    run = run_script(ws.root, "train.py", timeout_s=120)
    assert run.ok and "Validation accuracy" in run.stdout, run.output
    improved = score_workspace(task, ws.root, timeout_s=120)
    assert improved.score is not None, improved.error
    result = verdict(improved.score, first.score, task.direction)
    assert result.success, (improved.score, first.score)
    assert not (task.env_dir / "submission.csv").exists()
    print(f"titanic baseline {first.score:.4f} improved {improved.score:.4f} ({result.improvement:+.1%})")


@confined_only
def test_scoring_code_cannot_change_answers_or_the_workspace(tiny_task: Path, tmp_path: Path) -> None:
    # eval.py of timing tasks imports the agent's code: whatever runs while scoring is sandboxed too
    (tiny_task / "scripts" / "answer.txt").write_text("0.5")
    (tiny_task / "scripts" / "eval.py").write_text(
        "from pathlib import Path\n\n\ndef get_score(folder):\n"
        "    for target in (Path('answer.txt'), Path(folder) / 'train.py'):\n"
        "        try:\n            target.write_text('tampered')\n"
        "        except OSError as exc:\n            print('refused', target.name, type(exc).__name__)\n"
        "    return float(Path('answer.txt').read_text())\n"
    )
    task = load_task(tiny_task)
    ws = Workspace.create(task, tmp_path / "ws")
    result = score_workspace(task, ws.root, timeout_s=60)
    assert result.score == 0.5, result.error
    assert (tiny_task / "scripts" / "answer.txt").read_text() == "0.5"
    assert "tampered" not in (ws.root / "train.py").read_text()
