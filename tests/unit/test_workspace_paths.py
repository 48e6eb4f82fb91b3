"""Path confinement, read-only files, hidden folders and the undo stack of Workspace."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.task import Task
from budgetmlagent.workspace.workspace import BACKUP_DIR, Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    (root / "data").mkdir(parents=True)
    (root / "train.py").write_text("print(1)\n")
    (root / "train.csv").write_text("a\n1\n")
    (root / "data" / "images.txt").write_text("x\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    return Workspace(root, ["./train.csv", "data/*"])


def test_resolve_inside(ws: Workspace) -> None:
    assert ws.resolve("train.py") == ws.root / "train.py"
    assert ws.resolve("./data/../train.py") == ws.root / "train.py"
    assert ws.resolve(str(ws.root / "train.py")) == ws.root / "train.py"
    assert ws.resolve("") == ws.root
    assert ws.resolve("new.py", for_write=True) == ws.root / "new.py"


@pytest.mark.parametrize(
    ("path", "reason"),
    [("../secret.txt", "'..'"), ("data/../../secret.txt", "'..'"), ("/etc/passwd", "absolute path")],
)
def test_resolve_refuses_escapes(ws: Workspace, path: str, reason: str) -> None:
    with pytest.raises(ActionInputError, match=reason):
        ws.resolve(path)


def test_resolve_refuses_symlink_escapes(ws: Workspace, tmp_path: Path) -> None:
    os.symlink(tmp_path / "secret.txt", ws.root / "link.txt")
    os.symlink(tmp_path, ws.root / "linkdir")
    for path in ("link.txt", "linkdir/secret.txt", "linkdir"):
        with pytest.raises(ActionInputError, match="symlink"):
            ws.resolve(path)
    with pytest.raises(ActionInputError, match="symlink"):
        ws.resolve("link.txt", for_write=True)


def test_symlink_inside_to_read_only_file_is_read_only(ws: Workspace) -> None:
    os.symlink(ws.root / "train.csv", ws.root / "alias.csv")
    assert ws.resolve("alias.csv") == ws.root / "train.csv"
    with pytest.raises(ActionInputError, match="read-only"):
        ws.resolve("alias.csv", for_write=True)


def test_read_only_globs(ws: Workspace) -> None:
    assert ws.is_read_only("train.csv")
    assert ws.is_read_only("./train.csv")
    assert ws.is_read_only("data/images.txt")
    assert not ws.is_read_only("train.py")
    for path in ("train.csv", "./train.csv", "data/images.txt", "data/new.txt"):
        with pytest.raises(ActionInputError, match="read-only"):
            ws.resolve(path, for_write=True)
    assert ws.resolve("train.csv") == ws.root / "train.csv"  # reading is fine


def test_directories_are_not_write_targets(ws: Workspace) -> None:
    with pytest.raises(ActionInputError, match="directory"):
        ws.resolve("data", for_write=True)
    with pytest.raises(ActionInputError, match="directory"):
        ws.resolve(".", for_write=True)


def test_backup_folder_is_hidden_and_off_limits(ws: Workspace) -> None:
    ws.write_text("train.py", "print(2)\n")
    assert (ws.root / BACKUP_DIR).is_dir()
    assert BACKUP_DIR + "/" not in ws.list_dir(".")
    assert not any(f.startswith(BACKUP_DIR) for f in ws.files())
    with pytest.raises(ActionInputError, match="backup"):
        ws.resolve(f"{BACKUP_DIR}/train.py/000001", for_write=True)
    with pytest.raises(ActionInputError, match="backup"):
        ws.resolve(f"{BACKUP_DIR}/train.py/000001")


def test_list_dir(ws: Workspace) -> None:
    assert ws.list_dir(".") == ["data/", "train.csv", "train.py"]
    assert ws.list_dir("data") == ["images.txt"]
    with pytest.raises(ActionInputError, match="not a directory"):
        ws.list_dir("train.py")


def test_undo_stack(ws: Workspace) -> None:
    ws.write_text("train.py", "print(2)\n")
    ws.write_text("train.py", "print(3)\n")
    assert ws.backup_count("train.py") == 2
    assert ws.undo("train.py") == "print(2)\n"
    assert ws.undo("train.py") == "print(1)\n"
    assert (ws.root / "train.py").read_text() == "print(1)\n"
    with pytest.raises(ActionInputError, match="no edit"):
        ws.undo("train.py")


def test_undo_of_a_created_file_removes_it(ws: Workspace) -> None:
    ws.write_text("sub/new.py", "x = 1\n")
    assert (ws.root / "sub" / "new.py").read_text() == "x = 1\n"
    assert ws.undo("sub/new.py") == ""
    assert not (ws.root / "sub" / "new.py").exists()


def test_copy_and_append_are_undoable(ws: Workspace) -> None:
    ws.copy_file("train.py", "copy.py")
    ws.write_text("copy.py", "# more\n", append=True)
    assert (ws.root / "copy.py").read_text() == "print(1)\n# more\n"
    ws.undo("copy.py")
    assert (ws.root / "copy.py").read_text() == "print(1)\n"
    ws.undo("copy.py")
    assert not (ws.root / "copy.py").exists()


def test_missing_file_error_lists_files(ws: Workspace) -> None:
    with pytest.raises(ActionInputError, match=r"does not exist.*train\.py"):
        ws.existing_file("trian.py")


def test_create_copies_env(tmp_path: Path) -> None:
    env = tmp_path / "task" / "env"
    env.mkdir(parents=True)
    (env / "train.py").write_text("print(1)\n")
    (tmp_path / "task" / "scripts").mkdir()
    task = Task(
        name="t",
        root=tmp_path / "task",
        env_dir=env,
        scripts_dir=tmp_path / "task" / "scripts",
        research_problem="p",
        read_only_files=["x.csv"],
        content_hash="0",
    )
    ws = Workspace.create(task, tmp_path / "run" / "workspace")
    assert (ws.root / "train.py").read_text() == "print(1)\n"
    assert ws.read_only == ["x.csv"]
    assert ws.list_dir(".") == ["train.py"]
    with pytest.raises(ValueError, match="not empty"):
        Workspace.create(task, ws.root)
