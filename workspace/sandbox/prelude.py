"""The supervisor run before every sandboxed script: a program for the child process, not a module.

The runner reads this file as text and passes it as `python -I -S -c PRELUDE CONFIG_FD ARGV...`, inside the
new namespaces when there are any, with the workspace as cwd. It confines the filesystem, drops
capabilities, then supervises the script: forks it, reaps orphans, forwards signals, and reports the
script's wait status on status_fd. In a PID namespace it is the init, whose exit kills everything left;
without one it is a child subreaper (orphans are re-parented to it) that kills every descendant before it
exits. The binds come first, as a remount of "/" leaves mounts on top of it alone.

Never import it: at import it would read its config from the file descriptor named by sys.argv[1], mount,
drop capabilities and fork. It refuses to run unless it is __main__. It runs under -I -S, so it uses the
standard library only and imports as little as it can.
"""

import ctypes
import json
import os
import re
import signal
import stat
import sys

if __name__ != "__main__":
    raise ImportError("prelude.py is the sandbox's child-side program, run as `python -I -S -c`; never import it")

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
    last = 40
    if os.path.exists("/proc/sys/kernel/cap_last_cap"):
        with open("/proc/sys/kernel/cap_last_cap") as knob:
            last = int(knob.read())
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
            try:  # noqa: SIM105 (contextlib is not loaded under -I -S; the prelude imports only what it needs)
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
        try:  # noqa: SIM105 (as above: no contextlib)
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
