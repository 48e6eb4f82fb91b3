"""Malformed model replies: parsing never raises, and at graph level a bad reply is a counted failure that
feeds the cascade. The model is LangChain's real ChatOpenAI (the client of OpenAI, llama.cpp and every
OpenAI-compatible server) over an in-process HTTP transport, so the SDK's and LangChain's own parsing run."""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import IMPROVED_TRAIN
from fakes import code_reply_title
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from test_graph_edges import BASE, TOP, code, edit, plan

from budgetmlagent.graph import Context, build_graph
from budgetmlagent.prompts.replies import CodeReply, FixReply, planner_reply_model
from budgetmlagent.providers.chat import StructuredReply, invoke_fenced, invoke_structured
from budgetmlagent.runtime.run_folder import read_trace
from budgetmlagent.workspace.actions import PLANNER_ACTIONS

PLANNER = planner_reply_model(PLANNER_ACTIONS)
# Only the fields the default (short) reply format asks for: an over-long field it does not have is ignored.
LIST = {key: value for key, value in plan("List Files", dir_path=".").items() if key in PLANNER.model_fields}
VALID: dict[str, dict[str, Any]] = {
    "PlannerReply": LIST,
    "CodeReply": code("print('hi')\n"),
    "FixReply": {"diagnosis": "a typo", "code": "print('fixed')\n"},
}
SCHEMAS: list[type[BaseModel]] = [PLANNER, CodeReply, FixReply]
MESSAGES = [SystemMessage("You reply in JSON."), HumanMessage("Next action?")]
ERROR_CHARS = 1000  # a rejection is fed back into the next prompt: it must stay short, whatever the reply was


@dataclass(frozen=True)
class Completion:
    """What the provider sends back: the reply text and the envelope around it."""

    content: str | None
    finish_reason: str | None = "stop"
    refusal: str | None = None
    usage: tuple[int, int] | None = (100, 20)

    def body(self) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.refusal is not None:
            message["refusal"] = self.refusal
        choice = {"index": 0, "message": message, "finish_reason": self.finish_reason}
        data: dict[str, Any] = {
            "id": "chatcmpl-fuzz",
            "object": "chat.completion",
            "created": 0,
            "model": "fuzz",
            "choices": [choice],
        }
        if self.usage is not None:
            prompt, completion = self.usage
            data["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        return json.dumps(data).encode("ascii")  # \\u escapes carry lone surrogates as a real server may


class MockedProvider:
    """A `chat_model_factory` of real ChatOpenAI models answering from one queue per spec; logs the schemas."""

    def __init__(self, replies: dict[str, list[Completion]]) -> None:
        self.queues = {spec: deque(items) for spec, items in replies.items()}
        self.log: list[tuple[str, str]] = []  # (spec, schema title) per request

    def model(self, spec: str, max_tokens: int = 700) -> ChatOpenAI:
        def answer(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            if "response_format" in body:
                schema = body["response_format"]["json_schema"]
                self.log.append((spec, schema["schema"].get("title", schema["name"])))
            else:  # a plain-text code request (fenced reply)
                self.log.append((spec, code_reply_title(body["messages"][0]["content"]) or "text"))
            return httpx.Response(200, content=self.queues[spec].popleft().body())

        return ChatOpenAI(
            model="gpt-4o-mini",
            api_key="test",  # type: ignore[arg-type]
            base_url="http://provider.test/v1",
            max_tokens=max_tokens,
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(answer)),
        )

    def __call__(self, spec: str, temperature: float, max_tokens: int) -> ChatOpenAI:
        return self.model(spec, max_tokens)

    def specs(self, title: str) -> list[str]:
        return [spec for spec, t in self.log if t == title]


# --- reply strategies ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=25,
)
odd_text = st.text(
    alphabet=st.characters(codec=None, categories=None) | st.sampled_from(["\x00", "\ufeff", "\u202e", "\ud800", "😀"]),
    max_size=500,
)


@st.composite
def truncated(draw: st.DrawFn, title: str) -> str:
    text = json.dumps(VALID[title])
    return text[: draw(st.integers(min_value=0, max_value=len(text) - 1))]


