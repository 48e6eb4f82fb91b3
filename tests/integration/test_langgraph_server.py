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
