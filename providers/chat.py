"""Chat model construction per provider, and the structured/free-text calls every node makes."""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field, ValidationError

from budgetmlagent.providers.errors import ProviderAuthError, provider_errors
from budgetmlagent.providers.specs import ModelSpec, parse_spec

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

T = TypeVar("T", bound=BaseModel)

API_KEY_ENVS: dict[str, tuple[str, ...]] = {
    "google_genai": ("GOOGLE_API_KEY", "GEMINI_API_KEY"),
    "openai": ("OPENAI_API_KEY",),
    "openai_compatible": ("OPENAI_COMPATIBLE_API_KEY",),
}
LABEL_KEY = "budgetmlagent_model"
# OpenAI reasoning models (o1, o3, o4-mini, ...) reject any temperature but the default.
_NO_TEMPERATURE = re.compile(r"^o\d")


def bounded_str(max_chars: int) -> Any:
    """`Annotated[str, Field(max_length=max_chars)]`: a free-text schema field with a hard length bound."""
    return Annotated[str, Field(max_length=max_chars)]


def _api_key(provider: str) -> str | None:
    for env in API_KEY_ENVS.get(provider, ()):
        value = os.environ.get(env, "").strip()
        if value:
            return value
    return None


LOCAL_TIMEOUT_BASE_S = 60.0
LOCAL_WORST_DECODE_TOKENS_PER_S = 8.0


def load_chat_model(
    spec: str | ModelSpec,
    *,
    temperature: float = 0.2,
    max_tokens: int = 1024,
    timeout_s: float = 120.0,
    max_retries: int = 1,
    threads: int | None = None,
) -> BaseChatModel:
    """Chat model for a spec, with output tokens, timeout and retries (after the first try) set explicitly.

    `local:<name>` checks the model file (never downloads it) and starts the managed llama.cpp server.
    A missing API key raises ProviderAuthError naming the environment variable.
    """
    s = parse_spec(spec)
    metadata = {LABEL_KEY: s.label}
    if s.provider == "google_genai":
        key = _api_key("google_genai")
        if key is None:
            raise ProviderAuthError(f"{s.label}: set GOOGLE_API_KEY to use Gemini models", model=s.label)
        from langchain_google_genai import ChatGoogleGenerativeAI

        # Google counts attempts, not retries (and reads 0 as "its default of 5 retries", ~34 s to fail).
        return ChatGoogleGenerativeAI(
            model=s.model,
            google_api_key=key,
            temperature=temperature,
            max_output_tokens=max_tokens,
            timeout=timeout_s,
            max_retries=max_retries + 1,
            metadata=metadata,
        )

    from langchain_openai import ChatOpenAI

    if s.provider == "local":
        from budgetmlagent.providers.local_server import get_server

        server = get_server(s.model, threads=threads)
        base_url: str | None = server.base_url
        key = "local"
        # A local call is bound by decode speed, which a busy 2-core box can drop below 10 tokens/s: give
        # a long reply time to finish, and do not repeat a timed-out generation (it would time out again).
        timeout_s = max(timeout_s, LOCAL_TIMEOUT_BASE_S + max_tokens / LOCAL_WORST_DECODE_TOKENS_PER_S)
        max_retries = 0
    elif s.provider == "openai_compatible":
        base_url = s.base_url
        key = _api_key("openai_compatible") or "none"
    else:
        base_url = None
        key = _api_key("openai")
        if key is None:
            raise ProviderAuthError(f"{s.label}: set OPENAI_API_KEY to use OpenAI models", model=s.label)
    kwargs: dict[str, Any] = {}
    if not (s.provider == "openai" and _NO_TEMPERATURE.match(s.model)):
        kwargs["temperature"] = temperature
    return ChatOpenAI(
        model=s.model,
        api_key=key,
        base_url=base_url,
        max_tokens=max_tokens,
        timeout=timeout_s,
        max_retries=max_retries,
        stream_usage=True,
        metadata=metadata,
        **kwargs,
    )


def label_of(model: BaseChatModel) -> str:
    """Spec label that load_chat_model attached to `model` (falls back to its model name)."""
    label = (model.metadata or {}).get(LABEL_KEY)
    if isinstance(label, str):
        return label
    return str(getattr(model, "model_name", None) or getattr(model, "model", None) or type(model).__name__)


class StructuredReply(BaseModel, Generic[T]):
    """A schema-constrained reply: `parsed` is None and `error` says why when it did not validate."""

    parsed: T | None = None
    raw_text: str = ""
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    model: str = ""
    finish_reason: str | None = None

    @property
    def ok(self) -> bool:
        """The reply parsed and validated."""
        return self.parsed is not None


class TextReply(BaseModel):
    """A free-text reply with its usage."""

    content: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0
    model: str = ""
    finish_reason: str | None = None


