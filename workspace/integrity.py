"""Repairs before a workspace is scored: what a script left that eval.py must not follow or trust.

A script may have replaced a read-only data file, pointed submission.csv at the task's answers through a
symlink, hard-linked an answer file, or left a FIFO where eval.py will open a file (it would block until
the timeout). prepare_for_scoring undoes all of it and says what it did; score_workspace calls it.
"""

from __future__ import annotations

import filecmp
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from budgetmlagent.workspace.task import Task
from budgetmlagent.workspace.workspace import Workspace, display_name, has_link_component, put_file, special_kind

_SKIP_DIRS = {"__pycache__"}


def _task_files(folder: Path) -> Iterable[tuple[str, Path]]:
    """(relative path, path) of every file under a task folder, following its links as Workspace.create does."""
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
        for name in filenames:
            path = Path(dirpath) / name
            if path.is_file():
                yield path.relative_to(folder).as_posix(), path


def _is_intact(root: Path, rel: str, original: Path) -> bool:
    """Whether root/rel is a plain regular file, reached through no link and shared with nothing, equal to original."""
    if has_link_component(root, rel):
        return False
    try:
        info = (root / rel).lstat()
    except OSError:
        return False
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_size != original.stat().st_size:
        return False
    return filecmp.cmp(root / rel, original, shallow=False)


def restore_read_only(task: Task, root: Path) -> list[str]:
    """Put every read-only file of the task back as env/ has it; returns the files that had to be restored.

    Read-only files cannot be written by actions, and in a mount namespace not by scripts either; without
    one a script can, so this check runs before every scoring. The comparison reads every byte.
    """
    ws = Workspace(root, task.read_only_files)
    restored = []
    for rel, original in _task_files(task.env_dir):
        if not ws.is_read_only(rel) or _is_intact(ws.root, rel, original):
            continue
        put_file(ws.root, rel, original)
        restored.append(rel)
    return sorted(restored)


def _protected_inodes(folders: Iterable[Path]) -> set[tuple[int, int]]:
    """(device, inode) of every file under the task's own folders."""
    inodes = set()
    for folder in folders:
        for _, path in _task_files(folder):
            info = path.stat()
            inodes.add((info.st_dev, info.st_ino))
    return inodes


def _escapes(root: Path, link: Path) -> bool:
    """Whether a symlink leads outside root (a loop counts as leading nowhere safe)."""
    try:
        return not link.resolve().is_relative_to(root)
    except (RuntimeError, OSError):
        return True


def remove_unsafe_entries(root: Path, protected: Iterable[Path] = ()) -> list[str]:
    """Delete what no scorer should follow: symlinks leading outside root, special files, and hard links to
    files under the protected folders (the task's scripts/ and env/). Returns what was removed and why."""
    root = Path(root).resolve()
    inodes = _protected_inodes(protected)
    removed = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = display_name(path.relative_to(root).as_posix())
            try:
                info = path.lstat()
            except OSError:
                continue
            why = None
            if stat.S_ISLNK(info.st_mode):
                why = "symlink leading outside the workspace" if _escapes(root, path) else None
            elif special_kind(info.st_mode) is not None:
                why = special_kind(info.st_mode)
            elif stat.S_ISREG(info.st_mode) and info.st_nlink > 1 and (info.st_dev, info.st_ino) in inodes:
                why = "hard link to a file of the task"
            if why is not None:
                path.unlink()
                removed.append(f"removed {rel} ({why})")
        # os.walk does not descend into symlinked folders, and the unsafe ones are gone now.
        dirnames[:] = [d for d in dirnames if (Path(dirpath) / d).is_dir() and not (Path(dirpath) / d).is_symlink()]
    return removed


def prepare_for_scoring(task: Task, root: Path) -> list[str]:
    """Make a workspace safe and honest to score; returns one line per repair (empty when nothing was wrong)."""
    notes = remove_unsafe_entries(root, [task.scripts_dir, task.env_dir])
    notes += [f"restored read-only {rel}" for rel in restore_read_only(task, Path(root))]
    return notes
