"""Cells resumable to the step (a SQLite checkpointer in every cell's run folder, on the thread path too), and
what `bench --ray` refuses in one line before it reaches a cluster. The cluster itself:
tests/integration/test_bench_ray.py."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from conftest import IMPROVED_TRAIN
from fakes import ScriptedModels
from test_graph_edges import code, edit, plan

from budgetmlagent.benchmarks.harness import RESULTS_FILE, Sweep, SweepSettings, resumable
from budgetmlagent.benchmarks.ray_engine import forwarded_env
from budgetmlagent.cli import main
from budgetmlagent.runtime.durable import CHECKPOINT_FILE

BASE = "openai_compatible:base@http://127.0.0.1:9/v1"


class Killed(BaseException):
    """Stands in for SIGKILL of the sweep: nothing in the graph or the harness catches it."""


EDIT, FINAL = edit(), plan("Final Answer", final_answer="done")


def sweep_settings(task: Path, tmp_path: Path, models: ScriptedModels) -> SweepSettings:
    overrides = {"chat_model_factory": models, "cache_dir": str(tmp_path / "cache"), "keep_improving": False}
    return SweepSettings(
        tasks=[task], configs=["single-base"], out=tmp_path / "sweep", preset=f"single:{BASE}", max_steps=5,
        context_overrides=overrides,
    )  # fmt: skip


def test_a_killed_sweep_continues_its_cell_from_the_last_completed_step(tiny_task: Path, tmp_path: Path) -> None:
    killed = ScriptedModels({BASE: [EDIT, code(IMPROVED_TRAIN), Killed()]})
    with pytest.raises(Killed):  # killed in step 2's planner call, after step 1 improved train.py
        Sweep(sweep_settings(tiny_task, tmp_path, killed), log=lambda _: None).run()
    run_dir = tmp_path / "sweep" / "runs" / "tiny-task" / "single-base" / "seed0"
    assert (run_dir / CHECKPOINT_FILE).is_file() and resumable(run_dir)

    lines: list[str] = []
    resumed = ScriptedModels({BASE: [FINAL]})  # only step 2 is asked again
    (record,) = Sweep(sweep_settings(tiny_task, tmp_path, resumed), log=lines.append).run()
    assert record["resumed_after_step"] == 1 and record["attempts"] == 1
    assert record["success"] and record["score"] == 0.9  # step 1's edit, kept from the first process
    assert record["steps"] == 2 and resumed.remaining() == {}
    assert any("continues the run a killed sweep or worker left" in line for line in lines)
    assert not list(run_dir.parent.glob("seed0.crashed-*"))  # the folder was continued, not set aside
    trace = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    assert [r["step"] for r in trace if r["type"] == "step"] == [1, 2]

    # killed after the run ended but before its line was written: the result is taken, nothing runs again
    (tmp_path / "sweep" / RESULTS_FILE).write_text("")
    idle = ScriptedModels({})
    (again,) = Sweep(sweep_settings(tiny_task, tmp_path, idle), log=lambda _: None).run()
    assert again["success"] and again["resumed_after_step"] == 2 and idle.calls() == []


def test_only_a_folder_with_checkpoints_and_no_crash_report_is_continued(tmp_path: Path) -> None:
    assert not resumable(tmp_path)  # no checkpoints: set aside, as before
    (tmp_path / CHECKPOINT_FILE).write_bytes(b"not a database")
    assert not resumable(tmp_path)
    (tmp_path / CHECKPOINT_FILE).unlink()
    from budgetmlagent.runtime.durable import open_checkpointer

    open_checkpointer(tmp_path).conn.close()  # the tables, but no checkpoint yet
    assert not resumable(tmp_path)


def test_workers_get_the_api_keys_and_project_settings_only() -> None:
    env = {"OPENAI_API_KEY": "sk", "BUDGETMLAGENT_THREADS": "4", "HOME": "/root", "AWS_SECRET": "x"}
    assert forwarded_env(env) == {"OPENAI_API_KEY": "sk", "BUDGETMLAGENT_THREADS": "4"}


def bench_args(task: Path, tmp_path: Path, *more: str) -> list[str]:
    return ["bench", "--tasks", str(task), "--configs", "single-base", "--preset", f"single:{BASE}",
            "--out", str(tmp_path / "sweep"), *more]  # fmt: skip


def test_ray_not_installed_is_one_line(
    tiny_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # `import ray` raises ImportError
    assert main(bench_args(tiny_task, tmp_path, "--ray", "auto")) == 2
    err = capsys.readouterr().err
    assert err == 'error: --ray needs Ray, which is not installed: pip install "budgetmlagent[ray]"\n'


def test_an_unreachable_cluster_is_one_line(
    tiny_task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(bench_args(tiny_task, tmp_path, "--ray", f"127.0.0.1:{port}")) == 1
    err = capsys.readouterr().err
    assert f"error: no Ray cluster answers at 127.0.0.1:{port}" in err and "Traceback" not in err
    assert not (tmp_path / "sweep" / RESULTS_FILE).exists() or not (tmp_path / "sweep" / RESULTS_FILE).read_text()