@st.composite
def wrong_types(draw: st.DrawFn, title: str) -> str:
    """A valid reply with one field replaced by any JSON value, removed, or joined by an unknown key."""
    reply = json.loads(json.dumps(VALID[title]))
    target = reply["action"]["input"] if title == "PlannerReply" and draw(st.booleans()) else reply
    key = draw(st.sampled_from(sorted(target)))
    how = draw(st.sampled_from(["replace", "remove", "extra"]))
    if how == "replace":
        target[key] = draw(json_values)
    elif how == "remove":
        del target[key]
    else:
        target[draw(st.text(min_size=1, max_size=300))] = draw(json_values)
    return json.dumps(reply)


AROUND_THE_BOUNDS = [299, 300, 301, 399, 400, 401, 699, 700, 701, 15_999, 16_000]  # the schemas' max_length
OVER_EVERY_BOUND = [16_001, 200_000]


@st.composite
def huge(draw: st.DrawFn, title: str, *, over_bound_values_only: bool = False) -> str:
    """A string field around its bound, or far beyond it; or a huge unknown key (the planner's top level
    ignores unknown keys, so that one can be valid: `over_bound_values_only` leaves it out)."""
    reply = json.loads(json.dumps(VALID[title]))
    key = draw(st.sampled_from(sorted(k for k, v in reply.items() if isinstance(v, str))))
    sizes = OVER_EVERY_BOUND if over_bound_values_only else AROUND_THE_BOUNDS + OVER_EVERY_BOUND
    size = draw(st.sampled_from(sizes))
    letter = draw(st.sampled_from(["a", "é", "😀", "\n"]))
    if over_bound_values_only or draw(st.booleans()):
        reply[key] = letter * size
    else:
        reply[letter * size] = "x"
    return json.dumps(reply, ensure_ascii=draw(st.booleans()))


def fenced(title: str) -> st.SearchStrategy[str]:
    valid = json.dumps(VALID[title])
    return st.sampled_from(
        [
            f"```json\n{valid}\n```",
            f"Here is my reply:\n{valid}\nThanks!",
            f"{valid}{valid}",
            f"[{valid}]",
            f"{valid}}}",
        ]
    )


nested = st.integers(min_value=1, max_value=5_000).flatmap(
    lambda n: st.sampled_from(["[" * n, "[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, '{"a":' * n])
)


def contents(title: str) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.none(),
        st.text(max_size=2000),
        odd_text,
        json_values.map(json.dumps),
        truncated(title),
        wrong_types(title),
        huge(title),
        fenced(title),
        nested,
        st.just(json.dumps(VALID[title])),
    )


finish_reasons = st.sampled_from(["stop", "length", "content_filter", "tool_calls", "eos", None])
refusals = st.none() | st.sampled_from(["", " ", "\n", "I can't help with that."]) | st.text(max_size=50)
usages = st.none() | st.tuples(st.integers(0, 10**6), st.integers(0, 10**6))


@st.composite
def completions(draw: st.DrawFn, title: str) -> Completion:
    return Completion(draw(contents(title)), draw(finish_reasons), draw(refusals), draw(usages))


# --- parsing never raises ---


def assert_well_formed(reply: StructuredReply[Any], schema: type[BaseModel], sent: Completion) -> None:
    assert isinstance(reply, StructuredReply)
    assert (reply.parsed is None) != (reply.error is None), "exactly one of a parsed reply and an error"
    if reply.parsed is not None:
        assert isinstance(reply.parsed, schema)
    else:
        assert isinstance(reply.error, str) and reply.error.strip()
        assert len(reply.error) <= ERROR_CHARS
    if sent.usage is not None:  # a bad reply is billed all the same: its tokens must reach the ledger
        assert (reply.input_tokens, reply.output_tokens) == sent.usage


@pytest.mark.adversarial("replies")
@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_reply_parses_or_comes_back_as_an_error(schema: type[BaseModel], data: st.DataObject) -> None:
    sent = data.draw(completions(schema.__name__))
    provider = MockedProvider({"m": [sent]})
    reply = invoke_structured(provider.model("m"), schema, MESSAGES, model_label="m")
    assert_well_formed(reply, schema, sent)


@pytest.mark.adversarial("replies")
@pytest.mark.parametrize(
    ("sent", "needle"),
    [
        (Completion(json.dumps(VALID["CodeReply"])[:30], "length"), "output token limit"),
        (Completion("whatever", "content_filter"), "content filter"),
        (Completion(None, "stop", refusal="  "), "not valid JSON"),  # a blank refusal: no message to quote
        (Completion(None, "stop", refusal="I can't help with that."), "I can't help"),
        (Completion("[" * 50_000), "not valid JSON"),
        (Completion(json.dumps(VALID["CodeReply"] | {"code": 1})), "code"),
    ],
    ids=["length", "content-filter", "blank-refusal", "refusal", "deep-nesting", "wrong-type"],
)
def test_known_bad_replies(sent: Completion, needle: str) -> None:
    reply = invoke_structured(MockedProvider({"m": [sent]}).model("m"), CodeReply, MESSAGES, model_label="m")
    assert_well_formed(reply, CodeReply, sent)
    assert reply.error is not None and needle in reply.error


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_a_valid_reply_still_parses(schema: type[BaseModel]) -> None:
    sent = Completion(json.dumps(VALID[schema.__name__]))
    reply = invoke_structured(MockedProvider({"m": [sent]}).model("m"), schema, MESSAGES, model_label="m")
    assert reply.parsed == schema.model_validate(VALID[schema.__name__]) and reply.error is None


# --- code replies in plain text: prose and one fenced block ---

CODE_SCHEMAS: list[type[BaseModel]] = [CodeReply, FixReply]


@pytest.mark.adversarial("replies")
@pytest.mark.parametrize("schema", CODE_SCHEMAS, ids=lambda s: s.__name__)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.none() | st.text(max_size=400) | odd_text, finish=st.sampled_from(["stop", "length", None]))
def test_any_plain_code_reply_is_parsed_or_refused_never_raised(
    schema: type[BaseModel], content: str | None, finish: str | None
) -> None:
    sent = Completion(content, finish)
    reply = invoke_fenced(MockedProvider({"m": [sent]}).model("m"), schema, MESSAGES, model_label="m")
    assert_well_formed(reply, schema, sent)
    if reply.parsed is not None:
        assert reply.parsed.code.strip()  # code was found; the rest of the checks are the coder's


