"""Provider failures mapped onto one small exception family, whatever SDK raised them."""

from __future__ import annotations

import json
import socket
import urllib.error
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


class ProviderError(Exception):
    """A model provider call failed; `model` is the spec label, `retryable` says whether to try again."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.status = status
        self.retry_after_s = retry_after_s  # what the provider's Retry-After asked for, if it said


class ProviderUnavailable(ProviderError):
    """The provider cannot be reached: connection refused, server dead, DNS failure."""

    retryable = True


class ProviderTimeout(ProviderError):
    """The provider did not answer within the timeout."""

    retryable = True


class ProviderRateLimited(ProviderError):
    """The provider refused for quota or rate (HTTP 429)."""

    retryable = True


class ProviderAuthError(ProviderError):
    """Missing, wrong or insufficient credentials (HTTP 401/403)."""


class ProviderBadResponse(ProviderError):
    """The provider failed on its side (5xx) or answered something malformed."""

    retryable = True


class ProviderInvalidRequest(ProviderError):
    """The provider rejected the request itself: bad parameters, unknown model, context overflow."""


def _status_class(status: int) -> type[ProviderError]:
    if status == 429:
        return ProviderRateLimited
    if status in (401, 403):
        return ProviderAuthError
    if status in (408, 504):
        return ProviderTimeout
    if status >= 500:
        return ProviderBadResponse
    return ProviderInvalidRequest


def _http_module_classes() -> list[tuple[type[BaseException], type[ProviderError]]]:
    # httpx (OpenAI SDK) and httpx2 (Google SDK) share class names but not classes; order matters:
    # timeouts before the transport errors they subclass.
    table: list[tuple[type[BaseException], type[ProviderError]]] = []
    for modname in ("httpx", "httpx2"):
        try:
            mod = __import__(modname)
        except ImportError:
            continue
        table += [
            (mod.TimeoutException, ProviderTimeout),
            (mod.RemoteProtocolError, ProviderUnavailable),
            (mod.DecodingError, ProviderBadResponse),
            (mod.TransportError, ProviderUnavailable),
        ]
    try:
        import requests
    except ImportError:
        pass
    else:
        table += [
            (requests.Timeout, ProviderTimeout),
            (requests.ConnectionError, ProviderUnavailable),
        ]
    return table


def _sdk_classes() -> list[tuple[type[BaseException], type[ProviderError]]]:
    table: list[tuple[type[BaseException], type[ProviderError]]] = []
    try:
        from langchain_core import exceptions as lc
    except ImportError:
        pass
    else:
        table += [
            (lc.ModelTimeoutError, ProviderTimeout),
            (lc.ModelConnectionError, ProviderUnavailable),
            (lc.ModelRateLimitError, ProviderRateLimited),
            (lc.ModelAuthenticationError, ProviderAuthError),
            (lc.ModelPermissionDeniedError, ProviderAuthError),
            (lc.ModelAPIError, ProviderBadResponse),
            (lc.ContextOverflowError, ProviderInvalidRequest),
            (lc.ModelInvalidRequestError, ProviderInvalidRequest),
            (lc.ModelNotFoundError, ProviderInvalidRequest),
            (lc.ModelRefusalError, ProviderBadResponse),
        ]
    try:
        import openai
    except ImportError:
        pass
    else:
        table += [
            (openai.APITimeoutError, ProviderTimeout),
            (openai.APIConnectionError, ProviderUnavailable),
            (openai.APIResponseValidationError, ProviderBadResponse),
        ]
    return table


def classify(exc: BaseException) -> type[ProviderError] | None:
    """ProviderError subclass for `exc` or anything in its cause chain; None if not a provider failure."""
    return next((found for cur in _chain(exc) if (found := _classify_one(cur)) is not None), None)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then its causes (explicit or implicit), each once."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _classify_one(exc: BaseException) -> type[ProviderError] | None:
    if isinstance(exc, ProviderError):
        return type(exc)
    for cls, target in _sdk_classes():
        if isinstance(exc, cls):
            return target
    status = _status_of(exc)
    if status is not None and status >= 400:
        return _status_class(status)
    if _answered_ok(exc):  # the SDK failed to read a 2xx body: `choices: null`, an `{"error": ...}` body, ...
        return ProviderBadResponse
    for cls, target in _http_module_classes():
        if isinstance(exc, cls):
            return target
    if isinstance(exc, json.JSONDecodeError):  # SDKs decode the body themselves: a 200 that is not JSON
        return ProviderBadResponse
    if isinstance(exc, urllib.error.URLError):
        return ProviderTimeout if isinstance(exc.reason, TimeoutError) else ProviderUnavailable
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return ProviderTimeout
    if isinstance(exc, ConnectionError | socket.gaierror):
        return ProviderUnavailable
    return None


def _status_of(exc: BaseException) -> int | None:
    # openai.APIStatusError.status_code, google.genai.errors.APIError.code, urllib HTTPError.code,
    # httpx/requests HTTPStatusError.response.status_code.
    for attr in ("status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) and 100 <= value <= 599 else None


def _answered_ok(exc: BaseException) -> bool:
    # LangChain's ChatOpenAI attaches the HTTP response to whatever parsing that response raised.
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return isinstance(status, int) and 200 <= status < 300


def retry_after_of(exc: BaseException) -> float | None:
    """Seconds a Retry-After (or retry-after-ms) header on `exc`'s HTTP response asked for; None if none."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            value = float(headers.get(name))
        except (TypeError, ValueError):  # absent, or an HTTP date: not worth parsing for a message
            continue
        return value / divisor if value >= 0 else None
    return None


def map_provider_error(exc: BaseException, *, model: str | None = None) -> ProviderError:
    """Map any SDK/HTTP/socket exception to a ProviderError subclass, keeping `exc` as `__cause__`."""
    if isinstance(exc, ProviderError):
        if model and exc.model is None:
            exc.model = model
        return exc
    cls = classify(exc) or ProviderError
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    prefix = f"{model}: " if model else ""
    retry_after = next((seconds for cur in _chain(exc) if (seconds := retry_after_of(cur)) is not None), None)
    asked = f" (Retry-After {retry_after:g} s)" if retry_after is not None else ""
    message = f"{prefix}{cls.__name__}: {type(exc).__name__}: {detail}".rstrip(": ") + asked
    err = cls(message, model=model, status=_status_of(exc), retry_after_s=retry_after)
    err.__cause__ = exc
    return err


def is_provider_failure(exc: BaseException) -> bool:
    """True when `exc` is a provider/transport failure rather than a bug in our own code."""
    return classify(exc) is not None


@contextmanager
def provider_errors(model: str | None = None) -> Iterator[None]:
    """Re-raise provider failures inside the block as ProviderError; other exceptions pass unchanged."""
    try:
        yield
    except Exception as exc:
        if not is_provider_failure(exc):
            raise
        raise map_provider_error(exc, model=model) from exc


def call_provider(fn: Callable[[], T], *, model: str | None = None) -> T:
    """Call `fn()`, turning provider failures into ProviderError (programming errors still propagate)."""
    with provider_errors(model):
        return fn()
