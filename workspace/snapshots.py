"""Best-so-far snapshots: the workspace as it was when the validation metric last improved.

Only plain regular files are saved (Workspace.files: no symlinks, special files or odd names), and a
restore replaces files rather than writing through them, so a link a script left cannot carry a write
outside the workspace or bring an outside file in.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from budgetmlagent.workspace.workspace import Workspace, has_link_component, put_file

# Files larger than this are not snapshotted (model checkpoints); the script that makes them is.
MAX_SNAPSHOT_FILE_BYTES = 50 * 1024 * 1024


def _snapshot_files(ws: Workspace) -> list[str]:
    """Everything the agent may change: scripts and their outputs, not the read-only data."""
    out = []
    for rel in ws.files():
        if ws.is_read_only(rel):
            continue
        path = ws.root / rel
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_SNAPSHOT_FILE_BYTES:
            continue
        out.append(rel)
    return out


def save_snapshot(ws: Workspace, dest: Path) -> list[str]:
    """Replace dest with a copy of the workspace's changeable files; returns what was saved."""
    dest = Path(dest)
    staging = dest.with_name(dest.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    saved = _snapshot_files(ws)
    for rel in saved:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ws.root / rel, target, follow_symlinks=False)
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)  # a killed run never leaves a half-written best snapshot behind
    return saved


def _matches(ws: Workspace, rel: str, saved: Path) -> bool:
    """Whether the workspace holds rel as a plain regular file with the saved bytes."""
    current = ws.root / rel
    if has_link_component(ws.root, rel) or not current.is_file():
        return False
    return current.read_bytes() == saved.read_bytes()


def _saved_files(src: Path) -> set[str]:
    return {p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file() and not p.is_symlink()}


def differs_from_snapshot(ws: Workspace, src: Path) -> bool:
    """Whether restoring the snapshot would change anything (a no-op revert is not offered to the planner)."""
    src = Path(src)
    if not src.is_dir():
        return False
    wanted = _saved_files(src)
    if any(not _matches(ws, rel, src / rel) for rel in wanted):
        return True
    return any(rel not in wanted for rel in _snapshot_files(ws))


def restore_snapshot(ws: Workspace, src: Path) -> list[str]:
    """Make the workspace's changeable files equal to the snapshot; returns the files that changed."""
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"no snapshot at {src}")
    wanted = _saved_files(src)
    changed = []
    for rel in sorted(wanted):
        if _matches(ws, rel, src / rel):
            continue
        put_file(ws.root, rel, src / rel)
        changed.append(rel)
    for rel in _snapshot_files(ws):
        if rel not in wanted:  # made after the best version (e.g. a new script's outputs)
            (ws.root / rel).unlink()
            changed.append(rel)
    return sorted(changed)