@pytest.mark.parametrize(
    ("content", "code", "note"),
    [
        ("Swapped the model.\n```python\nx = 1\n```\n", "x = 1\n", "Swapped the model."),
        ("Fixed it.\n```\nprint('a')\n```\nThat is all.", "print('a')\n", "Fixed it. That is all."),
        ("```python\nshort = 1\n```\n```python\nlonger = 1\nsecond = 2\n```", "longer = 1\nsecond = 2\n", ""),
        ("import os\nprint(os.sep)\n", "import os\nprint(os.sep)\n", ""),  # no fence: the whole reply is the code
        ("Here:\n```python\nprint('cut')\n", "print('cut')\n", "Here:"),  # an unclosed block runs to the end
    ],
    ids=["summary-then-block", "prose-around", "longest-block", "no-fence", "unclosed"],
)
def test_a_plain_code_reply_splits_into_note_and_code(content: str, code: str, note: str) -> None:
    reply = invoke_fenced(MockedProvider({"m": [Completion(content)]}).model("m"), CodeReply, MESSAGES)
    assert reply.parsed == CodeReply(summary=note, code=code) and reply.error is None


@pytest.mark.parametrize(
    ("sent", "needle"),
    [
        (Completion("```python\nx = [\n", "length"), "output token limit"),
        (Completion("  \n"), "no code"),
        (Completion(None, "stop", refusal="I can't help with that."), "no code"),
        (Completion("Done.\n```python\n```"), "no code"),
    ],
    ids=["length", "blank", "refusal", "empty-block"],
)
def test_a_plain_code_reply_without_usable_code_is_refused(sent: Completion, needle: str) -> None:
    reply = invoke_fenced(MockedProvider({"m": [sent]}).model("m"), FixReply, MESSAGES, model_label="m")
    assert_well_formed(reply, FixReply, sent)
    assert reply.error is not None and needle in reply.error


def test_a_long_note_is_cut_to_its_bound_not_refused() -> None:
    content = "word " * 200 + "\n```python\nx = 1\n```"
    reply = invoke_fenced(MockedProvider({"m": [Completion(content)]}).model("m"), FixReply, MESSAGES)
    assert reply.parsed is not None and reply.parsed.code == "x = 1\n"
    assert len(reply.parsed.diagnosis) == FixReply.model_fields["diagnosis"].metadata[0].max_length


