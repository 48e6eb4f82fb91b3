"""Running agent-written scripts (and the task's eval.py) in a confined child process.

Every run goes through a small supervisor (the prelude below) that forks the script, forwards signals,
reaps orphans and reports the script's exit status on a private pipe.

Enforced everywhere (Linux):
- its own session and process group, stdin empty, cwd the workspace; a wall-clock timeout: SIGTERM, and
  SIGKILL from the supervisor a second later (from here after 2 s should the supervisor not be done);
- every process the run started dies with it: in a PID namespace the kernel kills all of them when the
  supervisor (its init) exits; without one the supervisor is a child subreaper, so orphans, setsid and
  double-fork escapes included, come back to it and it kills them all; on top of that the process group
  and any process still carrying the run's marker variable are killed;
- RLIMIT_AS (address space per process; 0 = none), RLIMIT_CPU (a CPU-seconds backstop), RLIMIT_FSIZE
  (size of any one file: Python sees "File too large"), RLIMIT_CORE 0 (a crash writes no core file);
- output: each stream captured up to 400,000 characters (head and a rolling tail), the observation cut in
  the middle to max_output_chars, invalid UTF-8 replaced, ANSI escapes and control characters removed; a
  pipe held open by a survivor is drained for at most a second, never waited on;
- an environment built from an allow-list (ALLOWED_ENV, ALLOWED_ENV_PREFIXES: PATH, locale, TZ, thread
  counts, CUDA ..., plus the task's env_allow) with SECRET_PATTERNS as a second filter, so API keys and
  tokens never reach a script; HOME and TMPDIR inside the workspace;
- as root: every capability outside Docker's default set (less MKNOD) leaves the script's bounding set:
  SYS_ADMIN (mounts, namespaces), SYS_RESOURCE (it could raise its own hard limits), SYS_PTRACE, MKNOD,
  SYS_RAWIO, SYS_BOOT, SYS_TIME, NET_ADMIN, SYS_MODULE ...

Enforced where namespaces work (root, or unprivileged user namespaces); ScriptRun says what held:
- network_isolated: `unshare -n`: every connection fails at once, the host's loopback services included;
- filesystem_confined: a private mount namespace where only the workspace and a private /dev/shm are
  writable, every other mount is read-only (also /proc/sys and /proc/sysrq-trigger); block devices and
  /dev/mem, /dev/kmem, /dev/port are covered by /dev/null; hidden_paths (the task's scripts/, the
  workspace's .backup/) and the real HOME (its dotfiles may hold credentials; what Python needs inside it
  is bound back in) are covered by an empty read-only tmpfs; read_only_paths are bind-mounted read-only
  onto themselves, so they cannot be written, replaced, renamed or deleted; hard links out of the
  workspace fail (EXDEV); the workspace is mounted nodev and nosuid;
- processes_contained: a PID namespace with its own /proc: host processes, and their environment with the
  agent's API keys, are out of sight and out of reach;
- process_limit: from Linux 6.14 on pid_max is per PID namespace: a run gets at most max_processes + 300
  processes and threads (the kernel keeps the first 300 ids for start-up), a hard cap on fork bombs.

Not enforced (what the OS cannot do here without a container runtime or cgroup delegation):
- reads of files outside the workspace that the OS user may read, other than the hidden paths: system
  files, the virtual environment, the agent's own code;
- total disk use and file count (only the size of each file): a script can still fill the disk;
- memory summed over processes (RLIMIT_AS is per process and there is no cgroup): N children may use N
  times the limit; GPU memory and GPU time; RLIMIT_AS breaks CUDA (seen on an H100: 4 GiB makes
  cudaGetDeviceCount fail with "out of memory"), so GPU tasks set memory_mb to 0;
- before Linux 6.14 the number of processes (RLIMIT_NPROC does not bind root): a fork bomb is not capped,
  only killed completely at the end;
- without namespaces: the network, writes outside the workspace, hidden paths and read-only mounts (the
  check-and-restore before scoring still repairs read-only files: integrity.py), and the host's processes:
  a script may signal any process of its user, its supervisor included, and processes it started after
  killing the supervisor and clearing its environment can outlive the run.
"""

from __future__ import annotations

