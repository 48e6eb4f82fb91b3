"""Every action's happy path, and every kind of bad input turning into an observation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from budgetmlagent.workspace.actions import (
    ACTIONS,
    PLAIN_ACTIONS,
    ActionResult,
    EditScriptInput,
    InspectScriptLinesInput,
    canonical_action_name,
    execute_plain_action,
    expected_json,
    render_tool_descriptions,
    validate_action,
)
from budgetmlagent.workspace.workspace import Workspace

SCRIPT = "\n".join(f"x{i} = {i}" for i in range(1, 151)) + "\n"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    (root / "train.py").write_text(SCRIPT)
    (root / "ok.py").write_text("print('hello from ok')\nopen('out.txt', 'w').write('done')\n")
    (root / "bad.py").write_text("def f():\n    return {}['missing']\n\nf()\n")
    (root / "train.csv").write_text("a,b\n1,2\n")
    (root / "notes.txt").write_text("some notes\n")
    (root / "blob.bin").write_bytes(b"\x00\x01\x02")
    (root / "sub" / "inner.txt").write_text("inner\n")
    (tmp_path / "outside.txt").write_text("secret\n")
    return Workspace(root, ["./train.csv"])


def run(ws: Workspace, name: str, action_input: Any, **kwargs: Any) -> ActionResult:
    """Validate then execute, the way the executor node does."""
    parsed, error = validate_action(ws, name, action_input)
    if error is not None:
        return ActionResult(error, False)
    assert parsed is not None
    return execute_plain_action(ws, name, parsed, script_timeout_s=kwargs.pop("timeout", 30), **kwargs)


# -- registry ------------------------------------------------------------------------------------


def test_registry_names_and_kinds() -> None:
    assert list(ACTIONS) == [
        "List Files",
        "Read File",
        "Write File",
        "Append File",
        "Copy File",
        "Undo Edit Script",
        "Execute Script",
        "Final Answer",
        "Understand File",
        "Inspect Script Lines",
        "Edit Script (AI)",
        "Edit Script Segment (AI)",
        "Reflection",
        "Retrieval from Research Log",
        "Ask Expert",
        "Revert To Best",
    ]
    assert ACTIONS["Revert To Best"].kind == "state"
    assert set(PLAIN_ACTIONS) == {
        "List Files",
        "Read File",
        "Write File",
        "Append File",
        "Copy File",
        "Undo Edit Script",
        "Execute Script",
        "Inspect Script Lines",
    }
    assert ACTIONS["Final Answer"].kind == "final"
    assert {n for n, s in ACTIONS.items() if s.kind == "llm"} == {
        "Understand File",
        "Edit Script (AI)",
        "Edit Script Segment (AI)",
        "Reflection",
        "Retrieval from Research Log",
        "Ask Expert",
    }
    fields = {name: list(spec.input_model.model_fields) for name, spec in ACTIONS.items()}
    assert fields["Copy File"] == ["source", "destination"]
    assert fields["Edit Script Segment (AI)"] == [
        "script_name",
        "start_line_number",
        "end_line_number",
        "edit_instruction",
        "save_name",
    ]


def test_render_tool_descriptions_keeps_order_and_can_drop_actions() -> None:
    text = render_tool_descriptions(["Execute Script", "List Files"])
    assert text.index("Execute Script") < text.index("List Files")
    assert '"script_name"' in text and '"dir_path"' in text
    assert "Ask Expert" not in text
    full = render_tool_descriptions(list(ACTIONS))
    assert all(f"- {name} {{" in full for name in ACTIONS)


def test_canonical_names_are_forgiving() -> None:
    assert canonical_action_name("execute script") == "Execute Script"
    assert canonical_action_name(" Edit Script AI ") == "Edit Script (AI)"
    assert canonical_action_name("edit_script_segment_(ai)") == "Edit Script Segment (AI)"
    assert canonical_action_name("Run Script") is None
    assert canonical_action_name(None) is None


# -- validation errors ---------------------------------------------------------------------------


def test_unknown_action_lists_valid_names(ws: Workspace) -> None:
    parsed, error = validate_action(ws, "Train Model", {})
    assert parsed is None and error is not None
    assert "Unknown action" in error and "Execute Script" in error and "Ask Expert" in error


def test_missing_fields_show_expected_json(ws: Workspace) -> None:
    parsed, error = validate_action(ws, "Read File", {"filename": "train.py"})
    assert parsed is None and error is not None
    assert "missing field(s): file_name" in error
    assert "unexpected field(s): filename" in error
    assert expected_json("Read File") in error


def test_extra_fields_are_ignored(ws: Workspace) -> None:
    parsed, error = validate_action(ws, "Read File", {"file_name": "notes.txt", "mode": "fast"})
    assert error is None and parsed is not None


def test_input_as_json_text_or_bare_string(ws: Workspace) -> None:
    parsed, error = validate_action(ws, "Read File", '{"file_name": "notes.txt"}')
    assert error is None and parsed is not None
    parsed, error = validate_action(ws, "Execute Script", "ok.py")
    assert error is None and parsed is not None and parsed.script_name == "ok.py"  # type: ignore[attr-defined]
    parsed, error = validate_action(ws, "Write File", "not json")
    assert parsed is None and error is not None and "JSON object" in error
    parsed, error = validate_action(ws, "Read File", ["notes.txt"])  # type: ignore[arg-type]
    assert parsed is None and error is not None and "JSON object" in error


def test_wrong_types_are_explained(ws: Workspace) -> None:
    bad = {"script_name": "train.py", "start_line_number": "ten", "end_line_number": 5}
    parsed, error = validate_action(ws, "Inspect Script Lines", bad)
    assert parsed is None and error is not None
    assert "start_line_number" in error and "integer" in error


def test_blank_required_text_is_refused(ws: Workspace) -> None:
    _, error = validate_action(ws, "Final Answer", {"final_answer": "  "})
    assert error is not None and "final_answer" in error
    _, error = validate_action(ws, "Ask Expert", {"question": ""})
    assert error is not None and "question" in error


@pytest.mark.parametrize(
    ("name", "action_input", "expected"),
    [
        ("Read File", {"file_name": "nope.txt"}, "does not exist"),
        ("Read File", {"file_name": "sub"}, "directory"),
        ("Read File", {"file_name": "blob.bin"}, "binary"),
        ("Read File", {"file_name": "../outside.txt"}, "'..'"),
        ("Read File", {"file_name": "/etc/passwd"}, "absolute path"),
        ("List Files", {"dir_path": "nope"}, "not an existing directory"),
        ("List Files", {"dir_path": ".."}, "'..'"),
        ("Write File", {"file_name": "train.csv", "content": "x"}, "read-only"),
        ("Write File", {"file_name": "../evil.py", "content": "x"}, "'..'"),
        ("Write File", {"file_name": "", "content": "x"}, "must not be empty"),
        ("Write File", {"file_name": "sub", "content": "x"}, "directory"),
        ("Append File", {"file_name": "./train.csv", "content": "x"}, "read-only"),
        ("Copy File", {"source": "nope.py", "destination": "b.py"}, "does not exist"),
        ("Copy File", {"source": "ok.py", "destination": "train.csv"}, "read-only"),
        ("Copy File", {"source": "../outside.txt", "destination": "o.txt"}, "'..'"),
        ("Undo Edit Script", {"script_name": "train.py"}, "no edit"),
        ("Execute Script", {"script_name": "nope.py"}, "does not exist"),
        ("Execute Script", {"script_name": "notes.txt"}, "not a python script"),
        ("Understand File", {"file_name": "nope.txt", "things_to_look_for": "x"}, "does not exist"),
        (
            "Inspect Script Lines",
            {"script_name": "train.py", "start_line_number": 1, "end_line_number": 150},
            "At most 100 lines",
        ),
        (
            "Inspect Script Lines",
            {"script_name": "train.py", "start_line_number": 0, "end_line_number": 5},
            "at least 1",
        ),
        (
            "Inspect Script Lines",
            {"script_name": "train.py", "start_line_number": 10, "end_line_number": 5},
            "must not be smaller",
        ),
        (
            "Inspect Script Lines",
            {"script_name": "train.py", "start_line_number": 151, "end_line_number": 160},
            "past the end",
        ),
        (
            "Inspect Script Lines",
            {"script_name": "nope.py", "start_line_number": 1, "end_line_number": 5},
            "does not exist",
        ),
        (
            "Edit Script (AI)",
            {"script_name": "ok.py", "edit_instruction": "x", "save_name": "train.csv"},
            "read-only",
        ),
        (
            "Edit Script (AI)",
            {"script_name": "../outside.py", "edit_instruction": "x", "save_name": "a.py"},
            "'..'",
        ),
        (
            "Edit Script Segment (AI)",
            {
                "script_name": "train.py",
                "start_line_number": 5,
                "end_line_number": 2,
                "edit_instruction": "x",
                "save_name": "t2.py",
            },
            "must not be smaller",
        ),
        (
            "Edit Script Segment (AI)",
            {
                "script_name": "train.py",
                "start_line_number": 1,
                "end_line_number": 2,
                "edit_instruction": "x",
                "save_name": "/tmp/elsewhere.py",
            },
            "absolute path",
        ),
    ],
)
def test_invalid_inputs_give_observations(ws: Workspace, name: str, action_input: dict, expected: str) -> None:
    parsed, error = validate_action(ws, name, action_input)
    assert parsed is None
    assert error is not None and expected in error, error
    if name in PLAIN_ACTIONS:
        result = execute_plain_action(ws, name, action_input, script_timeout_s=10)
        assert not result.ok and expected in result.observation


def test_symlink_escape_is_refused(ws: Workspace, tmp_path: Path) -> None:
    os.symlink(tmp_path / "outside.txt", ws.root / "link.txt")
    result = run(ws, "Read File", {"file_name": "link.txt"})
    assert not result.ok and "symlink" in result.observation
    result = run(ws, "Write File", {"file_name": "link.txt", "content": "x"})
    assert not result.ok and "symlink" in result.observation
    assert (tmp_path / "outside.txt").read_text() == "secret\n"


def test_line_numbers_accept_int_like_strings_and_clamp(ws: Workspace) -> None:
    parsed, error = validate_action(
        ws,
        "Inspect Script Lines",
        {"script_name": "train.py", "start_line_number": " 140 ", "end_line_number": "200"},
    )
    assert error is None and isinstance(parsed, InspectScriptLinesInput)
    assert (parsed.start_line_number, parsed.end_line_number) == (140, 150)


def test_llm_action_inputs_validate(ws: Workspace) -> None:
    parsed, error = validate_action(
        ws,
        "Edit Script (AI)",
        {"script_name": "brand_new.py", "edit_instruction": "write it", "save_name": "brand_new.py"},
    )
    assert error is None and isinstance(parsed, EditScriptInput)
    for name, action_input in [
        ("Understand File", {"file_name": "notes.txt", "things_to_look_for": "the notes"}),
        ("Reflection", {"things_to_reflect_on": "progress"}),
        ("Retrieval from Research Log", {"current_plan": "plan"}),
        ("Ask Expert", {"question": "what next?"}),
        ("Final Answer", {"final_answer": "done"}),
        (
            "Edit Script Segment (AI)",
            {
                "script_name": "train.py",
                "start_line_number": 1,
                "end_line_number": 3,
                "edit_instruction": "x",
                "save_name": "t.py",
            },
        ),
    ]:
        parsed, error = validate_action(ws, name, action_input)
        assert error is None and isinstance(parsed, BaseModel), (name, error)


def test_executor_refuses_non_plain_actions(ws: Workspace) -> None:
    result = execute_plain_action(ws, "Final Answer", {"final_answer": "x"}, script_timeout_s=5)
    assert not result.ok and "not an action the executor runs" in result.observation
    result = execute_plain_action(ws, "Dance", {}, script_timeout_s=5)
    assert not result.ok


# -- happy paths ---------------------------------------------------------------------------------


def test_list_files(ws: Workspace) -> None:
    result = run(ws, "List Files", {"dir_path": "."})
    assert result.ok
    assert result.observation.splitlines() == [
        "bad.py",
        "blob.bin",
        "notes.txt",
        "ok.py",
        "sub/",
        "train.csv",
        "train.py",
    ]
    assert run(ws, "List Files", {"dir_path": "sub"}).observation == "inner.txt"


def test_read_file(ws: Workspace) -> None:
    result = run(ws, "Read File", {"file_name": "notes.txt"})
    assert result.ok and result.observation == "some notes\n"


def test_write_file_returns_diff_and_is_undoable(ws: Workspace) -> None:
    result = run(ws, "Write File", {"file_name": "notes.txt", "content": "new notes\n"})
    assert result.ok and result.changed_files == ["notes.txt"]
    assert "-some notes" in result.observation and "+new notes" in result.observation
    undo = run(ws, "Undo Edit Script", {"script_name": "notes.txt"})
    assert undo.ok and "some notes" in undo.observation
    assert (ws.root / "notes.txt").read_text() == "some notes\n"


def test_write_new_file_in_new_folder(ws: Workspace) -> None:
    result = run(ws, "Write File", {"file_name": "models/m.py", "content": "x = 1\n"})
    assert result.ok and (ws.root / "models" / "m.py").read_text() == "x = 1\n"
    undo = run(ws, "Undo Edit Script", {"script_name": "models/m.py"})
    assert undo.ok and "removed" in undo.observation
    assert not (ws.root / "models" / "m.py").exists()


def test_large_diff_is_bounded(ws: Workspace) -> None:
    result = run(ws, "Write File", {"file_name": "big.py", "content": "y = 2\n" * 5000})
    assert result.ok and "characters omitted" in result.observation
    assert len(result.observation) < 6000


def test_append_file(ws: Workspace) -> None:
    result = run(ws, "Append File", {"file_name": "notes.txt", "content": "more\n"})
    assert result.ok and "+more" in result.observation
    assert (ws.root / "notes.txt").read_text() == "some notes\nmore\n"


def test_copy_file(ws: Workspace) -> None:
    result = run(ws, "Copy File", {"source": "ok.py", "destination": "ok_copy.py"})
    assert result.ok and result.changed_files == ["ok_copy.py"]
    assert (ws.root / "ok_copy.py").read_text() == (ws.root / "ok.py").read_text()


def test_inspect_script_lines(ws: Workspace) -> None:
    result = run(ws, "Inspect Script Lines", {"script_name": "train.py", "start_line_number": 3, "end_line_number": 5})
    assert result.ok
    lines = result.observation.splitlines()
    assert "150 lines" in lines[0]
    assert lines[1:] == ["3: x3 = 3", "4: x4 = 4", "5: x5 = 5"]


def test_execute_script_success(ws: Workspace) -> None:
    result = run(ws, "Execute Script", {"script_name": "ok.py"})
    assert result.ok
    assert result.observation.startswith("The script has been executed. Here is the output:\nhello from ok")
    assert result.changed_files == ["out.txt"]
    assert "out.txt" in result.observation
    assert result.script_run is not None and result.script_run.returncode == 0


def test_execute_script_failure_shows_traceback(ws: Workspace) -> None:
    result = run(ws, "Execute Script", {"script_name": "bad.py"})
    assert not result.ok
    assert "exit code 1" in result.observation
    assert "KeyError: 'missing'" in result.observation
    assert result.script_run is not None and result.script_run.traceback is not None
    assert result.script_run.traceback.startswith("Traceback (most recent call last):")


def test_execute_script_timeout(ws: Workspace) -> None:
    (ws.root / "slow.py").write_text("import time\nprint('start', flush=True)\ntime.sleep(60)\n")
    result = run(ws, "Execute Script", {"script_name": "slow.py"}, timeout=1)
    assert not result.ok
    assert "time limit" in result.observation and "start" in result.observation
    assert result.script_run is not None and result.script_run.timed_out


def test_execute_accepts_parsed_model_from_dict(ws: Workspace) -> None:
    result = execute_plain_action(ws, "Execute Script", {"script_name": "ok.py"}, script_timeout_s=30)
    assert result.ok
