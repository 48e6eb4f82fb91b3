"""Provider faults from a loopback server: each one becomes a bounded, classified failure, never a traceback.

Unit level: every fault maps to its ProviderError (or, for a reply of the wrong shape, an invalid reply), the
request counts show how many times it was retried, and a Retry-After is honoured only up to a cap. Graph
level: a faulty base tier escalates to a healthy one and the run finishes with a score; with every model
dead the run stops with status "provider_error", its result.json and trace.jsonl intact.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import IMPROVED_TRAIN
from fake_provider import FakeChatServer
from fakes import fenced
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel
from test_graph_edges import code, edit, plan

from budgetmlagent.graph import Context, build_graph
from budgetmlagent.providers import chat
from budgetmlagent.providers.chat import invoke_structured, invoke_text, load_chat_model
from budgetmlagent.providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderInvalidRequest,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    map_provider_error,
    provider_errors,
    retry_after_of,
)
from budgetmlagent.runtime.run_folder import read_trace

CALL_TIMEOUT_S = 0.4  # the `hang` fault outlasts it
MESSAGES = [SystemMessage("You plan."), HumanMessage("Plan.")]


class Plan(BaseModel):
    thought: str
    action: str


PLAN_JSON = json.dumps({"thought": "look around", "action": "List Files"})


@pytest.fixture(autouse=True)
def _quick_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cap bounds backoff as well as Retry-After, so a tiny one keeps every retry in this file fast.
    monkeypatch.setattr(chat, "RETRY_WAIT_CAP_S", 0.05)


@pytest.fixture
def fake() -> Iterator[FakeChatServer]:
    with FakeChatServer(hang_s=2.0) as server:
        yield server


def model_for(fake: FakeChatServer, mode: str, *, max_retries: int = 1) -> Any:
    spec = f"openai_compatible:fake@{fake.base_url(mode)}"
    return load_chat_model(spec, max_tokens=64, timeout_s=CALL_TIMEOUT_S, max_retries=max_retries)


def ask_structured(model: Any) -> Any:
    return invoke_structured(model, Plan, MESSAGES)


def ask_text(model: Any) -> Any:
    return invoke_text(model, MESSAGES)


CALLS: dict[str, Callable[[Any], Any]] = {"structured": ask_structured, "text": ask_text}

# (mode, the error it must become, requests the server sees with max_retries=1): transient faults are
# retried once, a 200 the SDK cannot read and a refused request are not retried at all.
FAULTS = [
    ("r429", ProviderRateLimited, 2),
    ("r500", ProviderBadResponse, 2),
    ("r503", ProviderBadResponse, 2),
    ("hang", ProviderTimeout, 2),
    ("drop", ProviderUnavailable, 2),
    ("garbage", ProviderBadResponse, 1),
    ("truncated", ProviderBadResponse, 1),
    ("nochoices", ProviderBadResponse, 1),
    ("r400", ProviderInvalidRequest, 1),
    ("r401", ProviderAuthError, 1),
]


@pytest.mark.adversarial("provider")
@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize(("mode", "expected", "requests"), FAULTS)
def test_each_fault_becomes_its_provider_error_after_bounded_retries(
    fake: FakeChatServer, mode: str, expected: type[ProviderError], requests: int, call: str
) -> None:
    model = model_for(fake, mode)
    t0 = time.monotonic()
    with pytest.raises(expected) as info:
        CALLS[call](model)
    assert fake.hits(mode) == requests
    assert time.monotonic() - t0 < requests * CALL_TIMEOUT_S + 1.5
    assert info.value.model == f"openai_compatible:fake@{fake.base_url(mode)}"


MALFORMED_BODIES: dict[str, Any] = {
    "empty-object": {},
    "null-choices": {"id": "x", "object": "chat.completion", "choices": None},
    "choices-not-a-list": {"id": "x", "object": "chat.completion", "choices": "many"},
    "error-in-a-200": {"error": {"message": "upstream overloaded", "code": 503}},
    "null-message": {"choices": [{"index": 0, "finish_reason": "stop", "message": None}]},
    "json-list": [1, 2, 3],
    "json-string": "hello",
}


@pytest.mark.adversarial("provider")
@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("shape", sorted(MALFORMED_BODIES))
def test_a_completion_of_the_wrong_shape_is_a_bad_response_not_a_crash(
    fake: FakeChatServer, shape: str, call: str
) -> None:
    fake.serve_body(shape, MALFORMED_BODIES[shape])
    with pytest.raises(ProviderBadResponse):
        CALLS[call](model_for(fake, shape))
    assert fake.hits(shape) == 1


@pytest.mark.adversarial("provider")
def test_content_of_the_wrong_schema_is_an_invalid_reply_not_a_provider_error(fake: FakeChatServer) -> None:
    reply = ask_structured(model_for(fake, "wrongschema"))
    assert not reply.ok and reply.parsed is None
    assert reply.error is not None and reply.error.startswith("schema validation failed")
    assert "thought" in reply.error and "answer" in reply.raw_text
    assert (reply.input_tokens, reply.output_tokens) == (10, 5)  # the tokens were spent all the same
    assert fake.hits("wrongschema") == 1  # a reply that arrived is never re-asked by the SDK


@pytest.mark.adversarial("provider")
@pytest.mark.parametrize(
    ("mode", "max_retries", "answers", "requests"),
    [
        ("fail1-r500", 1, True, 2),
        ("fail2-r500", 1, False, 2),  # the third request would have answered: retries stop at the bound
        ("fail2-r500", 2, True, 3),
        ("fail1-r429", 0, False, 1),
        ("fail1-drop", 1, True, 2),
        ("fail1-hang", 1, True, 2),
    ],
)
def test_retries_are_bounded_by_max_retries(
    fake: FakeChatServer, mode: str, max_retries: int, answers: bool, requests: int
) -> None:
    fake.reply(PLAN_JSON)
    model = model_for(fake, mode, max_retries=max_retries)
    if answers:
        assert ask_structured(model).parsed == Plan.model_validate_json(PLAN_JSON)
    else:
        with pytest.raises(ProviderError):
            ask_structured(model)
    assert fake.hits(mode) == requests


@pytest.mark.adversarial("provider")
def test_a_short_retry_after_is_honoured(fake: FakeChatServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat, "RETRY_WAIT_CAP_S", 5.0)
    fake.reply(PLAN_JSON)
    t0 = time.monotonic()
    assert ask_structured(model_for(fake, "fail1-r429wait0.8")).ok
    waited = time.monotonic() - t0
    assert 0.8 <= waited < 3.0  # backoff alone would have waited at most 0.5 s
    assert fake.hits("fail1-r429wait0.8") == 2


@pytest.mark.adversarial("provider")
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_long_retry_after_is_capped(fake: FakeChatServer, monkeypatch: pytest.MonkeyPatch, flavour: str) -> None:
    monkeypatch.setattr(chat, "RETRY_WAIT_CAP_S", 0.2)
    fake.reply("fine")
    model = model_for(fake, "fail1-r429wait30")
    t0 = time.monotonic()
    with provider_errors("fake"):
        reply = model.invoke(MESSAGES) if flavour == "sync" else asyncio.run(model.ainvoke(MESSAGES))
    assert reply.content == "fine"
    assert time.monotonic() - t0 < 3.0  # not the 30 s the server asked for
    assert fake.hits("fail1-r429wait30") == 2


@pytest.mark.adversarial("provider")
def test_a_retry_after_of_minutes_fails_at_once_and_says_so(fake: FakeChatServer) -> None:
    t0 = time.monotonic()
    with pytest.raises(ProviderRateLimited) as info:
        ask_structured(model_for(fake, "r429wait600"))
    assert time.monotonic() - t0 < 2.0
    assert fake.hits("r429wait600") == 1  # beyond the SDK's two minutes it does not retry at all
    assert info.value.retry_after_s == 600
    assert "Retry-After 600 s" in str(info.value)


def test_negative_retries_are_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        load_chat_model("openai_compatible:m@http://127.0.0.1:9/v1", max_retries=-1)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": "-3"}, None),
        ({}, None),
    ],
)
def test_retry_after_is_read_from_the_response(headers: dict[str, str], seconds: float | None) -> None:
    exc = Exception("429")
    exc.response = httpx.Response(429, headers=headers)  # type: ignore[attr-defined]
    assert retry_after_of(exc) == seconds


def test_a_failure_to_read_a_200_is_a_bad_response_but_our_own_bugs_still_raise() -> None:
    answered = TypeError("'NoneType' object is not iterable")
    answered.response = httpx.Response(200)  # type: ignore[attr-defined]  # how LangChain marks it
    assert isinstance(map_provider_error(answered), ProviderBadResponse)
    with pytest.raises(TypeError), provider_errors("m"):
        raise TypeError("a bug of ours")


# --- the graph: the cascade moves on, or the run stops cleanly --------------------------------------------


def fast_models(spec: str, temperature: float, max_tokens: int) -> Any:
    """The real load_chat_model with a short timeout, so a hanging tier costs a second, not minutes."""
    return load_chat_model(spec, temperature=temperature, max_tokens=max_tokens, timeout_s=CALL_TIMEOUT_S)


def run_graph(
    task: Path, tmp_path: Path, planner: list[str], others: str, **settings: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run the real graph against the fault server; returns the final state and the run's trace."""
    defaults: dict[str, Any] = {
        "planner_models": planner,
        "coder_models": [others],
        "debugger_models": [others],
        "worker_model": others,
        "expert_model": others,  # the expert's lifelines pay for the planner's top tier
        "use_retrieval": False,
        "keep_improving": False,  # the scripted planner stops when it chooses
        "runs_dir": str(tmp_path / "runs"),
        "cache_dir": str(tmp_path / "cache"),
        "chat_model_factory": fast_models,
    }
    ctx = Context(**(defaults | settings))
    state = build_graph().invoke({"task_dir": str(task)}, context=ctx, config={"recursion_limit": 200})
    return state, read_trace(Path(state["result"]["run_dir"]))


