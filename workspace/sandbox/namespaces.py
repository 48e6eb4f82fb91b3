"""Namespace and mount probing: which isolation works on this machine, and what a confined run hides.

isolation() tries `unshare` (as root, else in a user namespace) for a network namespace (`-n`), a private
mount namespace where only the workspace is writable, and a PID namespace with its own /proc, each checked
once per process by running the prelude on a small probe. hide_plan() says which folders are covered by an
empty tmpfs and which holes (the workspace, what Python needs) stay reachable in them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from budgetmlagent.workspace.sandbox.launch import config_file, prelude_argv, prelude_config

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
class Isolation:
    """The namespaces that work here and the unshare argv that creates them."""

    prefix: tuple[str, ...]
    network: bool
    filesystem: bool
    pids: bool


_NO_ISOLATION = Isolation((), network=False, filesystem=False, pids=False)


def _probe(prefix: Sequence[str], config: dict[str, object], check: Sequence[str], cwd: Path) -> bool:
    """Whether the prelude under prefix runs check to exit 0 within a few seconds."""
    try:
        with config_file(config) as fd:
            argv = prelude_argv(prefix, fd, check)
            done = subprocess.run(argv, cwd=cwd, capture_output=True, timeout=15, check=False, pass_fds=(fd,))
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _probe_confined(prefix: Sequence[str], *, pids: bool) -> bool:
    """Whether prefix gives a cwd-only writable filesystem (and, with pids, a PID namespace)."""
    config = prelude_config(mounts=True, init=pids)
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
        config = prelude_config(mounts=False, init=False)
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
