"""Running agent-written scripts in a confined child process.

Enforced: a wall-clock timeout that kills the whole process group (and any process that escaped it
with setsid but still carries this run's marker variable); RLIMIT_AS, RLIMIT_CPU and RLIMIT_FSIZE;
an environment without API keys or secrets; HOME and TMPDIR inside the workspace; no network when
`unshare -n` works (root or user namespaces), reported in ScriptRun.network_isolated; no writes
outside the workspace when `unshare -m` works, reported in ScriptRun.filesystem_confined: in a private
mount namespace every mount except the workspace, /proc and a fresh private /dev/shm is remounted
read-only (and so are /proc/sys and /proc/sysrq-trigger), and CAP_SYS_ADMIN, CAP_SYS_PTRACE and
CAP_SYS_MODULE leave the bounding set, so the script can neither remount nor reach the host's mounts
through /proc/<pid>/root.
Not enforced: reads anywhere the OS user may read; writes to device nodes (a root script could still
write a raw block device under /dev) and to /proc/<own pid>; process-count limits (RLIMIT_NPROC does
not bind root); GPU memory.
"""

from __future__ import annotations

import contextlib
import fnmatch
import functools
import io
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

SANDBOX_MARKER = "BUDGETMLAGENT_SANDBOX_ID"
SECRET_PATTERNS: tuple[str, ...] = (
    "*_API_KEY",
    "*API_KEY*",
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*CREDENTIAL*",
    "GOOGLE_*",
    "GEMINI_*",
    "OPENAI_*",
    "ANTHROPIC_*",
    "AWS_*",
    "AZURE_*",
    "LANGSMITH_*",
    "LANGCHAIN_*",
)
_TERM_GRACE_S = 2.0
# Internal capture cap per stream, far above what observations show, so a print loop cannot exhaust RAM.
_CAPTURE_CHARS = 400_000
_TRACEBACK_HEAD = "Traceback (most recent call last):"
# Runs (as `python -I -S -c`) inside the new mount namespace, in the workspace as cwd, then execs the
# script's argv. The binds come first, as a remount of "/" leaves mounts on top of it alone.
_CONFINE_PRELUDE = r"""
import ctypes, os, re, sys
libc = ctypes.CDLL(None, use_errno=True)
RDONLY, REMOUNT, BIND, REC = 1, 32, 4096, 16384
KEEP = {"nosuid": 2, "nodev": 4, "noexec": 8, "noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21}
# The kernel knobs under /proc (as Docker does); the rest of /proc stays as it is.
PROC_RO = [p for p in ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs") if os.path.exists(p)]

def mount(source, target, fstype, flags):
    if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")

try:
    workspace = os.getcwd()
    mount(workspace, workspace, None, BIND | REC)
    os.chdir(workspace)  # the old cwd lies on the mount about to turn read-only
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", KEEP["nosuid"] | KEEP["nodev"])  # private, gone with the namespace
    for path in PROC_RO:
        mount(path, path, None, BIND)
    with open("/proc/self/mounts") as table:
        rows = [line.split() for line in table]
    for _, escaped, _, options, *_ in rows:
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), escaped)
        options = options.split(",")
        own = target == workspace or target.startswith(workspace.rstrip("/") + "/") or target == "/dev/shm"
        proc = (target == "/proc" or target.startswith("/proc/")) and target not in PROC_RO
        if own or proc or "ro" in options:
            continue
        keep = sum(flag for name, flag in KEEP.items() if name in options)
        mount("none", target, None, REMOUNT | BIND | RDONLY | keep)
    for cap in (21, 19, 16):  # CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE; PR_CAPBSET_DROP = 24
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
except OSError as exc:
    sys.exit(f"sandbox: could not confine the filesystem: {exc}")
os.execv(sys.argv[1], sys.argv[1:])
"""
# Run by the probe: writing the cwd must work and writing next to it must fail.
_CONFINE_CHECK = r"""
import sys
open("inside", "w").close()
try:
    open(sys.argv[1], "w").close()
except OSError:
    sys.exit(0)
sys.exit(1)
"""