def spec(fake: FakeChatServer, mode: str) -> str:
    return f"openai_compatible:{mode}@{fake.base_url(mode)}"


def queue(fake: FakeChatServer, *replies: dict[str, Any]) -> None:
    """Replies as the model writes them: a code reply in plain text with a fenced block (as the coder asks), JSON
    otherwise."""
    for reply in replies:
        fake.reply(fenced(reply) if "code" in reply else json.dumps(reply))


GRAPH_FAULTS = ["r500", "r429", "r429wait30", "drop", "hang", "garbage", "truncated", "nochoices"]
# Requests one call makes to a fault (1 + max_retries where the SDK retries it, else 1).
REQUESTS_PER_CALL = {mode: requests for mode, _, requests in FAULTS} | {"r429wait30": 2}


@pytest.mark.adversarial("provider")
@pytest.mark.parametrize("fault", GRAPH_FAULTS)
def test_a_faulty_base_tier_escalates_and_the_run_finishes_with_a_score(
    tiny_task: Path, tmp_path: Path, fake: FakeChatServer, fault: str
) -> None:
    queue(fake, edit(), code(IMPROVED_TRAIN))
    healthy = spec(fake, "ok")
    state, trace = run_graph(
        tiny_task, tmp_path, [spec(fake, fault), healthy], healthy, tries_per_tier=[2, 1], max_steps=1
    )
    result = state["result"]
    assert result["status"] == "step_cap" and result["score"] == 0.9 and result["success"] is True
    assert state["steps"][0]["model"] == healthy and state["steps"][0]["ok"]
    assert [(e["to"], e["reason"]) for e in state["escalations"]] == [(healthy, "provider error")]
    failed = [r for r in trace if r["type"] == "llm_call" and r["error"]]
    assert len(failed) == 1 and failed[0]["error"].startswith("provider error (Provider")
    assert fake.hits(fault) == REQUESTS_PER_CALL[fault]  # one call, its retries bounded; then the next tier