# --- at graph level a bad reply is a counted failure that feeds the cascade ---

# Replies that cannot be a valid planner reply, whatever is drawn.
bad_planner_replies = st.one_of(
    st.builds(Completion, st.none() | st.text(max_size=500) | odd_text | nested, finish_reasons, refusals, usages),
    st.builds(Completion, json_values.map(json.dumps)),
    st.builds(Completion, st.just(json.dumps(LIST)[:-30]), st.just("length")),  # cut off: never accepted
    st.builds(Completion, st.just(json.dumps(LIST)), st.just("content_filter")),  # filtered: never accepted
    st.builds(Completion, huge("PlannerReply", over_bound_values_only=True)),
)


def _run(task: Path, runs: Path, provider: MockedProvider, **settings: Any) -> dict[str, Any]:
    ctx = Context(
        planner_models=[BASE, TOP],
        coder_models=[BASE, TOP],
        debugger_models=[BASE, TOP],
        worker_model=BASE,
        expert_model=TOP,
        use_retrieval=False,
        runs_dir=str(runs / "runs"),
        cache_dir=str(runs / "cache"),
        chat_model_factory=provider,
        **settings,
    )
    return build_graph().invoke({"task_dir": str(task)}, context=ctx, config={"recursion_limit": 400})


@pytest.mark.adversarial("replies")
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(bad=st.lists(bad_planner_replies, min_size=3, max_size=3))
def test_bad_planner_replies_are_retried_then_escalated(
    tiny_task: Path, tmp_path_factory: pytest.TempPathFactory, bad: list[Completion]
) -> None:
    provider = MockedProvider({BASE: bad, TOP: [Completion(json.dumps(LIST))]})
    state = _run(tiny_task, tmp_path_factory.mktemp("run"), provider, max_steps=1, tries_per_tier=[3, 1])
    assert provider.specs("PlannerReply") == [BASE, BASE, BASE, TOP]  # m = 3 tries, then the next tier
    assert [(e["role"], e["reason"]) for e in state["escalations"]] == [("planner", "invalid replies")]
    calls = state["ledger"].calls
    assert [c.ok for c in calls] == [False, False, False, True]  # each bad reply is a counted, failed call
    rejected = [r for r in read_trace(state["run_dir"]) if r["type"] == "rejected"]
    assert len(rejected) == 3 and all(r["error"] and len(r["error"]) <= ERROR_CHARS for r in rejected)
    assert state["failures"].get("provider", 0) == 0  # a bad reply is the model's failure, not the provider's
    assert state["steps"][0]["action"] == "List Files" and state["steps"][0]["model"] == TOP
    assert state["result"]["status"] == "step_cap"


@pytest.mark.adversarial("replies")
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(bad=st.lists(st.builds(Completion, st.text(max_size=300) | json_values.map(json.dumps)), min_size=2, max_size=2))
def test_bad_coder_replies_fail_the_edit_and_escalate_the_coder(
    tiny_task: Path, tmp_path_factory: pytest.TempPathFactory, bad: list[Completion]
) -> None:
    base = [Completion(json.dumps(edit("change a"))), bad[0], Completion(json.dumps(edit("change b"))), bad[1]]
    provider = MockedProvider(
        {BASE: [*base, Completion(json.dumps(edit("change c")))], TOP: [Completion(json.dumps(code(IMPROVED_TRAIN)))]}
    )
    state = _run(  # the planner stays at BASE: only the coder's cascade is under test; code replies as JSON
        tiny_task, tmp_path_factory.mktemp("run"), provider, max_steps=3, debug_attempts=0, escalate_on_no_gain=False,
        use_fenced_code=False,
    )  # fmt: skip
    assert provider.specs("CodeReply") == [BASE, BASE, TOP]  # two failed edits, then the stronger coder
    assert [(e["role"], e["reason"]) for e in state["escalations"]] == [("coder", "edits broke the script")]
    assert [s["ok"] for s in state["steps"]] == [False, False, True]
    assert all(s["observation"].startswith("The edit failed:") for s in state["steps"][:2])
    assert state["result"]["score"] == 0.9
