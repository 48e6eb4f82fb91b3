"""The agent's working folder: path confinement, read-only files and undo backups."""

from __future__ import annotations

import fnmatch
import os
import shutil
from pathlib import Path, PurePosixPath

from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.task import Task

BACKUP_DIR = ".backup"
TMP_DIR = ".tmp"
# Internal or tool-made folders that List Files leaves out; only BACKUP_DIR is also off-limits.
HIDDEN_NAMES = frozenset({BACKUP_DIR, TMP_DIR, ".cache", ".config", "__pycache__"})
_ABSENT_SUFFIX = ".absent"


class Workspace:
    """A folder the agent may read and write, with read-only globs and an undo stack per file."""

    def __init__(self, root: Path, read_only: list[str] | None = None) -> None:
        self.root = Path(root).resolve()
        self.read_only = list(read_only or [])
        if not self.root.is_dir():
            raise ValueError(f"workspace root {self.root} is not a directory")

    @classmethod
    def create(cls, task: Task, dest: Path) -> Workspace:
        """Copy task.env_dir into dest (which must not exist or be empty) and open it."""
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise ValueError(f"workspace destination {dest} is not empty")
        if dest.exists():
            dest.rmdir()
        # symlinks=False copies link targets, so no link in the copy can point outside it.
        shutil.copytree(task.env_dir, dest, symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
        (dest / BACKUP_DIR).mkdir(exist_ok=True)
        (dest / TMP_DIR).mkdir(exist_ok=True)
        return cls(dest, task.read_only_files)

    # -- paths ---------------------------------------------------------------------------------

    def resolve(self, rel: str, *, for_write: bool = False) -> Path:
        """Absolute path of rel inside the workspace, or ActionInputError saying why not."""
        if not isinstance(rel, str):
            raise ActionInputError(f"Path must be a string, got {type(rel).__name__}.")
        text = rel.strip()
        if "\0" in text:
            raise ActionInputError("Path contains a NUL character.")
        candidate = Path(text) if text else Path(".")
        if not candidate.is_absolute():
            candidate = self.root / candidate
        # resolve() follows symlinks and collapses "..", so the check below sees the real target.
        real = candidate.resolve()
        if not real.is_relative_to(self.root):
            if ".." in Path(text).parts:
                why = "it uses '..' to leave the workspace"
            elif Path(text).is_absolute():
                why = "it is an absolute path outside the workspace"
            else:
                why = "it is a symlink (or under one) pointing outside the workspace"
            raise ActionInputError(
                f"Path '{rel}' is not allowed: {why}. Use paths relative to the workspace, e.g. 'train.py'."
            )
        relative = self.relative(real)
        if relative.split("/", 1)[0] == BACKUP_DIR:
            raise ActionInputError(
                f"Path '{rel}' is inside the internal backup folder; use Undo Edit Script to restore files."
            )
        if for_write:
            if real == self.root or real.is_dir():
                raise ActionInputError(f"'{rel}' is a directory, not a file; give a file name to write.")
            if self.is_read_only(relative):
                raise ActionInputError(
                    f"'{relative}' is read-only (task data); write your changes to a new file instead."
                )
        return real

    def relative(self, path: Path) -> str:
        """Workspace-relative POSIX form of an absolute path inside it ('.' for the root)."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def is_read_only(self, rel: str) -> bool:
        """Whether rel matches a read-only glob (MLAgentBench matches './name' for top-level files)."""
        clean = PurePosixPath(rel.strip()).as_posix().removeprefix("./")
        forms = {clean, f"./{clean}"}
        return any(fnmatch.fnmatch(form, pattern) for pattern in self.read_only for form in forms)

    # -- listing and reading -------------------------------------------------------------------

    def list_dir(self, rel: str = ".") -> list[str]:
        """Names in a directory, folders with a trailing '/', internal folders hidden."""
        folder = self.resolve(rel)
        if not folder.is_dir():
            raise ActionInputError(f"'{rel}' is not a directory.")
        names = []
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.name in HIDDEN_NAMES:
                continue
            names.append(entry.name + ("/" if entry.is_dir() else ""))
        return names

    def files(self) -> list[str]:
        """All visible files in the workspace, relative, sorted."""
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in HIDDEN_NAMES]
            for name in filenames:
                found.append((Path(dirpath) / name).relative_to(self.root).as_posix())
        return sorted(found)

    def read_text(self, rel: str) -> str:
        """Text of an existing file (undecodable bytes replaced)."""
        path = self.existing_file(rel)
        return path.read_text(encoding="utf-8", errors="replace")

    def existing_file(self, rel: str) -> Path:
        """Resolve rel and require an existing regular file."""
        path = self.resolve(rel)
        if path.is_dir():
            raise ActionInputError(f"'{rel}' is a directory, not a file.")
        if not path.is_file():
            raise ActionInputError(f"File '{rel}' does not exist. {self._nearby_hint(rel)}")
        return path

    def _nearby_hint(self, rel: str) -> str:
        """A short list of files that exist, so the agent can correct a wrong name."""
        files = self.files()
        name = PurePosixPath(rel).name.lower()
        similar = [f for f in files if PurePosixPath(f).name.lower() == name]
        shown = similar or files[:20]
        more = "" if len(shown) == len(files) or similar else f" (and {len(files) - len(shown)} more)"
        return f"Files in the workspace: {', '.join(shown)}{more}." if shown else "The workspace is empty."

    # -- writing and undo ----------------------------------------------------------------------

    def write_text(self, rel: str, content: str, *, append: bool = False) -> str:
        """Write (or append) content after saving an undo backup; returns the previous text."""
        path = self.resolve(rel, for_write=True)
        old = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        self._push_backup(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if append else "w", encoding="utf-8") as handle:
            handle.write(content)
        return old

    def copy_file(self, source: str, destination: str) -> None:
        """Copy one file inside the workspace, backing up the destination."""
        src = self.existing_file(source)
        dst = self.resolve(destination, for_write=True)
        self._push_backup(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)

    def backup_count(self, rel: str) -> int:
        """How many undo steps are stored for rel."""
        folder = self._backup_folder(self.resolve(rel))
        return len(list(folder.iterdir())) if folder.is_dir() else 0

    def undo(self, rel: str) -> str:
        """Restore rel to its state before the last write; returns the restored text ('' if removed)."""
        path = self.resolve(rel, for_write=True)
        folder = self._backup_folder(path)
        entries = sorted(folder.iterdir()) if folder.is_dir() else []
        if not entries:
            raise ActionInputError(f"There is no edit of '{rel}' to undo.")
        last = entries[-1]
        if last.name.endswith(_ABSENT_SUFFIX):
            # The file did not exist before that write: undo removes it.
            path.unlink(missing_ok=True)
            last.unlink()
            return ""
        shutil.copyfile(last, path)
        last.unlink()
        return path.read_text(encoding="utf-8", errors="replace")

    def _backup_folder(self, path: Path) -> Path:
        """Where the undo stack of one file lives (mirrors its relative path)."""
        return self.root / BACKUP_DIR / self.relative(path)

    def _push_backup(self, path: Path) -> None:
        """Save the current state of path (or that it was absent) on its undo stack."""
        folder = self._backup_folder(path)
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.name.split(".")[0]) for p in folder.iterdir() if p.name.split(".")[0].isdigit()]
        seq = f"{max(numbers, default=0) + 1:06d}"
        if path.is_file():
            shutil.copyfile(path, folder / seq)
        else:
            (folder / f"{seq}{_ABSENT_SUFFIX}").touch()