@pytest.mark.adversarial("provider")
def test_a_success_returns_to_the_faulty_base_which_escalates_again(
    tiny_task: Path, tmp_path: Path, fake: FakeChatServer
) -> None:
    queue(fake, edit(), code(IMPROVED_TRAIN), plan("Final Answer", final_answer="raised the score"))
    healthy = spec(fake, "ok")
    state, _ = run_graph(tiny_task, tmp_path, [spec(fake, "r503"), healthy], healthy, tries_per_tier=[2, 1])
    result = state["result"]
    assert result["status"] == "final_answer" and result["success"] is True and result["score"] == 0.9
    assert len(state["escalations"]) == 2  # once per step: the edit's success sent the planner back to base
    assert fake.hits("r503") == 2 * 1 * 2  # steps x one call (then straight up the cascade) x (1 + max_retries)
    assert state["lifelines"] == 3  # each top-tier answer spent one


@pytest.mark.adversarial("provider")
@pytest.mark.parametrize("fault", ["r500", "drop", "nochoices", "r401"])
def test_every_model_dead_stops_the_run_cleanly_with_the_reason(
    tiny_task: Path, tmp_path: Path, fake: FakeChatServer, fault: str
) -> None:
    dead = spec(fake, fault)
    state, trace = run_graph(
        tiny_task, tmp_path, [dead, dead.replace(f"{fault}@", "top@")], dead, tries_per_tier=[2, 1]
    )
    result = state["result"]
    assert result["status"] == "provider_error" and result["success"] is False
    run_dir = Path(result["run_dir"])
    assert json.loads((run_dir / "result.json").read_text())["status"] == "provider_error"
    calls = [r for r in trace if r["type"] == "llm_call"]
    assert len(calls) == 3 and all(r["error"].startswith("provider error") for r in calls)
    assert [c["tier"] for c in calls] == [0, 1, 1]  # the cascade moved on at the first dead call before giving up
    assert state["steps"][-1]["observation"] == calls[-1]["error"]  # the step says why the run stopped
    assert [r["reason"] for r in trace if r["type"] == "escalation"] == ["provider error"]
    assert fake.hits(fault) == 3 * REQUESTS_PER_CALL[fault]  # bounded: three calls, bounded retries each