import codecs
import contextlib
import fnmatch
import functools
import json
import math
import os
import re
import resource
import select
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SANDBOX_MARKER = "BUDGETMLAGENT_SANDBOX_ID"
# What Python, numpy, torch and scikit-learn read from the environment; everything else is dropped.
ALLOWED_ENV: frozenset[str] = frozenset(
    {
        "PATH",
        "LANG",
        "LANGUAGE",
        "TZ",
        "TZDIR",
        "TERM",
        "PYTHONHASHSEED",
        "PYTHONIOENCODING",
        "PYTHONUTF8",
        "PYTHONWARNINGS",
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "LD_LIBRARY_PATH",
        "NVIDIA_VISIBLE_DEVICES",
        "NVIDIA_DRIVER_CAPABILITIES",
        "PYTORCH_CUDA_ALLOC_CONF",
        "TOKENIZERS_PARALLELISM",
        "HF_HUB_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_HOME",
        "HF_HUB_CACHE",
        "TORCH_HOME",
        "VECLIB_MAXIMUM_THREADS",
        "LOKY_MAX_CPU_COUNT",
        "NUMEXPR_MAX_THREADS",
        "NUMEXPR_NUM_THREADS",
        "XLA_FLAGS",
        "TF_CPP_MIN_LOG_LEVEL",
        "TF_ENABLE_ONEDNN_OPTS",
        "TF_FORCE_GPU_ALLOW_GROWTH",
    }
)
ALLOWED_ENV_PREFIXES: tuple[str, ...] = (
    "LC_",
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "GOTO_",
    "BLIS_",
    "KMP_",
    "GOMP_",
    "CUDA_",
    "CUBLAS_",
    "CUDNN_",
    "NCCL_",
    "NUMBA_",
    "TORCH_",
)
# The second filter: even an allowed name is dropped when it looks like a key, token or cloud credential.
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
DEFAULT_MAX_PROCESSES = 1024
_TERM_GRACE_S = 2.0
# Internal capture cap per stream, far above what observations show, so a print loop cannot exhaust RAM.
_CAPTURE_CHARS = 400_000
_TRACEBACK_HEAD = "Traceback (most recent call last):"
# ANSI escape sequences and control characters other than tab and newline (carriage returns become newlines).
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-~]?|[\x00-\x08\x0b-\x1f\x7f]")
# Capabilities a script keeps as root (Docker's default set without MKNOD); all others leave its bounding set.
_KEPT_CAPABILITIES = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 13, 18, 29, 31})
# After the run, how long output still in the pipes is read when a survivor keeps them open.
_DRAIN_S = 1.0

