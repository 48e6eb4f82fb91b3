"""Provider error mapping: real clients against a loopback server, plus raw SDK/transport exceptions."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import httpx2
import openai
import pytest
from fake_provider import FakeChatServer
from google.genai import errors as genai_errors
from langchain_core import exceptions as lc_exceptions
from langchain_core.messages import HumanMessage
from langchain_google_genai import ChatGoogleGenerativeAI
from langchain_openai import ChatOpenAI

from budgetmlagent.providers.errors import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderInvalidRequest,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    call_provider,
    map_provider_error,
    provider_errors,
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeChatServer]:
    with FakeChatServer(hang_s=3.0) as server:
        yield server


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _openai(base_url: str, timeout: float = 5.0) -> ChatOpenAI:
    return ChatOpenAI(model="m", api_key="dummy", base_url=base_url, timeout=timeout, max_retries=0)


def _google(base_url: str, timeout: float = 5.0) -> ChatGoogleGenerativeAI:
    return ChatGoogleGenerativeAI(
        model="gemini-2.5-flash", google_api_key="dummy", base_url=base_url, timeout=timeout, max_retries=1
    )


OPENAI_CASES = [
    ("r429", ProviderRateLimited),
    ("r500", ProviderBadResponse),
    ("r503", ProviderBadResponse),
    ("r401", ProviderAuthError),
    ("r403", ProviderAuthError),
    ("r400", ProviderInvalidRequest),
]


@pytest.mark.parametrize(("mode", "expected"), OPENAI_CASES)
def test_openai_http_statuses(fake: FakeChatServer, mode: str, expected: type[ProviderError]) -> None:
    model = _openai(fake.base_url(mode))
    with pytest.raises(expected) as info:
        call_provider(lambda: model.invoke([HumanMessage("hi")]), model="openai:m")
    err = info.value
    assert err.model == "openai:m"
    assert err.__cause__ is not None and isinstance(err.__cause__, lc_exceptions.ModelError)
    assert "openai:m" in str(err)


def test_openai_timeout(fake: FakeChatServer) -> None:
    model = _openai(fake.base_url("hang"), timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(ProviderTimeout) as info:
        call_provider(lambda: model.invoke([HumanMessage("hi")]))
    assert time.monotonic() - t0 < 2.5
    assert info.value.retryable


def test_openai_connection_refused() -> None:
    model = _openai(f"http://127.0.0.1:{_closed_port()}/v1")
    with pytest.raises(ProviderUnavailable):
        call_provider(lambda: model.invoke([HumanMessage("hi")]))


def test_openai_malformed_body(fake: FakeChatServer) -> None:
    model = _openai(fake.base_url("garbage"))
    with pytest.raises(ProviderBadResponse):
        call_provider(lambda: model.invoke([HumanMessage("hi")]))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("r429", ProviderRateLimited),
        ("r500", ProviderBadResponse),
        ("r401", ProviderAuthError),
        ("r400", ProviderInvalidRequest),
    ],
)
def test_google_http_statuses(fake: FakeChatServer, mode: str, expected: type[ProviderError]) -> None:
    model = _google(fake.base_url(mode, v1=False))
    with pytest.raises(expected):
        call_provider(lambda: model.invoke([HumanMessage("hi")]))


def test_google_connection_refused_and_timeout(fake: FakeChatServer) -> None:
    refused = _google(f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(ProviderUnavailable):
        call_provider(lambda: refused.invoke([HumanMessage("hi")]))
    hanging = _google(fake.base_url("hang", v1=False), timeout=0.5)
    with pytest.raises(ProviderTimeout):
        call_provider(lambda: hanging.invoke([HumanMessage("hi")]))


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx2.ConnectError("refused"), ProviderUnavailable),
        (httpx2.ReadTimeout("slow"), ProviderTimeout),
        (httpx2.ConnectTimeout("slow"), ProviderTimeout),
        (httpx2.RemoteProtocolError("server died"), ProviderUnavailable),
        (httpx.ConnectError("refused"), ProviderUnavailable),
        (httpx.ReadTimeout("slow"), ProviderTimeout),
        (genai_errors.ClientError(429, {"error": {"message": "quota"}}), ProviderRateLimited),
        (genai_errors.ServerError(503, {"error": {"message": "down"}}), ProviderBadResponse),
        (lc_exceptions.ContextOverflowError("too long"), ProviderInvalidRequest),
        (lc_exceptions.ModelConnectionError("x"), ProviderUnavailable),
        (openai.APITimeoutError(request=httpx.Request("POST", "http://x")), ProviderTimeout),
        (TimeoutError("socket"), ProviderTimeout),
        (ConnectionRefusedError(111, "refused"), ProviderUnavailable),
        (socket.gaierror(-2, "Name or service not known"), ProviderUnavailable),
    ],
)
def test_raw_exceptions_map(exc: BaseException, expected: type[ProviderError]) -> None:
    err = map_provider_error(exc, model="x:y")
    assert type(err) is expected
    assert err.__cause__ is exc


def test_requests_exceptions_map() -> None:
    requests = pytest.importorskip("requests")
    assert isinstance(map_provider_error(requests.ConnectionError("x")), ProviderUnavailable)
    assert isinstance(map_provider_error(requests.ReadTimeout("x")), ProviderTimeout)


def test_cause_chain_is_searched() -> None:
    try:
        try:
            raise httpx2.ConnectError("refused")
        except httpx2.ConnectError as inner:
            raise RuntimeError("wrapper") from inner
    except RuntimeError as outer:
        assert isinstance(map_provider_error(outer), ProviderUnavailable)


def test_programming_errors_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), provider_errors("x:y"):
        raise KeyError("bug")
    assert type(map_provider_error(KeyError("bug"))) is ProviderError  # the forced mapping stays generic
    already = ProviderTimeout("t")
    assert map_provider_error(already, model="m") is already and already.model == "m"
