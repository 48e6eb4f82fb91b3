"""`langgraph dev` serves the graph: it loads, shows its schemas, and runs a thread end to end."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(url: str, payload: dict[str, Any] | None = None, timeout: float = 30) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = _free_port()
    env = os.environ | {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "true"}
    cli = Path(sys.executable).with_name("langgraph")
    proc = subprocess.Popen(
        [str(cli), "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"langgraph dev exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                _request(f"{url}/ok", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("langgraph dev did not become ready in 90 s")
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_the_graph_and_its_schemas_are_served(server: str) -> None:
    assistants = _request(f"{server}/assistants/search", {})
    assert [a["graph_id"] for a in assistants] == ["budgetmlagent"]
    schemas = _request(f"{server}/assistants/{assistants[0]['assistant_id']}/schemas")
    assert set(schemas["input_schema"]["properties"]) == {"task_dir", "run_dir"}
    assert {"preset", "lifelines", "max_steps", "budget_usd"} <= set(schemas["context_schema"]["properties"])


def test_a_thread_runs_to_a_clean_verdict(server: str, tmp_path: Path) -> None:
    thread = _request(f"{server}/threads", {})
    state = _request(
        f"{server}/threads/{thread['thread_id']}/runs/wait",
        {
            "assistant_id": "budgetmlagent",
            "input": {"task_dir": str(tmp_path / "no-such-task")},
            "context": {"runs_dir": str(tmp_path / "runs")},
        },
    )
    assert state["status"] == "error" and "no-such-task" in state["result"]["error"]
    assert list((tmp_path / "runs").glob("*/result.json"))


TITANIC = REPO / "benchmarks" / "tasks" / "titanic"


def test_a_local_run_streams_live_progress_through_the_sdk(server: str, tmp_path: Path) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    thread = client.threads.create()
    context = {
        "max_steps": 2,
        "recipes_first": False,  # the models' steps: the recipe phase would take both without a model call
        "runs_dir": str(tmp_path / "runs"),
        "memory_dir": str(tmp_path / "memory"),
        "cache_dir": str(tmp_path / "cache"),
        "code_output_tokens": 1200,
    }
    events = []
    for part in client.runs.stream(
        thread["thread_id"],
        "budgetmlagent",
        input={"task_dir": str(TITANIC)},
        context=context,
        stream_mode=["custom", "values"],
    ):
        if part.event == "custom":
            events.append(part.data)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "result" and kinds.count("step") >= 1
    step = next(e for e in events if e["type"] == "step")
    assert step["action"] and step["model"].startswith("local:") and "cost_usd" in step and step["tokens"] > 0
    values = client.threads.get_state(thread["thread_id"])["values"]
    result = values["result"]
    assert result["status"] in ("step_cap", "final_answer") and result["score"] is not None, result
    assert values["result"]["baseline"] == pytest.approx(0.6997, abs=1e-3)


def test_approval_interrupts_are_answered_through_the_server(server: str, tmp_path: Path) -> None:
    from fake_provider import FakeChatServer
    from langgraph_sdk import get_sync_client

    task = tmp_path / "task"
    (task / "env").mkdir(parents=True)
    (task / "scripts").mkdir()
    # It prints its hold-out metric, so the scaffold takes no first step of its own and the planner's actions are
    # the ones a person approves or denies.
    (task / "env" / "train.py").write_text(
        "open('submission.csv', 'w').write('0.5')\nprint('ran')\nprint('Validation score: 0.5')\n"
    )
    (task / "scripts" / "eval.py").write_text(
        "from pathlib import Path\n\n\ndef get_score(folder):\n"
        "    return float((Path(folder) / 'submission.csv').read_text())\n"
    )
    (task / "scripts" / "research_problem.txt").write_text("Improve the score.")
    run = {
        "reflection": "r",
        "research_plan_and_status": "p",
        "fact_check": "f",
        "thought": "run it",
        "action": {"name": "Execute Script", "input": {"script_name": "train.py"}},
    }
    fake = FakeChatServer().start()
    try:
        fake.reply(json.dumps(run)).reply(json.dumps(run))
        spec = f"openai_compatible:fake@{fake.base_url()}"
        context = {
            "planner_models": [spec],
            "coder_models": [spec],
            "debugger_models": [spec],
            "worker_model": spec,
            "use_expert": False,
            "use_retrieval": False,
            "require_approval": True,
            "max_steps": 2,
            "runs_dir": str(tmp_path / "runs"),
            "cache_dir": str(tmp_path / "cache"),
        }
        client = get_sync_client(url=server)
        thread_id = client.threads.create()["thread_id"]
        client.runs.wait(thread_id, "budgetmlagent", input={"task_dir": str(task)}, context=context)
        paused = client.threads.get_state(thread_id)
        assert paused["next"] == ["approval"]
        assert paused["tasks"][0]["interrupts"][0]["value"]["action"] == "Execute Script"
        client.runs.wait(thread_id, "budgetmlagent", command={"resume": {"decision": "approve"}}, context=context)
        client.runs.wait(
            thread_id, "budgetmlagent", command={"resume": {"decision": "deny", "reason": "once is enough"}},
            context=context,
        )  # fmt: skip
        values = client.threads.get_state(thread_id)["values"]
    finally:
        fake.stop()
    first, second = values["steps"]
    assert first["ok"] and "ran" in first["observation"]
    assert not second["ok"] and second["observation"] == "A person denied this action: once is enough"
    assert values["result"]["status"] == "step_cap" and values["result"]["score"] == 0.5