# Runs (as `python -I -S -c PRELUDE CONFIG_FD ARGV...`) before every script, inside the new namespaces when
# there are any, with the workspace as cwd. It confines the filesystem, drops capabilities, then supervises
# the script: forks it, reaps orphans, forwards signals, and reports the script's wait status on status_fd.
# In a PID namespace it is the init, whose exit kills everything left; without one it is a child subreaper
# (orphans are re-parented to it) that kills every descendant before it exits. The binds come first, as a
# remount of "/" leaves mounts on top of it alone.
_PRELUDE = r"""
import ctypes, json, os, re, signal, stat, sys
libc = ctypes.CDLL(None, use_errno=True)
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC = 1, 2, 4, 8, 32, 4096, 16384
KEEP = {"nosuid": 2, "nodev": 4, "noexec": 8, "noatime": 1024, "nodiratime": 2048, "relatime": 1 << 21}
# The kernel knobs under /proc (as Docker does); the rest of /proc stays as it is.
PROC_RO = [p for p in ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus", "/proc/fs") if os.path.exists(p)]
RAW_DEVICES = ("/dev/mem", "/dev/kmem", "/dev/port")
RESERVED_PIDS = 300
with os.fdopen(int(sys.argv[1]), "rb") as handle:
    config = json.loads(handle.read())
status_fd = config["status_fd"]
if status_fd is not None:
    os.set_inheritable(status_fd, False)  # the script must not write its own verdict

def mount(source, target, fstype, flags, data=None):
    data = data.encode() if data else None
    if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")

def read_only_bind(source, target, extra=0):
    mount(source, target, None, BIND)
    mount("none", target, None, REMOUNT | BIND | RDONLY | NOSUID | NODEV | extra)

def hide(path, holes):
    # A hole (the interpreter under a hidden HOME, the workspace) is opened before the cover goes on and
    # bound back through /proc/self/fd, the only way left to reach it.
    if os.path.isdir(path) and not os.path.islink(path):
        opened = [(hole, os.open(hole, os.O_PATH)) for hole in holes]
        mount("tmpfs", path, "tmpfs", NOSUID | NODEV | NOEXEC, "size=64k,mode=755")
        for hole, fd in opened:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.makedirs(hole, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(hole), exist_ok=True)
                open(hole, "w").close()
            mount(f"/proc/self/fd/{fd}", hole, None, BIND | REC)
            os.close(fd)
        mount("none", path, None, REMOUNT | RDONLY | NOSUID | NODEV | NOEXEC)
    elif os.path.isfile(path) and not os.path.islink(path):
        read_only_bind("/dev/null", path)

def raw_devices():
    for folder, _, names in os.walk("/dev"):
        if folder.startswith(("/dev/shm", "/dev/pts")):
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISBLK(mode) or path in RAW_DEVICES:
                yield path

def confine(workspace):
    mount(workspace, workspace, None, BIND | REC)
    mount("none", workspace, None, REMOUNT | BIND | NOSUID | NODEV)
    os.chdir(workspace)  # the old cwd lies on the mount about to turn read-only
    for path in config["read_only"]:
        if os.path.isfile(path) and not os.path.islink(path):
            read_only_bind(path, path)
    for path, holes in config["hide"]:
        hide(path, holes)
    os.chdir(workspace)  # through its hole, should a hidden folder hold it
    if os.path.isdir("/dev/shm"):
        mount("tmpfs", "/dev/shm", "tmpfs", NOSUID | NODEV)  # private, gone with the namespace
    for path in raw_devices():
        mount("/dev/null", path, None, BIND)
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

def cap_processes(limit):
    # pid_max is per PID namespace only from Linux 6.14 on; before, writing it would change the host's.
    release = re.match(r"(\d+)\.(\d+)", os.uname().release)
    if limit is None or release is None or tuple(map(int, release.groups())) < (6, 14):
        return None
    pid_max = RESERVED_PIDS + limit
    try:
        with open("/proc/sys/kernel/pid_max", "w") as knob:
            knob.write(str(pid_max))
    except OSError:
        return None
    return pid_max - 1

def drop_capabilities():
    last = int(open("/proc/sys/kernel/cap_last_cap").read()) if os.path.exists("/proc/sys/kernel/cap_last_cap") else 40
    for cap in range(last + 1):
        if cap not in config["keep_caps"] and libc.prctl(24, cap, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            # EINVAL: a capability this kernel does not know; EPERM without root: there was nothing to drop.
            if err != 22 and not (err == 1 and os.geteuid() != 0):
                raise OSError(err, f"prctl(PR_CAPBSET_DROP, {cap})")

def report(line):
    if status_fd is not None:
        os.write(status_fd, (line + "\n").encode())

def children():
    own, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == own:
                found.append(int(entry))
    return found

def kill_descendants():
    # As a subreaper every orphan of the script's tree comes back to us: kill our children (their children
    # come back in turn) until none is left, reaping as we go. Bounded, so a fork race cannot hold us here.
    for _ in range(2000):
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        pids = children()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

def supervise(argv, as_init):
    if not as_init:
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    child = os.fork()
    if child == 0:
        try:
            os.execv(argv[0], argv)
        except OSError as exc:
            print(f"sandbox: cannot run {argv[0]}: {exc}", file=sys.stderr, flush=True)
        os._exit(127)
    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass
        if signum == signal.SIGTERM:  # a timeout: the script gets a short grace, then SIGKILL from here
            signal.setitimer(signal.ITIMER_REAL, config["grace_s"])
    def stop(_signum, _frame):
        forward(signal.SIGKILL, None)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, forward)
    signal.signal(signal.SIGALRM, stop)
    while True:  # reap every orphan until the script itself is done
        pid, status = os.wait()
        if pid == child:
            break
    if not as_init:
        kill_descendants()  # an init need not: its exit makes the kernel kill what is left in the namespace
    report(f"exit {status}")
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)

try:
    if config["mounts"]:
        workspace = os.getcwd()
        cap = cap_processes(config["max_pids"]) if config["init"] else None
        if cap is not None:
            report(f"cap {cap}")
        confine(workspace)
    drop_capabilities()
except OSError as exc:
    sys.exit(f"sandbox: could not confine the script: {exc}")
supervise(sys.argv[2:], config["init"])
"""
# Run by the probe: writing the cwd must work, writing next to it must fail, and in a PID namespace the
# script is the child of the prelude's init.
_CONFINE_CHECK = r"""
import os, sys
open("inside", "w").close()
try:
    open(sys.argv[1], "w").close()
except OSError:
    sys.exit(0 if sys.argv[2] == "no-pid" or os.getpid() == 2 else 3)
sys.exit(1)
"""


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