@pytest.mark.adversarial("provider")
def test_replies_of_the_wrong_schema_escalate_and_the_run_ends_at_its_cap(
    tiny_task: Path, tmp_path: Path, fake: FakeChatServer
) -> None:
    wrong = spec(fake, "wrongschema")
    state, trace = run_graph(tiny_task, tmp_path, [wrong, wrong.replace("wrongschema@", "top@")], wrong, max_steps=2)
    result = state["result"]
    assert result["status"] == "step_cap"  # invalid replies are the cascade's business, not a provider failure
    assert json.loads((Path(result["run_dir"]) / "result.json").read_text())["status"] == "step_cap"
    assert [s["action"] for s in state["steps"]] == ["(invalid reply)", "(invalid reply)"]
    assert "schema validation failed" in state["steps"][0]["observation"]
    assert state["escalations"] and state["escalations"][0]["reason"] == "invalid replies"
    assert all(r["error"].startswith("schema validation failed") for r in trace if r["type"] == "llm_call")


def test_with_default_tries_a_dead_base_tier_still_escalates(
    tiny_task: Path, tmp_path: Path, fake: FakeChatServer
) -> None:
    queue(fake, edit(), code(IMPROVED_TRAIN))
    healthy = spec(fake, "ok")
    state, _ = run_graph(tiny_task, tmp_path, [spec(fake, "r500"), healthy], healthy, max_steps=1)
    assert state["result"]["status"] == "step_cap" and state["result"]["score"] == 0.9


@pytest.mark.adversarial("provider")
def test_the_wall_clock_cuts_a_model_call_that_is_already_running(
    tiny_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A step that starts a second before the cap used to run to its end (the demo's 120 s run took 189 s): each
    # call's timeout is now what the clock leaves. The real client, not the short-timeout factory, makes the call.
    from budgetmlagent.runtime import llm

    monkeypatch.setattr(llm, "DEADLINE_STEP_S", 1)
    with FakeChatServer(hang_s=30.0) as hanging:
        started = time.monotonic()
        state, trace = run_graph(
            tiny_task, tmp_path, [spec(hanging, "hang")], spec(hanging, "hang"), wall_clock_s=3.0,
            chat_model_factory=None,
        )  # fmt: skip
        seconds = time.monotonic() - started
    assert seconds < 15, seconds
    assert state["result"]["status"] == "wall_clock" and state["result"]["score"] is not None
    cut = [r for r in trace if r["type"] == "llm_call"]
    assert len(cut) == 1 and cut[0]["error"].startswith("wall clock: the planner call") and "was cut" in cut[0]["error"]
    assert state.get("failures", {}).get("provider", 0) == 0  # the deadline is not the provider's fault
