"""`bench --ray` on a real two-node Ray cluster on loopback: a scripted sweep that loses a node mid-cell, a CLI
sweep interrupted with Ctrl-C and resumed, and one cell on the real local models."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import IMPROVED_TRAIN
from fake_provider import CannedReply, FakeChatServer
from fakes import code_reply_title, fenced
from ray_cluster import (
    HangingModels,
    LoopbackCluster,
    noting_runner,
    ray_available,
    ray_processes,
    running_cell_tasks,
    starts,
)

from budgetmlagent.benchmarks.harness import RayOptions, Sweep, SweepSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not ray_available(), reason='Ray is not installed (pip install -e ".[ray]")'),
]

BASE = "openai_compatible:base@http://127.0.0.1:9/v1"
CLI = [sys.executable, "-m", "budgetmlagent.cli"]
PRICED = "openai:gpt-4o-mini"  # priced, so a record's dollars show the worker reached the endpoint
STEP = re.compile(r"Step (\d+) of \d+")


def plan(name: str, **action_input: str) -> dict[str, object]:
    return {
        "reflection": "noted",
        "research_plan_and_status": "1. improve",
        "fact_check": "none",
        "thought": f"now {name}",
        "action": {"name": name, "input": action_input},
    }


EDIT = plan("Edit Script (AI)", script_name="train.py", edit_instruction="raise the score", save_name="train.py")
FINAL = plan("Final Answer", final_answer="done")
# Step 1 edits train.py (a planner and a coder call), step 2 answers: call 3 is step 2's planner.
REPLIES = [EDIT, {"summary": "raised", "code": IMPROVED_TRAIN}, FINAL, EDIT, {"summary": "s", "code": IMPROVED_TRAIN}]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LoopbackCluster]:
    loopback = LoopbackCluster(tmp_path)
    try:
        yield loopback.start()
    finally:
        loopback.stop()


def test_a_scripted_sweep_survives_losing_a_node_mid_cell(
    cluster: LoopbackCluster, tiny_task: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    markers = tmp_path / "markers"
    markers.mkdir()
    models = HangingModels({BASE: REPLIES}, marker_dir=markers, hang_at=3)
    settings = SweepSettings(
        tasks=[tiny_task],
        configs=["single-base", "cascade"],
        seeds=2,
        out=out,
        preset=f"single:{BASE}",
        max_steps=5,
        context_overrides={"chat_model_factory": models, "cache_dir": str(tmp_path / "cache"), "keep_improving": False},
        ray=RayOptions(cluster.address, cpus_per_cell=1, max_retries=3),
    )
    killed: list[int] = []

    def kill_the_hanging_node() -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not any(markers.iterdir()):
            time.sleep(0.2)
        killed.extend(cluster.kill_second_node())

    watcher = threading.Thread(target=kill_the_hanging_node, daemon=True)
    watcher.start()
    lines: list[str] = []
    records = Sweep(settings, noting_runner, log=lines.append).run()
    watcher.join(5)
    assert killed, "no cell ever hung on the second node"
    assert len(records) == 4 and {r["key"] for r in records} == {c.key for c in settings.cells()}
    assert all(r["success"] and r["status"] == "final_answer" for r in records), records
    attempts = Counter(s["key"] for s in starts(out))
    (lost,) = [key for key, n in attempts.items() if n == 2]  # only the cell on the killed node ran twice
    assert all(n == 1 for key, n in attempts.items() if key != lost), attempts
    nodes = {s["node"] for s in starts(out) if s["key"] == lost}
    assert len(nodes) == 2  # retried elsewhere
    resumed = next(r for r in records if r["key"] == lost)
    assert resumed["resumed_after_step"] == 1  # continued from its checkpoint after step 1, not afresh
    trace = [json.loads(line) for line in (out / resumed["run_dir"] / "trace.jsonl").read_text().splitlines()]
    assert [r["step"] for r in trace if r["type"] == "step"] == list(range(1, resumed["steps"] + 1))
    assert all("resumed_after_step" not in r for r in records if r["key"] != lost)
    assert len((out / "results.jsonl").read_text().splitlines()) == 4


class SlowScriptedOpenAI(FakeChatServer):
    """An OpenAI endpoint that answers by what is asked (edit at step 1, Final Answer after), a second a call,
    so a sweep is still busy when the test interrupts it; with `open` cleared every answer waits for it (on a quiet
    machine all six cells finished before the interrupt landed)."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.open.set()

    def _completion(self, payload: dict[str, Any], *_: Any, **__: Any) -> dict[str, Any]:
        time.sleep(1.0)
        self.open.wait(120)
        messages = payload.get("messages", [])
        schema = (payload.get("response_format") or {}).get("json_schema", {}).get("name", "")
        schema = schema or code_reply_title(str(messages[0].get("content", "")) if messages else "")
        steps = STEP.findall("\n".join(str(m.get("content", "")) for m in messages))
        if schema == "PlannerReply":
            content = json.dumps(EDIT if not steps or steps[-1] == "1" else FINAL)
        else:
            content = fenced({"summary": "raised", "code": IMPROVED_TRAIN})
        return super()._completion(payload, CannedReply(content, prompt_tokens=1000, completion_tokens=100))


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_cli_sweep_on_the_cluster_stops_on_ctrl_c_and_resumes(
    cluster: LoopbackCluster, tiny_task: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    args = ["bench", "--tasks", str(tiny_task), "--configs", "single-base", "cascade", "--seeds", "3",
            "--preset", f"single:{PRICED}", "--max-steps", "4", "--ray", cluster.address, "--ray-cpus-per-cell", "1",
            "--set", "keep_improving=false", "--out", str(out)]  # fmt: skip
    with SlowScriptedOpenAI() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BUDGETMLAGENT_", "OPENAI_", "GOOGLE_"))}
        env |= {"OPENAI_API_KEY": "sk-fake", "OPENAI_BASE_URL": server.base_url(), "NO_PROXY": "127.0.0.1,localhost",
                "BUDGETMLAGENT_CACHE": str(tmp_path / "cache")}  # fmt: skip
        first = subprocess.Popen([*CLI, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        results = out / "results.jsonl"
        try:
            wait_for(lambda: results.exists() and results.read_text().count("\n") >= 1, 120, "a first finished cell")
            server.open.clear()  # the cells still running wait on their model calls until the interrupt
            wait_for(lambda: bool(running_cell_tasks()), 30, "a cell running on the cluster")
            first.send_signal(signal.SIGINT)
            _, err = first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                first.kill()
        text = err.decode()
        assert first.returncode == 130 and "Traceback" not in text, text
        assert "cancelling" in text and "interrupted" in text
        wait_for(lambda: not running_cell_tasks(), 30, "the cancelled cells' workers to go")  # no orphan
        finished_first = len(results.read_text().splitlines())
        assert 1 <= finished_first < 6
        server.open.set()

        second = subprocess.run([*CLI, *args], env=env, capture_output=True, timeout=300)
    text = second.stderr.decode()
    assert second.returncode == 0, text
    assert f"resuming: {finished_first} of 6 cells already finished" in text
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == 6 and len({r["key"] for r in records}) == 6
    assert all(r["success"] for r in records), records
    assert all(r["cost_usd"] > 0 for r in records)  # the API key and endpoint reached the workers
    assert (out / "report.md").is_file()


TITANIC = Path(__file__).resolve().parents[2] / "benchmarks" / "tasks" / "titanic"


def test_one_real_model_cell_on_the_cluster_uses_its_nodes_model_server(
    cluster: LoopbackCluster, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    env = os.environ | {"BUDGETMLAGENT_CACHE_DIR": str(tmp_path / "cache")}
    # recipes_first off: the step is the model's (a recipe step would call no model)
    args = ["bench", "--tasks", str(TITANIC), "--configs", "single-base", "--max-steps", "1",
            "--script-timeout", "120", "--set", "recipes_first=false", "--ray", cluster.address,
            "--ray-cpus-per-cell", "1", "--out", str(out)]  # fmt: skip
    done = subprocess.run([*CLI, *args], env=env, capture_output=True, timeout=480)
    text = done.stderr.decode()
    assert done.returncode == 0, text
    assert "models from the node's shared server" in text  # the node's ModelHost served the cell
    (record,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert record["status"] in ("step_cap", "final_answer"), record
    assert record["baseline"] == pytest.approx(0.6997, abs=1e-3) and record["score"] is not None
    trace = [json.loads(line) for line in (out / record["run_dir"] / "trace.jsonl").read_text().splitlines()]
    answered = [r for r in trace if r["type"] == "llm_call" and not r.get("error")]
    assert answered and answered[0]["input_tokens"] > 300  # measured by the real server (a busy machine may
    # see the first call time out: the answered one counts)
    wait_for(lambda: not ray_processes("ModelHost"), 30, "the model hosts to end with the sweep")