@dataclass(frozen=True)
class Isolation:
    """The namespaces that work here and the unshare argv that creates them."""

    prefix: tuple[str, ...]
    network: bool
    filesystem: bool
    pids: bool


_NO_ISOLATION = Isolation((), network=False, filesystem=False, pids=False)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name looks like a key, token or credential."""
    return any(fnmatch.fnmatchcase(name.upper(), pattern) for pattern in SECRET_PATTERNS)


def is_allowed_env_name(name: str, extra_allowed: Iterable[str] = ()) -> bool:
    """Whether a variable may reach a script: on the allow-list (or the task's extras) and not secret-like."""
    allowed = name in ALLOWED_ENV or name.startswith(ALLOWED_ENV_PREFIXES) or name in set(extra_allowed)
    return allowed and not is_secret_name(name)


def scrub_env(env: dict[str, str], extra_allowed: Iterable[str] = ()) -> dict[str, str]:
    """Copy of env with only allow-listed variables, none of which looks like an API key or token."""
    extra = set(extra_allowed)
    return {key: value for key, value in env.items() if is_allowed_env_name(key, extra)}


def truncate_middle(text: str, limit: int) -> str:
    """Keep the head and tail of text within about limit characters, with a marker between."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    dropped = len(text) - head - tail
    return f"{text[:head]}\n... [{dropped} characters omitted] ...\n{text[-tail:]}"


def clean_output(text: str) -> str:
    """Script output fit for a prompt: carriage returns as newlines, no escape sequences or control bytes."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _ESCAPES.sub("", text)


# The last line of an error report: SyntaxError: ..., pkg.CustomError: ...
_ERROR_LINE = re.compile(r"^(?:\w+\.)*\w*(?:Error|Exception)\b", re.MULTILINE)


def last_traceback(stderr: str) -> str | None:
    """The last Python traceback block in stderr, through the end of the text.

    A script that does not compile reports its SyntaxError without the "Traceback" head (just File, line,
    caret, error); it counts too, or a cut-off coder reply would never reach the debugger.
    """
    index = stderr.rfind(_TRACEBACK_HEAD)
    if index < 0:
        index = stderr.rfind('  File "')
        if index < 0 or not _ERROR_LINE.search(stderr, index):
            return None
    return stderr[index:].strip() or None


def _prelude_config(
    *,
    mounts: bool,
    init: bool,
    hide: Sequence[tuple[str, list[str]]] = (),
    read_only: Sequence[str] = (),
    max_pids: int | None = None,
    status_fd: int | None = None,
) -> dict[str, object]:
    """What the prelude does; it reads this from an inherited file, which has no size limit."""
    return {
        "mounts": mounts,
        "init": init,
        "keep_caps": sorted(_KEPT_CAPABILITIES),
        "grace_s": _TERM_GRACE_S / 2,
        "hide": list(hide),
        "read_only": list(read_only),
        "max_pids": max_pids,
        "status_fd": status_fd,
    }


@contextlib.contextmanager
def _config_file(config: dict[str, object]) -> Iterator[int]:
    """An unlinked temp file holding config as JSON, rewound, for the child to inherit."""
    with tempfile.TemporaryFile() as handle:
        handle.write(json.dumps(config).encode())
        handle.flush()
        handle.seek(0)
        yield handle.fileno()


def _prelude_argv(prefix: Sequence[str], config_fd: int, argv: Sequence[str]) -> list[str]:
    """unshare prefix (if any), then the prelude, then the script's argv."""
    return [*prefix, sys.executable, "-I", "-S", "-c", _PRELUDE, str(config_fd), *argv]


def _probe(prefix: Sequence[str], config: dict[str, object], check: Sequence[str], cwd: Path) -> bool:
    """Whether the prelude under prefix runs check to exit 0 within a few seconds."""
    try:
        with _config_file(config) as fd:
            argv = _prelude_argv(prefix, fd, check)
            done = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=15, check=False, pass_fds=(fd,))
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _probe_confined(prefix: Sequence[str], *, pids: bool) -> bool:
    """Whether prefix gives a cwd-only writable filesystem (and, with pids, a PID namespace)."""
    config = _prelude_config(mounts=True, init=pids)
    with tempfile.TemporaryDirectory() as scratch:
        outside = Path(scratch).parent / f"sandbox-probe-{uuid.uuid4().hex}"
        check = [sys.executable, "-I", "-S", "-c", _CONFINE_CHECK, str(outside), "pid" if pids else "no-pid"]
        try:
            return _probe(prefix, config, check, Path(scratch))
        finally:
            outside.unlink(missing_ok=True)