@dataclass(frozen=True)
class ScriptRun:
    """What one script run did."""

    returncode: int | None
    stdout: str
    stderr: str
    output: str
    timed_out: bool
    seconds: float
    traceback: str | None
    network_isolated: bool
    filesystem_confined: bool = False

    @property
    def ok(self) -> bool:
        """Exited 0 within the time limit."""
        return self.returncode == 0 and not self.timed_out


def scrub_env(env: dict[str, str]) -> dict[str, str]:
    """Copy of env without variables that look like API keys, tokens or cloud credentials."""
    return {
        key: value
        for key, value in env.items()
        if not any(fnmatch.fnmatchcase(key.upper(), pattern) for pattern in SECRET_PATTERNS)
    }


def truncate_middle(text: str, limit: int) -> str:
    """Keep the head and tail of text within about limit characters, with a marker between."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    dropped = len(text) - head - tail
    return f"{text[:head]}\n... [{dropped} characters omitted] ...\n{text[-tail:]}"


def last_traceback(stderr: str) -> str | None:
    """The last Python traceback block in stderr, through the end of the text."""
    index = stderr.rfind(_TRACEBACK_HEAD)
    if index < 0:
        return None
    return stderr[index:].strip() or None


def _probe(argv: Sequence[str], cwd: Path | None = None) -> bool:
    """Whether argv exits 0 within a few seconds."""
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def namespace_prefix(*, network: bool, filesystem: bool) -> tuple[str, ...] | None:
    """The argv prefix that cuts the network and/or confines writes to the cwd here, or None (probed once)."""
    unshare = shutil.which("unshare")
    if unshare is None or not (network or filesystem):
        return None
    flags = ("-n",) if network else ()
    if filesystem:
        flags += ("-m", "--propagation", "private", sys.executable, "-I", "-S", "-c", _CONFINE_PRELUDE)
    candidates = [(unshare, *flags)] if os.geteuid() == 0 else []
    # Without root, a user namespace can still own private network and mount namespaces on many kernels.
    candidates.append((unshare, "-r", *flags))
    for prefix in candidates:
        if not filesystem:
            if _probe([*prefix, "true"]):
                return prefix
            continue
        with tempfile.TemporaryDirectory() as scratch:
            outside = Path(scratch).parent / f"sandbox-probe-{uuid.uuid4().hex}"
            try:
                if _probe([*prefix, sys.executable, "-I", "-S", "-c", _CONFINE_CHECK, str(outside)], cwd=Path(scratch)):
                    return prefix
            finally:
                outside.unlink(missing_ok=True)
    return None


def network_isolation_prefix() -> tuple[str, ...] | None:
    """The unshare prefix that cuts the network here, or None (probed once per process)."""
    return namespace_prefix(network=True, filesystem=False)


class _Capture:
    """Bounded capture of a stream: keeps the head and a rolling tail."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head: list[str] = []
        self.head_len = 0
        self.tail = ""
        self.dropped = 0

    def add(self, chunk: str) -> None:
        """Append a chunk, dropping the middle once over the limit."""
        room = self.limit // 2 - self.head_len
        if room > 0:
            self.head.append(chunk[:room])
            self.head_len += len(chunk[:room])
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            excess = len(self.tail) - self.limit // 2
            if excess > 0:
                self.dropped += excess
                self.tail = self.tail[excess:]

    def text(self) -> str:
        """Captured text with a marker where the middle was dropped."""
        middle = f"\n... [{self.dropped} characters omitted] ...\n" if self.dropped else ""
        return "".join(self.head) + middle + self.tail


