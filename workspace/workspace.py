"""The agent's working folder: path confinement, read-only files, undo backups and sandboxed runs.

Actions only reach regular files inside the root: '..', absolute paths outside it, symlinks (or folders
under one) that lead outside, control characters and invalid UTF-8 in a path are refused with a reason the
agent can act on; FIFOs, sockets and device nodes are never opened (opening a FIFO would block); a file
that shares its inode with a file outside is not read; writes replace the file (a hard link is broken,
never written through); files too large to diff and back up are not edited. Names a script made with
newlines, invalid UTF-8 or other odd characters are shown escaped and left out of files().
"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from budgetmlagent.workspace.errors import ActionInputError, TaskError
from budgetmlagent.workspace.sandbox import ScriptRun, run_script
from budgetmlagent.workspace.task import SandboxConfig, Task

BACKUP_DIR = ".backup"
TMP_DIR = ".tmp"
# Where a workspace remembers its task's private folder, so Workspace(root) hides it from scripts too.
META_DIR = ".budgetmlagent"
_META_FILE = "task.json"
# Internal or tool-made folders that List Files leaves out; BACKUP_DIR and META_DIR are also off-limits.
HIDDEN_NAMES = frozenset({BACKUP_DIR, TMP_DIR, META_DIR, ".cache", ".config", "__pycache__"})
_INTERNAL = {
    BACKUP_DIR: "the internal backup folder; use Undo Edit Script to restore files",
    META_DIR: "an internal folder of the agent",
}
_ABSENT_SUFFIX = ".absent"
# Larger files are not edited, backed up or counted in lines (an 8 GB output would exhaust memory).
MAX_EDIT_BYTES = 16 * 1024 * 1024
MAX_COPY_BYTES = 512 * 1024 * 1024
MAX_LISTED = 200
_SPECIAL_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def display_name(name: str) -> str:
    """A file name as it can be shown in a prompt: invalid UTF-8 and control characters escaped."""
    text = os.fsencode(name).decode("utf-8", errors="backslashreplace")
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def is_plain_name(name: str) -> bool:
    """Whether a name can be shown and typed back as it is."""
    return display_name(name) == name


def special_kind(mode: int) -> str | None:
    """What kind of special file a mode describes (FIFO, socket, device), or None."""
    return _SPECIAL_KINDS.get(stat.S_IFMT(mode))


def _check_path_text(rel: str, text: str) -> None:
    """Refuse path text no file name the agent should use contains."""
    if "\0" in text:
        raise ActionInputError("Path contains a NUL character.")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ActionInputError(f"Path {rel!r} contains a control character (e.g. a newline); use a plain name.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ActionInputError(f"Path {rel!r} is not valid UTF-8; use a plain name.") from exc


def real_directory(root: Path, rel_dir: str) -> Path:
    """root/rel_dir with every component a real folder: a symlink or file in the way is removed first."""
    current = root
    for part in PurePosixPath(rel_dir).parts:
        if part in ("", ".", ".."):
            raise ValueError(f"not a plain relative folder: {rel_dir!r}")
        current = current / part
        if current.is_symlink() or (current.exists() and not current.is_dir()):
            current.unlink()
        current.mkdir(exist_ok=True)
    return current


def put_file(root: Path, rel: str, source: Path) -> None:
    """Make root/rel a regular-file copy of source without following any link a script left in the way."""
    parent = real_directory(root, PurePosixPath(rel).parent.as_posix() if "/" in rel else "")
    target = parent / PurePosixPath(rel).name
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    _replace_with(target, lambda tmp: shutil.copy2(source, tmp))


def _replace_with(target: Path, fill: Any) -> None:
    """Write a temp file next to target with fill(tmp_path), then rename it over target (never through it)."""
    fd, tmp_name = tempfile.mkstemp(prefix=".budgetmlagent-", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        fill(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def has_link_component(root: Path, rel: str) -> bool:
    """Whether any component of root/rel (the last included) is a symlink."""
    current = root
    for part in PurePosixPath(rel).parts:
        current = current / part
        if current.is_symlink():
            return True
    return False


class Workspace:
    """A folder the agent may read and write, with read-only globs, an undo stack per file, and what its
    scripts must not see (private_paths: the task's scripts/) and the task's sandbox limits."""

    def __init__(
        self,
        root: Path,
        read_only: list[str] | None = None,
        *,
        private_paths: Sequence[Path | str] | None = None,
        sandbox: SandboxConfig | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.read_only = list(read_only or [])
        if not self.root.is_dir():
            raise ValueError(f"workspace root {self.root} is not a directory")
        # Left out, the private paths are the ones Workspace.create recorded (scripts never see META_DIR).
        recorded = self._recorded_private_paths() if private_paths is None else private_paths
        self.private_paths = [Path(p) for p in recorded]
        self.sandbox = sandbox or SandboxConfig()

    def _recorded_private_paths(self) -> list[str]:
        """The private folders Workspace.create wrote down, or none."""
        meta = self.root / META_DIR / _META_FILE
        try:
            paths = json.loads(meta.read_text(encoding="utf-8")).get("private_paths", [])
        except (OSError, ValueError, AttributeError):
            return []
        return [p for p in paths if isinstance(p, str)]

    @classmethod
    def create(cls, task: Task, dest: Path) -> Workspace:
        """Copy task.env_dir into dest (which must not exist or be empty) and open it."""
        dest = Path(dest)
        if dest.exists() and any(dest.iterdir()):
            raise ValueError(f"workspace destination {dest} is not empty")
        _refuse_links_into(task.env_dir, task.scripts_dir)
        if dest.exists():
            dest.rmdir()
        # symlinks=False copies link targets, so no link in the copy can point outside it.
        shutil.copytree(task.env_dir, dest, symlinks=False, ignore=_copy_ignore)
        (dest / BACKUP_DIR).mkdir(exist_ok=True)
        (dest / TMP_DIR).mkdir(exist_ok=True)
        (dest / META_DIR).mkdir(exist_ok=True)
        record = {"task": task.name, "private_paths": [str(task.scripts_dir.resolve())]}
        (dest / META_DIR / _META_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
        return cls.for_task(task, dest)

    @classmethod
    def for_task(cls, task: Task, root: Path) -> Workspace:
        """Open an existing workspace of task with its read-only globs, private scripts/ and limits."""
        return cls(root, task.read_only_files, private_paths=[task.scripts_dir], sandbox=task.sandbox)

    # -- paths ---------------------------------------------------------------------------------

    def resolve(self, rel: str, *, for_write: bool = False) -> Path:
        """Absolute path of rel inside the workspace, or ActionInputError saying why not."""
        if not isinstance(rel, str):
            raise ActionInputError(f"Path must be a string, got {type(rel).__name__}.")
        text = rel.strip()
        _check_path_text(rel, text)
        candidate = Path(text) if text else Path(".")
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            # resolve() follows symlinks and collapses "..", so the check below sees the real target.
            real = candidate.resolve()
        except (RuntimeError, OSError) as exc:
            raise ActionInputError(f"Path '{rel}' cannot be resolved (a symlink loop?): {exc}") from exc
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
        internal = _INTERNAL.get(relative.split("/", 1)[0])
        if internal is not None:
            raise ActionInputError(f"Path '{rel}' is inside {internal}.")
        if for_write:
            self._check_writable(rel, real, relative)
        return real

    def _check_writable(self, rel: str, real: Path, relative: str) -> None:
        """Refuse writing a folder, a read-only file, a special file or one too large to back up."""
        if real == self.root or real.is_dir():
            raise ActionInputError(f"'{rel}' is a directory, not a file; give a file name to write.")
        if self.is_read_only(relative):
            raise ActionInputError(f"'{relative}' is read-only (task data); write your changes to a new file instead.")
        if not real.exists():
            return
        info = real.stat()
        kind = special_kind(info.st_mode)
        if kind is not None:
            raise ActionInputError(f"'{rel}' is {kind}, not a regular file; write to another name.")
        if info.st_size > MAX_EDIT_BYTES:
            raise ActionInputError(
                f"'{rel}' is {info.st_size / 2**20:.0f} MB, too large to edit (limit {MAX_EDIT_BYTES // 2**20} MB)."
            )

    def relative(self, path: Path) -> str:
        """Workspace-relative POSIX form of an absolute path inside it ('.' for the root)."""
        return Path(path).resolve().relative_to(self.root).as_posix()

    def is_read_only(self, rel: str) -> bool:
        """Whether rel matches a read-only glob (MLAgentBench matches './name' for top-level files)."""
        clean = PurePosixPath(rel.strip()).as_posix().removeprefix("./")
        forms = {clean, f"./{clean}"}
        return any(fnmatch.fnmatch(form, pattern) for pattern in self.read_only for form in forms)

    def read_only_paths(self) -> list[Path]:
        """The regular files in the workspace that match a read-only glob."""
        if not self.read_only:
            return []
        return [self.root / rel for rel, _ in self._walk_files() if self.is_read_only(rel)]

    # -- listing and reading -------------------------------------------------------------------

    def list_dir(self, rel: str = ".") -> list[str]:
        """Names in a directory, folders with a trailing '/', internal folders hidden, odd entries explained."""
        folder = self.resolve(rel)
        if not folder.is_dir():
            raise ActionInputError(f"'{rel}' is not a directory.")
        entries = sorted((e for e in folder.iterdir() if e.name not in HIDDEN_NAMES), key=lambda p: p.name)
        names = [self._describe_entry(entry) for entry in entries[:MAX_LISTED]]
        if len(entries) > MAX_LISTED:
            names.append(f"... and {len(entries) - MAX_LISTED} more entries")
        return names

    def _describe_entry(self, entry: Path) -> str:
        """One List Files line: the name, plus why the agent cannot use it when it cannot."""
        name = display_name(entry.name)
        note = "" if is_plain_name(entry.name) else " (unusual characters in the name; rename it from a script)"
        info = entry.lstat()
        if stat.S_ISLNK(info.st_mode):
            try:
                target = entry.resolve()
            except (RuntimeError, OSError):
                return f"{name} (symlink loop; not accessible){note}"
            if not target.is_relative_to(self.root):
                return f"{name} (symlink to outside the workspace; not accessible){note}"
            return f"{name}{'/' if target.is_dir() else ''}{note}"
        kind = special_kind(info.st_mode)
        if kind is not None:
            return f"{name} ({kind}; not readable){note}"
        return f"{name}{'/' if stat.S_ISDIR(info.st_mode) else ''}{note}"

    def _walk_files(self) -> Iterator[tuple[str, os.stat_result]]:
        """(relative path, lstat) of every visible regular file, without following any symlink."""
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in HIDDEN_NAMES]
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    info = path.lstat()
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    yield path.relative_to(self.root).as_posix(), info

    def files(self) -> list[str]:
        """All visible regular files, relative and sorted: no symlinks, special files, odd names, or files
        hard-linked to something outside the workspace."""
        found = list(self._walk_files())
        inside_links: dict[tuple[int, int], int] = {}
        for _, info in found:
            if info.st_nlink > 1:
                key = (info.st_dev, info.st_ino)
                inside_links[key] = inside_links.get(key, 0) + 1
        out = []
        for rel, info in found:
            if not all(is_plain_name(part) for part in rel.split("/")):
                continue
            if info.st_nlink > 1 and inside_links[(info.st_dev, info.st_ino)] < info.st_nlink:
                continue
            out.append(rel)
        return sorted(out)

    def read_text(self, rel: str, *, max_bytes: int = MAX_EDIT_BYTES) -> str:
        """Text of an existing file (undecodable bytes replaced); past max_bytes, its head and tail."""
        path = self.existing_file(rel)
        size = path.stat().st_size
        if size <= max_bytes:
            return path.read_text(encoding="utf-8", errors="replace")
        half = max_bytes // 2
        with path.open("rb") as handle:
            head = handle.read(half)
            handle.seek(size - half)
            tail = handle.read(half)
        omitted = f"\n... [{size - 2 * half} bytes of a {size}-byte file omitted] ...\n"
        return head.decode("utf-8", errors="replace") + omitted + tail.decode("utf-8", errors="replace")

    def existing_file(self, rel: str) -> Path:
        """Resolve rel and require an existing regular file that no link shares with the outside."""
        path = self.resolve(rel)
        if path.is_dir():
            raise ActionInputError(f"'{rel}' is a directory, not a file.")
        if not path.exists():
            raise ActionInputError(f"File '{rel}' does not exist. {self._nearby_hint(rel)}")
        info = path.stat()
        kind = special_kind(info.st_mode)
        if kind is not None:
            raise ActionInputError(f"'{rel}' is {kind}, not a regular file; it cannot be read or run.")
        if info.st_nlink > 1 and not self._all_links_inside(info):
            raise ActionInputError(
                f"'{rel}' is a hard link to a file outside the workspace; it is not accessible from here."
            )
        return path

    def _all_links_inside(self, info: os.stat_result) -> bool:
        """Whether every hard link of a file lies inside the workspace (backups included)."""
        inside = 0
        for dirpath, _, filenames in os.walk(self.root):
            for name in filenames:
                try:
                    other = (Path(dirpath) / name).lstat()
                except OSError:
                    continue
                inside += (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino)
        return inside >= info.st_nlink

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
        """Write (or append) content after saving an undo backup; returns the previous text.

        The file is replaced, not written in place: a hard link is broken rather than written through.
        """
        path = self.resolve(rel, for_write=True)
        old = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        self._push_backup(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        new = old + content if append else content
        mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else None
        _replace_with(path, lambda tmp: _write_new(tmp, new, mode))
        return old

    def copy_file(self, source: str, destination: str) -> None:
        """Copy one file inside the workspace, backing up the destination."""
        src = self.existing_file(source)
        size = src.stat().st_size
        if size > MAX_COPY_BYTES:
            raise ActionInputError(
                f"'{source}' is {size / 2**20:.0f} MB, too large to copy (limit {MAX_COPY_BYTES // 2**20} MB)."
            )
        dst = self.resolve(destination, for_write=True)
        self._push_backup(dst)
        dst.parent.mkdir(parents=True, exist_ok=True)
        _replace_with(dst, lambda tmp: shutil.copyfile(src, tmp))

    def backup_count(self, rel: str) -> int:
        """How many undo steps are stored for rel."""
        folder = self._backup_folder(self.resolve(rel), create=False)
        return len(list(folder.iterdir())) if folder.is_dir() and not folder.is_symlink() else 0

    def undo(self, rel: str) -> str:
        """Restore rel to its state before the last write; returns the restored text ('' if removed)."""
        path = self.resolve(rel, for_write=True)
        folder = self._backup_folder(path)
        entries = sorted(folder.iterdir())
        if not entries:
            raise ActionInputError(f"There is no edit of '{rel}' to undo.")
        last = entries[-1]
        if last.name.endswith(_ABSENT_SUFFIX):
            # The file did not exist before that write: undo removes it.
            path.unlink(missing_ok=True)
            last.unlink()
            return ""
        if last.is_symlink() or not last.is_file():  # only this class writes backups, as regular files
            last.unlink()
            raise ActionInputError(f"The last backup of '{rel}' was tampered with and has been discarded.")
        _replace_with(path, lambda tmp: shutil.copyfile(last, tmp))
        last.unlink()
        return path.read_text(encoding="utf-8", errors="replace")

    def _backup_folder(self, path: Path, *, create: bool = True) -> Path:
        """Where the undo stack of one file lives (mirrors its relative path), made of real folders only."""
        rel = f"{BACKUP_DIR}/{self.relative(path)}"
        return real_directory(self.root, rel) if create else self.root / rel

    def _push_backup(self, path: Path) -> None:
        """Save the current state of path (or that it was absent) on its undo stack."""
        folder = self._backup_folder(path)
        numbers = [int(p.name.split(".")[0]) for p in folder.iterdir() if p.name.split(".")[0].isdigit()]
        seq = f"{max(numbers, default=0) + 1:06d}"
        if path.is_file():
            shutil.copyfile(path, folder / seq)
        else:
            (folder / f"{seq}{_ABSENT_SUFFIX}").touch()

    # -- running -------------------------------------------------------------------------------

    def script_limits(self, **defaults: Any) -> dict[str, Any]:
        """run_script keyword arguments: the caller's defaults, overridden by the task's sandbox config."""
        return {**defaults, **self.sandbox.run_kwargs()}

    def run_script(self, script: str, **defaults: Any) -> ScriptRun:
        """Run a script of this workspace in the sandbox with the task's limits; scripts/ and the undo
        backups are hidden from it and the read-only files cannot be changed (where namespaces work)."""
        return run_script(
            self.root,
            script,
            hidden_paths=[*self.private_paths, self.root / BACKUP_DIR, self.root / META_DIR],
            read_only_paths=self.read_only_paths(),
            **self.script_limits(**defaults),
        )


def _write_new(path: Path, text: str, mode: int | None) -> None:
    """Fill a fresh temp file with text, keeping the mode of the file it replaces."""
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644 if mode is None else mode)


def _copy_ignore(folder: str, names: list[str]) -> set[str]:
    """What Workspace.create does not copy: caches, and special files (reading a FIFO would block)."""
    skipped = {"__pycache__"}
    for name in names:
        try:
            mode = os.stat(os.path.join(folder, name)).st_mode
        except OSError:
            skipped.add(name)  # a dangling link has nothing to copy
            continue
        if special_kind(mode) is not None:
            skipped.add(name)
    return skipped & set(names)


def _refuse_links_into(env_dir: Path, scripts_dir: Path) -> None:
    """A link in env/ into scripts/ would copy the answers into the workspace: refuse the task."""
    private = scripts_dir.resolve()
    for dirpath, dirnames, filenames in os.walk(env_dir):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if path.is_symlink():
                try:
                    target = path.resolve()
                except (RuntimeError, OSError):
                    continue
                if target == private or target.is_relative_to(private):
                    raise TaskError(f"{path} links into the task's scripts/ folder, which the agent must not see.")