@functools.cache
def isolation(*, network: bool, filesystem: bool) -> Isolation:
    """The strongest isolation available here for what is asked (probed once per process)."""
    unshare = shutil.which("unshare")
    if unshare is None or not (network or filesystem):
        return _NO_ISOLATION
    net = ("-n",) if network else ()
    # Without root, a user namespace can still own private network, mount and PID namespaces on many kernels.
    owners = [(unshare,)] if os.geteuid() == 0 else []
    owners.append((unshare, "-r"))
    if filesystem:
        mounts = ("-m", "--propagation", "private")
        pids = ("-p", "-f", "--mount-proc", "--kill-child")
        for owner in owners:
            if _probe_confined((*owner, *net, *mounts, *pids), pids=True):
                return Isolation((*owner, *net, *mounts, *pids), network=network, filesystem=True, pids=True)
            if _probe_confined((*owner, *net, *mounts), pids=False):
                return Isolation((*owner, *net, *mounts), network=network, filesystem=True, pids=False)
    if network:
        config = _prelude_config(mounts=False, init=False)
        for owner in owners:
            with tempfile.TemporaryDirectory() as scratch:
                if _probe((*owner, *net), config, [shutil.which("true") or "/bin/true"], Path(scratch)):
                    return Isolation((*owner, *net), network=True, filesystem=False, pids=False)
    return _NO_ISOLATION


def pid_max_is_namespaced(release: str | None = None) -> bool:
    """Whether this kernel keeps pid_max per PID namespace (Linux 6.14 and later), which caps processes."""
    match = re.match(r"(\d+)\.(\d+)", release or os.uname().release)
    return match is not None and tuple(map(int, match.groups())) >= (6, 14)


def describe_sandbox() -> dict[str, bool]:
    """What the sandbox enforces on this machine, for a run's config or report (probes once)."""
    found = isolation(network=True, filesystem=True)
    return {
        "network_isolated": found.network,
        "filesystem_confined": found.filesystem,
        "processes_contained": found.pids,
        "process_count_capped": found.pids and pid_max_is_namespaced(),
        "capabilities_dropped": os.geteuid() == 0,
    }


def namespace_prefix(*, network: bool, filesystem: bool) -> tuple[str, ...] | None:
    """The unshare prefix that cuts the network and/or confines writes to the cwd here, or None."""
    found = isolation(network=network, filesystem=filesystem)
    if filesystem and not found.filesystem:
        return None
    if network and not found.network:
        return None
    return found.prefix or None


def network_isolation_prefix() -> tuple[str, ...] | None:
    """The unshare prefix that cuts the network here, or None (probed once per process)."""
    return namespace_prefix(network=True, filesystem=False)


def kept_paths() -> list[Path]:
    """What a script's Python needs to read: its interpreter, prefixes, import path and model caches."""
    paths = [Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix)]
    paths += [Path(entry) for entry in sys.path if entry and os.path.isabs(entry)]
    with contextlib.suppress(AttributeError):
        paths.append(Path(site.getusersitepackages()))
    paths += [Path(os.environ[name]) for name in ("HF_HOME", "HF_HUB_CACHE", "TORCH_HOME") if os.environ.get(name)]
    return paths


def default_hidden_paths() -> list[Path]:
    """Hidden from every script: the real HOME, with its dotfiles and credentials (what Python needs stays)."""
    home = Path(os.path.expanduser("~"))
    if not home.is_absolute() or home == Path("/") or not home.is_dir():
        return []
    return [home]


