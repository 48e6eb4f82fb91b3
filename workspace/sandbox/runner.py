"""Process running: one confined child per script, its limits, its result, and nothing left behind.

run_process starts the prelude (inside the namespaces that work here) with its own session and process
group, stdin empty and cwd the workspace; it sets RLIMIT_AS, RLIMIT_CPU, RLIMIT_FSIZE and RLIMIT_CORE 0 before
exec; on timeout it sends SIGTERM, then SIGKILL; at the end it kills the process group and every process that
carries the run's marker variable, and reads the script's exit status from the prelude's private pipe.
run_script is the same for `python -u script` with the sandbox environment and defaults.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# namespaces.isolation is looked up at each run, so that a test can stand in for the probe in one place.
from budgetmlagent.workspace.sandbox import namespaces
from budgetmlagent.workspace.sandbox.environment import DEFAULT_MAX_PROCESSES, SANDBOX_MARKER, cpu_backstop, sandbox_env
from budgetmlagent.workspace.sandbox.launch import TERM_GRACE_S, config_file, prelude_argv, prelude_config
from budgetmlagent.workspace.sandbox.namespaces import default_hidden_paths, hide_plan
from budgetmlagent.workspace.sandbox.output import OutputCapture, last_traceback, truncate_middle


@dataclass(frozen=True)
class ScriptRun:
    """What one script run did, and which parts of the sandbox held."""

    returncode: int | None
    stdout: str
    stderr: str
    output: str
    timed_out: bool
    seconds: float
    traceback: str | None
    network_isolated: bool
    filesystem_confined: bool = False
    processes_contained: bool = False
    process_limit: int | None = None

    @property
    def ok(self) -> bool:
        """Exited 0 within the time limit."""
        return self.returncode == 0 and not self.timed_out


def _preexec(memory_limit_mb: int | None, cpu_limit_s: float | None, file_limit_mb: int | None) -> Callable[[], None]:
    """Build the child-side limit setter (runs after fork, before exec)."""

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory_limit_mb:
            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if cpu_limit_s is not None:
            seconds = max(1, math.ceil(cpu_limit_s))
            # Soft limit sends SIGXCPU, the hard limit one second later SIGKILL.
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
        if file_limit_mb:
            size = file_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


def _kill_group(pgid: int, sig: int) -> None:
    """Signal a process group, ignoring one that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill_marked(marker: str) -> None:
    """SIGKILL any process whose environment carries this run's marker (catches setsid escapes)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return
    needle = f"{SANDBOX_MARKER}={marker}".encode()
    own = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _read_status(fd: int) -> tuple[int | None, int | None]:
    """(the script's exit code, the process cap) from the prelude's status pipe, each None when not reported."""
    os.set_blocking(fd, False)
    chunks = []
    with contextlib.suppress(BlockingIOError, OSError):
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
    code = cap = None
    for line in b"".join(chunks).decode(errors="replace").splitlines():
        kind, _, value = line.partition(" ")
        if kind == "exit" and value.isdigit():
            code = os.waitstatus_to_exitcode(int(value))
        elif kind == "cap" and value.isdigit():
            cap = int(value)
    return code, cap


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    memory_limit_mb: int | None = None,
    cpu_limit_s: float | None = None,
    file_limit_mb: int | None = None,
    isolate_network: bool = False,
    confine_filesystem: bool = False,
    max_output_chars: int = 10_000,
    max_processes: int | None = DEFAULT_MAX_PROCESSES,
    hidden_paths: Sequence[Path] = (),
    read_only_paths: Sequence[Path] = (),
) -> ScriptRun:
    """Run argv in its own session with limits, capturing output; never leaves a process behind.

    confine_filesystem leaves only cwd (and a private /dev/shm) writable, hides hidden_paths and makes
    read_only_paths read-only, where the host allows it; a memory or file limit of 0 or None means none.
    """
    found = namespaces.isolation(network=isolate_network, filesystem=confine_filesystem)
    marker = uuid.uuid4().hex
    env = {**env, SANDBOX_MARKER: marker}
    status_read, status_write = os.pipe()
    config = prelude_config(
        mounts=found.filesystem,
        init=found.pids,
        hide=hide_plan([*hidden_paths, *default_hidden_paths()], cwd) if found.filesystem else (),
        read_only=[str(Path(p).absolute()) for p in read_only_paths] if found.filesystem else (),
        max_pids=max_processes,
        status_fd=status_write,
    )
    start = time.monotonic()
    with config_file(config) as config_fd:
        try:
            proc = subprocess.Popen(
                prelude_argv(found.prefix, config_fd, argv),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=(config_fd, status_write),
                preexec_fn=_preexec(memory_limit_mb, cpu_limit_s, file_limit_mb),
            )
        finally:
            os.close(status_write)
    capture = OutputCapture(proc)
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid, signal.SIGTERM)  # the supervisor passes it on, and SIGKILLs after a grace
        try:
            proc.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        # Whatever the script left running (background children, daemons) dies with it.
        _kill_group(proc.pid, signal.SIGKILL)
        _kill_marked(marker)
        capture.finish()
        script_code, process_cap = _read_status(status_read)
        os.close(status_read)
    seconds = time.monotonic() - start
    stdout, stderr, output = capture.texts()
    # unshare and the supervisor report their own exit; the supervisor reported the script's wait status.
    returncode = script_code if script_code is not None else proc.returncode
    return ScriptRun(
        returncode=returncode,
        stdout=stdout,
        stderr=stderr,
        output=truncate_middle(output, max_output_chars),
        timed_out=timed_out,
        seconds=seconds,
        traceback=last_traceback(stderr),
        network_isolated=isolate_network and found.network,
        filesystem_confined=found.filesystem,
        processes_contained=found.pids,
        process_limit=process_cap,
    )


def script_argument(rel: str) -> str:
    """The script's name as python's argument: one starting with '-' would be read as an option."""
    return f"./{rel}" if rel.startswith("-") else rel


def run_script(
    workspace_root: Path,
    script: str,
    *,
    timeout_s: float,
    memory_limit_mb: int | None = 4096,
    max_output_chars: int = 10000,
    cpu_limit_s: float | None = None,
    file_limit_mb: int | None = 8192,
    isolate_network: bool = True,
    confine_filesystem: bool = True,
    max_processes: int | None = DEFAULT_MAX_PROCESSES,
    hidden_paths: Sequence[Path] = (),
    read_only_paths: Sequence[Path] = (),
    env_allow: Sequence[str] = (),
) -> ScriptRun:
    """Run `python -u script` with cwd = workspace_root inside the sandbox.

    hidden_paths (e.g. the task's scripts/) are out of the script's sight and read_only_paths cannot be
    changed, where mount namespaces work; env_allow adds variable names to the allow-list.
    """
    root = Path(workspace_root).resolve()
    path = (root / script).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ValueError(f"script {script!r} is not a file inside {root}")
    if cpu_limit_s is None:
        cpu_limit_s = cpu_backstop(timeout_s)
    return run_process(
        [sys.executable, "-u", script_argument(path.relative_to(root).as_posix())],
        cwd=root,
        env=sandbox_env(root, env_allow),
        timeout_s=timeout_s,
        memory_limit_mb=memory_limit_mb,
        cpu_limit_s=cpu_limit_s,
        file_limit_mb=file_limit_mb,
        isolate_network=isolate_network,
        confine_filesystem=confine_filesystem,
        max_output_chars=max_output_chars,
        max_processes=max_processes,
        hidden_paths=hidden_paths,
        read_only_paths=read_only_paths,
    )