def _text_of(message: Any) -> str:
    content = getattr(message, "content", "")
    if isinstance(content, str):
        return content
    parts = [b.get("text", "") if isinstance(b, dict) else str(b) for b in content or []]
    return "".join(p for p in parts if isinstance(p, str))


def _usage(message: Any) -> tuple[int, int, int]:
    usage = getattr(message, "usage_metadata", None) or {}
    details = usage.get("input_token_details") or {}
    cached = int(details.get("cache_read") or 0)
    return int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0), cached


def _finish_reason(message: Any) -> str | None:
    meta = getattr(message, "response_metadata", None) or {}
    reason = meta.get("finish_reason")
    return None if reason is None else str(reason).lower()


def _short_validation(exc: ValidationError, limit: int = 3) -> str:
    errs = exc.errors()
    parts = [f"{'.'.join(str(x) for x in e['loc']) or '<root>'}: {e['msg']}" for e in errs[:limit]]
    more = f" (+{len(errs) - limit} more)" if len(errs) > limit else ""
    return "schema validation failed: " + "; ".join(parts) + more


def _length_cut(exc: Exception, label: str, seconds: float) -> StructuredReply[Any] | None:
    # With a response_format the OpenAI SDK raises on finish_reason "length" instead of returning the
    # reply; the exception still carries the completion, so text and token usage are not lost.
    try:
        from openai import LengthFinishReasonError
    except ImportError:
        return None
    if not isinstance(exc, LengthFinishReasonError):
        return None
    completion = exc.completion
    usage = completion.usage
    text = completion.choices[0].message.content or "" if completion.choices else ""
    out_tokens = usage.completion_tokens if usage else 0
    details = usage.prompt_tokens_details if usage else None
    return StructuredReply(
        parsed=None,
        raw_text=text,
        error=f"reply cut at the output token limit after {out_tokens} tokens (not valid JSON)",
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=out_tokens,
        cached_tokens=(details.cached_tokens or 0) if details else 0,
        seconds=seconds,
        model=label,
        finish_reason="length",
    )


def invoke_structured(
    model: BaseChatModel,
    schema: type[T],
    messages: list[BaseMessage],
    *,
    model_label: str | None = None,
) -> StructuredReply[T]:
    """Ask for a reply that follows `schema` (JSON-schema constrained where the provider supports it).

    Never raises for a bad reply: unparsable JSON, a reply cut at max tokens or one failing pydantic
    validation come back with `parsed=None` and a short `error`. Provider failures raise ProviderError.
    Bound every free-text field of `schema` (`bounded_str(n)` or `Field(max_length=n)`): llama.cpp's
    grammar enforces the bound while decoding, so a small model cannot ramble a field until the token
    limit; API providers may not enforce it, and then pydantic refuses the reply instead.
    """
    label = model_label or label_of(model)
    # A plain JSON schema (not the class) keeps validation in our hands: the OpenAI SDK would raise on an
    # invalid or truncated reply and lose the raw text and token usage with it.
    json_schema = schema.model_json_schema()
    structured = model.with_structured_output(json_schema, method="json_schema", include_raw=True)
    t0 = time.perf_counter()
    try:
        with provider_errors(label):
            out: dict[str, Any] = structured.invoke(messages)  # type: ignore[assignment]
    except Exception as exc:
        cut = _length_cut(exc, label, time.perf_counter() - t0)
        if cut is None:
            raise
        return cut
    seconds = time.perf_counter() - t0
    raw = out.get("raw")
    input_tokens, output_tokens, cached = _usage(raw)
    finish = _finish_reason(raw)
    raw_text = _text_of(raw)
    parsed: T | None = None
    error: str | None = None
    if out.get("parsing_error") is not None or out.get("parsed") is None:
        if finish in ("length", "max_tokens"):
            error = f"reply cut at the output token limit after {output_tokens} tokens (not valid JSON)"
        else:
            detail = str(out.get("parsing_error") or "no JSON in reply").strip().splitlines()[0][:200]
            error = f"reply is not valid JSON: {detail}"
    else:
        try:
            parsed = schema.model_validate(out["parsed"])
        except ValidationError as exc:
            error = _short_validation(exc)
    return StructuredReply(
        parsed=parsed,
        raw_text=raw_text,
        error=error,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached,
        seconds=seconds,
        model=label,
        finish_reason=finish,
    )


def invoke_text(model: BaseChatModel, messages: list[BaseMessage], *, model_label: str | None = None) -> TextReply:
    """Free-text call with usage and wall time; provider failures raise ProviderError."""
    label = model_label or label_of(model)
    t0 = time.perf_counter()
    with provider_errors(label):
        msg = model.invoke(messages)
    seconds = time.perf_counter() - t0
    input_tokens, output_tokens, cached = _usage(msg)
    return TextReply(
        content=_text_of(msg),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached,
        seconds=seconds,
        model=label,
        finish_reason=_finish_reason(msg),
    )
