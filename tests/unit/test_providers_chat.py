"""Chat model construction offline and the structured/free-text calls against a loopback server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_provider import FakeChatServer
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field, ValidationError

from budgetmlagent.providers.catalogue import MODELS_DIR_ENV, CatalogueError, ModelNotInstalledError
from budgetmlagent.providers.chat import (
    StructuredReply,
    bounded_str,
    invoke_structured,
    invoke_text,
    label_of,
    load_chat_model,
)
from budgetmlagent.providers.errors import ProviderAuthError, ProviderRateLimited


class Plan(BaseModel):
    """Schema used by the tests."""

    thought: bounded_str(50)  # type: ignore[valid-type]
    action: str = Field(max_length=20)
    lines: list[int] = Field(default_factory=list, max_length=2)


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "OPENAI_API_KEY", "OPENAI_COMPATIBLE_API_KEY"):
        monkeypatch.delenv(env, raising=False)


@pytest.fixture
def fake() -> Iterator[FakeChatServer]:
    with FakeChatServer() as server:
        yield server


def test_openai_construction_sets_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    model = load_chat_model("openai:gpt-4o-mini", temperature=0.3, max_tokens=321, timeout_s=7.5, max_retries=2)
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "gpt-4o-mini"
    assert model.temperature == 0.3 and model.max_tokens == 321
    assert model.request_timeout == 7.5 and model.max_retries == 2
    assert model.stream_usage is True
    assert model.openai_api_key is not None and model.openai_api_key.get_secret_value() == "sk-dummy"
    assert label_of(model) == "openai:gpt-4o-mini"
    payload = model._get_request_payload([HumanMessage("hi")])
    assert payload["max_completion_tokens"] == 321


def test_openai_reasoning_models_get_no_temperature(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    assert load_chat_model("openai:o4-mini").temperature is None  # type: ignore[attr-defined]


def test_gemini_construction_sets_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "dummy")
    model = load_chat_model(
        "google_genai:gemini-2.5-flash", temperature=0.1, max_tokens=200, timeout_s=9, max_retries=1
    )
    assert isinstance(model, ChatGoogleGenerativeAI)
    assert model.model.endswith("gemini-2.5-flash")
    assert model.temperature == 0.1 and model.max_output_tokens == 200 and model.timeout == 9
    assert model.max_retries == 2  # Google counts attempts: 1 retry = 2 attempts (0 would mean its default 5)
    assert label_of(model) == "google_genai:gemini-2.5-flash"
    model.with_structured_output(Plan.model_json_schema(), method="json_schema", include_raw=True)


def test_a_deadline_bounds_the_timeout_and_leaves_no_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    # The run's wall clock: a retry would start past it, and a long timeout would outlive it.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-dummy")
    monkeypatch.setenv("GOOGLE_API_KEY", "dummy")
    openai = load_chat_model("openai:gpt-4o-mini", timeout_s=120, max_retries=2, deadline_s=20)
    assert openai.request_timeout == 20 and openai.max_retries == 0  # type: ignore[attr-defined]
    gemini = load_chat_model("google_genai:gemini-2.5-flash", timeout_s=120, max_retries=2, deadline_s=20)
    assert gemini.timeout == 20 and gemini.max_retries == 1  # type: ignore[attr-defined]  # one attempt
    far = load_chat_model("openai:gpt-4o-mini", timeout_s=30, deadline_s=600)
    assert far.request_timeout == 30 and far.max_retries == 1  # type: ignore[attr-defined]  # not the binding bound


@pytest.mark.parametrize(
    ("spec", "env"), [("openai:gpt-4o", "OPENAI_API_KEY"), ("google_genai:gemini-2.5-flash", "GOOGLE_API_KEY")]
)
def test_missing_key_is_a_clear_auth_error(spec: str, env: str) -> None:
    with pytest.raises(ProviderAuthError, match=env):
        load_chat_model(spec)


def test_openai_compatible_defaults_key_and_uses_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    model = load_chat_model("openai_compatible:llama3@http://127.0.0.1:9/v1")
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert model.openai_api_key is not None and model.openai_api_key.get_secret_value() == "none"
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "secret")
    model = load_chat_model("openai_compatible:llama3@http://127.0.0.1:9/v1")
    assert model.openai_api_key.get_secret_value() == "secret"  # type: ignore[union-attr]


def test_local_spec_checks_catalogue_and_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import budgetmlagent.providers.local_server as local_server

    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path))
    # an integration test earlier in the same process may have started the real server: it is reused
    monkeypatch.setattr(local_server, "_SERVERS", {})
    with pytest.raises(CatalogueError, match=r"qwen2\.5-coder-0\.5b"):
        load_chat_model("local:no-such-model")
    with pytest.raises(ModelNotInstalledError, match=r"models install qwen2\.5-coder-1\.5b"):
        load_chat_model("local:qwen2.5-coder-1.5b")


def _compatible(fake: FakeChatServer, mode: str = "ok") -> ChatOpenAI:
    model = load_chat_model(f"openai_compatible:fake@{fake.base_url(mode)}", max_tokens=64, max_retries=0)
    assert isinstance(model, ChatOpenAI)
    return model


MESSAGES = [SystemMessage("You plan."), HumanMessage("Plan.")]


def test_structured_reply_parsed_with_usage(fake: FakeChatServer) -> None:
    fake.reply(
        json.dumps({"thought": "inspect the data", "action": "List Files", "lines": [1, 2]}),
        prompt_tokens=120,
        completion_tokens=17,
    )
    reply = invoke_structured(_compatible(fake), Plan, MESSAGES)
    assert isinstance(reply, StructuredReply)
    assert reply.ok and reply.error is None
    assert reply.parsed == Plan(thought="inspect the data", action="List Files", lines=[1, 2])
    assert (reply.input_tokens, reply.output_tokens) == (120, 17)
    assert reply.model == f"openai_compatible:fake@{fake.base_url()}"
    assert reply.seconds > 0 and reply.finish_reason == "stop"
    body = fake.requests[-1]["body"]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"]["thought"]["maxLength"] == 50
    assert body["max_completion_tokens"] == 64
    assert json.loads(reply.model_dump_json())["parsed"]["action"] == "List Files"


@pytest.mark.parametrize(
    ("content", "finish", "needle"),
    [
        ('{"thought": "x", "action": "' + "a" * 30 + '"}', "stop", "action"),  # exceeds maxLength
        ('{"thought": "x"}', "stop", "action: Field required"),
        ("I think we should list files.", "stop", "not valid JSON"),
        ('{"thought": "I will now think about this for a very long', "length", "output token limit"),
    ],
)
def test_bad_replies_never_raise(fake: FakeChatServer, content: str, finish: str, needle: str) -> None:
    fake.reply(content, finish_reason=finish, completion_tokens=64)
    reply = invoke_structured(_compatible(fake), Plan, MESSAGES, model_label="custom:label")
    assert reply.parsed is None and not reply.ok
    assert reply.error is not None and needle in reply.error
    assert reply.raw_text == content
    assert reply.output_tokens == 64 and reply.model == "custom:label"


def test_provider_failure_raises_mapped(fake: FakeChatServer) -> None:
    with pytest.raises(ProviderRateLimited):
        invoke_structured(_compatible(fake, "r429"), Plan, MESSAGES)
    with pytest.raises(ProviderRateLimited):
        invoke_text(_compatible(fake, "r429"), MESSAGES)


def test_invoke_text(fake: FakeChatServer) -> None:
    fake.reply("Try gradient boosting.", prompt_tokens=30, completion_tokens=6)
    reply = invoke_text(_compatible(fake), MESSAGES)
    assert reply.content == "Try gradient boosting."
    assert (reply.input_tokens, reply.output_tokens) == (30, 6)
    assert "response_format" not in fake.requests[-1]["body"]


def test_bounded_str_enforces_length() -> None:
    class Note(BaseModel):
        text: bounded_str(5)  # type: ignore[valid-type]

    assert Note(text="12345").text == "12345"
    with pytest.raises(ValidationError):
        Note(text="123456")
    assert Note.model_json_schema()["properties"]["text"]["maxLength"] == 5


def test_local_calls_get_time_for_slow_decoding_and_no_blind_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    import budgetmlagent.providers.local_server as local_server

    class Server:
        base_url = "http://127.0.0.1:9/v1"

    monkeypatch.setattr(local_server, "get_server", lambda name, threads=None: Server())
    coder = load_chat_model("local:qwen2.5-coder-1.5b", max_tokens=2500, timeout_s=120)
    assert isinstance(coder, ChatOpenAI) and coder.max_retries == 0
    assert coder.request_timeout == pytest.approx(60 + 2500 / 8)
    short = load_chat_model("local:qwen2.5-coder-0.5b", max_tokens=100, timeout_s=120)
    assert short.request_timeout == 120
