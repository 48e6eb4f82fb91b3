"""The real Qwen2.5-Coder-0.5B behind the managed llama.cpp server: structured reply, prefix cache, stop."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from budgetmlagent.providers.catalogue import (
    DEFAULT_LOCAL_MODEL,
    ModelCorruptError,
    ModelNotInstalledError,
    ensure_model,
)
from budgetmlagent.providers.chat import bounded_str, invoke_structured, invoke_text, load_chat_model
from budgetmlagent.providers.local_server import (
    LocalServer,
    get_server,
    metrics_delta,
    running_servers,
    stop_all,
)

pytestmark = pytest.mark.integration
NAME = DEFAULT_LOCAL_MODEL


class Suggestion(BaseModel):
    """A small planner-like reply."""

    action: bounded_str(40)  # type: ignore[valid-type]
    reason: bounded_str(120)  # type: ignore[valid-type]
    confidence: float = Field(ge=0, le=1)


def _require_model() -> None:
    try:
        ensure_model(NAME, install=False)
    except (ModelNotInstalledError, ModelCorruptError) as exc:
        pytest.fail(str(exc), pytrace=False)  # a missing model is a broken setup, not a skip


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    _require_model()
    srv = get_server(NAME)
    yield srv
    stop_all()


def _long_prefix() -> str:
    # ~1.5k tokens of task context, the kind of fixed text that leads every planner prompt.
    cols = "\n".join(
        f"- column f{i:02d}: numeric, mean {i * 1.7:.1f}, std {i * 0.3 + 1:.1f}, {i % 7} % missing values"
        for i in range(60)
    )
    return (
        "You are the planner of an ML agent. The task: improve the validation F1 score of a tabular "
        "classifier by more than 10 % over the baseline. The dataset has these columns:\n"
        f"{cols}\nThe baseline script train.py fits a logistic regression on three columns and prints F1.\n"
    )


def test_structured_reply_with_tokens_counted(server: LocalServer) -> None:
    model = load_chat_model(f"local:{NAME}", temperature=0.0, max_tokens=96)
    messages = [
        SystemMessage("You are an ML engineer. Answer in JSON."),
        HumanMessage("A logistic regression baseline scores 0.72. Suggest the next action."),
    ]
    reply = invoke_structured(model, Suggestion, messages)
    assert reply.error is None, reply.error
    assert isinstance(reply.parsed, Suggestion)
    assert 0 <= reply.parsed.confidence <= 1 and len(reply.parsed.action) <= 40
    assert reply.input_tokens > 20 and 0 < reply.output_tokens <= 96
    assert reply.model == f"local:{NAME}"
    assert json.loads(reply.raw_text)["action"] == reply.parsed.action


def test_shared_prefix_is_served_from_the_kv_cache(server: LocalServer) -> None:
    model = load_chat_model(f"local:{NAME}", temperature=0.0, max_tokens=4)
    prefix = _long_prefix()
    first = [SystemMessage(prefix), HumanMessage("Which column has the largest mean? Answer with its name.")]
    second = [SystemMessage(prefix), HumanMessage("Which column has the most missing values?")]

    m0 = server.metrics()
    cold = invoke_text(model, first)
    m1 = server.metrics()
    warm = invoke_text(model, second)
    m2 = server.metrics()
    cold_run, warm_run = metrics_delta(m0, m1), metrics_delta(m1, m2)

    assert cold.input_tokens > 1200, "prefix should be ~1.5k tokens"
    assert cold_run["prompt_tokens"] >= cold.input_tokens - 50  # nothing of this prefix was cached yet
    # The second prompt recomputes only its own question: the shared prefix comes from the KV cache.
    assert warm_run["prompt_tokens"] < 100, warm_run
    assert warm.cached_tokens >= cold.input_tokens - 100  # what the OpenAI-style usage reports too
    assert warm_run["cached_tokens"] >= 1000


def test_server_stops_and_frees_the_port(server: LocalServer) -> None:
    port = server.port
    assert server.health()
    stop_all()
    assert not server.running and running_servers() == {}
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_ctrl_c_stops_servers_and_frees_memory() -> None:
    _require_model()
    script = textwrap.dedent(f"""
        import json, os, signal, socket, time
        from budgetmlagent.providers.local_server import get_server, running_servers

        # Ctrl-C as in a terminal: a job started in the background inherits SIGINT ignored, and Python keeps that.
        signal.signal(signal.SIGINT, signal.default_int_handler)

        def rss_mb():
            with open("/proc/self/status") as fh:
                return int(fh.read().split("VmRSS:")[1].split()[0]) // 1024

        srv = get_server({NAME!r}, threads=1)
        port, up = srv.port, rss_mb()
        try:
            # raise_signal delivers to this (main) thread; os.kill(getpid()) may land on a server thread
            # and let the next line run before the interrupt is noticed.
            signal.raise_signal(signal.SIGINT)
            for _ in range(200):
                time.sleep(0.01)
            raise SystemExit("no KeyboardInterrupt")
        except KeyboardInterrupt:
            pass
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            refused = False
        except OSError:
            refused = True
        report = {{"running": list(running_servers()), "refused": refused, "up": up, "down": rss_mb()}}
        print(json.dumps(report))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["running"] == [] and result["refused"] is True
    assert result["up"] - result["down"] > 250, result  # the ~470 MB model is unmapped