def _minimal(paths: Iterable[Path]) -> list[Path]:
    """The paths, without those inside another one of them."""
    ordered = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in ordered:
        if not any(path.is_relative_to(outer) for outer in kept):
            kept.append(path)
    return sorted(kept)


def hide_plan(paths: Iterable[Path], cwd: Path) -> list[tuple[str, list[str]]]:
    """(folder or file to cover, holes left in it) for each existing path: the workspace and what Python
    needs stay reachable through holes; a path that is itself needed is not covered."""
    needed = [p.resolve() for p in (cwd, *kept_paths()) if p.exists()]
    plan = []
    for path in _minimal(Path(raw).resolve() for raw in paths):  # covering the real path hides every name
        if not path.exists() or path in needed:
            continue
        holes = _minimal(need for need in needed if need != path and need.is_relative_to(path))
        plan.append((str(path), [str(hole) for hole in holes]))
    return plan


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
    found = isolation(network=isolate_network, filesystem=confine_filesystem)
    marker = uuid.uuid4().hex
    env = {**env, SANDBOX_MARKER: marker}
    status_read, status_write = os.pipe()
    config = _prelude_config(
        mounts=found.filesystem,
        init=found.pids,
        hide=hide_plan([*hidden_paths, *default_hidden_paths()], cwd) if found.filesystem else (),
        read_only=[str(Path(p).absolute()) for p in read_only_paths] if found.filesystem else (),
        max_pids=max_processes,
        status_fd=status_write,
    )
    start = time.monotonic()
    with _config_file(config) as config_fd:
        try:
            proc = subprocess.Popen(
                _prelude_argv(found.prefix, config_fd, argv),
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
    capture = _OutputCapture(proc)
    timed_out = False
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid, signal.SIGTERM)  # the supervisor passes it on, and SIGKILLs after a grace
        try:
            proc.wait(timeout=_TERM_GRACE_S)
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


class _OutputCapture:
    """Reads a child's stdout and stderr in threads, bounded, until EOF or until finish() gives up on a
    pipe that a surviving process keeps open (a blocked read could never be interrupted by close)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.streams = {"stdout": _Capture(_CAPTURE_CHARS), "stderr": _Capture(_CAPTURE_CHARS)}
        self.combined = _Capture(_CAPTURE_CHARS)
        self.pipes = [proc.stdout, proc.stderr]
        self.threads = [
            threading.Thread(target=self._pump, args=(pipe.fileno(), name), daemon=True)
            for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
            if pipe is not None
        ]
        for thread in self.threads:
            thread.start()

    def _pump(self, fd: int, name: str) -> None:
        # The incremental decoder keeps a character split across two reads whole.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        deadline = None
        while True:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if self.stop.is_set():
                deadline = deadline or time.monotonic() + _DRAIN_S
                if not ready or time.monotonic() > deadline:
                    break
            if not ready:
                continue
            data = os.read(fd, 65536)
            text = decoder.decode(data, final=not data)
            if text:
                with self.lock:
                    self.streams[name].add(text)
                    self.combined.add(text)
            if not data:
                break

    def finish(self) -> None:
        """Drain what is left in the pipes, then close them."""
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=_DRAIN_S + 5)
        for pipe in self.pipes:
            if pipe is not None:
                pipe.close()

    def texts(self) -> tuple[str, str, str]:
        """(stdout, stderr, both interleaved), cleaned for a prompt."""
        with self.lock:
            parts = (self.streams["stdout"].text(), self.streams["stderr"].text(), self.combined.text())
        return clean_output(parts[0]), clean_output(parts[1]), clean_output(parts[2])


def sandbox_env(workspace_root: Path, extra_allowed: Iterable[str] = ()) -> dict[str, str]:
    """Allow-listed environment with HOME and temp dirs inside the workspace."""
    tmp = workspace_root / ".tmp"
    tmp.mkdir(exist_ok=True)
    env = scrub_env(dict(os.environ), extra_allowed)
    env.update(
        HOME=str(workspace_root),
        TMPDIR=str(tmp),
        TMP=str(tmp),
        TEMP=str(tmp),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="Agg",
    )
    env.setdefault("PATH", os.defpath)
    return env


def cpu_backstop(timeout_s: float) -> float:
    """A CPU-seconds limit that is a backstop only: CPU time adds up across threads, so every core may
    be busy for the whole timeout."""
    return timeout_s * (os.cpu_count() or 1) + 10


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