def _preexec(memory_limit_mb: int | None, cpu_limit_s: float | None, file_limit_mb: int | None) -> Callable[[], None]:
    """Build the child-side limit setter (runs after fork, before exec)."""

    def apply() -> None:
        if memory_limit_mb is not None:
            limit = memory_limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if cpu_limit_s is not None:
            seconds = max(1, math.ceil(cpu_limit_s))
            # Soft limit sends SIGXCPU, the hard limit one second later SIGKILL.
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
        if file_limit_mb is not None:
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
) -> ScriptRun:
    """Run argv in its own process group with limits, capturing output; never leaves children behind.

    confine_filesystem leaves only cwd (and a private /dev/shm) writable, where the host allows it.
    """
    prefix = namespace_prefix(network=isolate_network, filesystem=True) if confine_filesystem else None
    confined = prefix is not None
    if prefix is None and isolate_network:
        prefix = network_isolation_prefix()
    marker = uuid.uuid4().hex
    env = {**env, SANDBOX_MARKER: marker}
    captures = {"stdout": _Capture(_CAPTURE_CHARS), "stderr": _Capture(_CAPTURE_CHARS)}
    combined = _Capture(_CAPTURE_CHARS)
    lock = threading.Lock()
    start = time.monotonic()
    proc = subprocess.Popen(
        [*(prefix or ()), *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_preexec(memory_limit_mb, cpu_limit_s, file_limit_mb),
    )

    def pump(stream: io.BufferedReader, name: str) -> None:
        # read1 returns whatever is available, so partial lines still arrive before a kill.
        while True:
            data = stream.read1(65536)
            if not data:
                break
            text = data.decode("utf-8", errors="replace")
            with lock:
                captures[name].add(text)
                combined.add(text)

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, "stdout"), daemon=True),
        threading.Thread(target=pump, args=(proc.stderr, "stderr"), daemon=True),
    ]
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=_TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid, signal.SIGKILL)
            proc.wait()
    finally:
        # Whatever the script left running (background children, daemons) dies with it.
        _kill_group(proc.pid, signal.SIGKILL)
        _kill_marked(marker)
        for thread in threads:
            thread.join(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    seconds = time.monotonic() - start
    with lock:
        stdout, stderr, output = captures["stdout"].text(), captures["stderr"].text(), combined.text()
    return ScriptRun(
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        output=truncate_middle(output, max_output_chars),
        timed_out=timed_out,
        seconds=seconds,
        traceback=last_traceback(stderr),
        network_isolated=isolate_network and prefix is not None,
        filesystem_confined=confined,
    )


def sandbox_env(workspace_root: Path) -> dict[str, str]:
    """Scrubbed environment with HOME and temp dirs inside the workspace."""
    tmp = workspace_root / ".tmp"
    tmp.mkdir(exist_ok=True)
    env = scrub_env(dict(os.environ))
    env.update(
        HOME=str(workspace_root),
        TMPDIR=str(tmp),
        TMP=str(tmp),
        TEMP=str(tmp),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="Agg",
    )
    return env


def cpu_backstop(timeout_s: float) -> float:
    """A CPU-seconds limit that is a backstop only: CPU time adds up across threads, so every core may
    be busy for the whole timeout."""
    return timeout_s * (os.cpu_count() or 1) + 10


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
) -> ScriptRun:
    """Run `python -u script` with cwd = workspace_root inside the sandbox."""
    root = Path(workspace_root).resolve()
    path = (root / script).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise ValueError(f"script {script!r} is not a file inside {root}")
    if cpu_limit_s is None:
        cpu_limit_s = cpu_backstop(timeout_s)
    return run_process(
        [sys.executable, "-u", path.relative_to(root).as_posix()],
        cwd=root,
        env=sandbox_env(root),
        timeout_s=timeout_s,
        memory_limit_mb=memory_limit_mb,
        cpu_limit_s=cpu_limit_s,
        file_limit_mb=file_limit_mb,
        isolate_network=isolate_network,
        confine_filesystem=confine_filesystem,
        max_output_chars=max_output_chars,
    )
