"""Chat model construction per provider, and the structured/free-text calls every node makes."""

from __future__ import annotations

import functools
import os
import re
import time
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, Field, ValidationError

from budgetmlagent.providers.errors import ProviderAuthError, ProviderBadResponse, provider_errors
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
# The OpenAI SDK sleeps whatever a 429/503's Retry-After asks, up to two minutes, before each retry (and
# does not retry at all beyond that). A run would rather give up on the tier and let the cascade move on.
RETRY_WAIT_CAP_S = 10.0


def load_chat_model(
    spec: str | ModelSpec,
    *,
    temperature: float = 0.2,
    max_tokens: int = 1024,
    timeout_s: float = 120.0,
    max_retries: int = 1,
    threads: int | None = None,
    deadline_s: float | None = None,
) -> BaseChatModel:
    """Chat model for a spec, with output tokens, timeout and retries (after the first try) set explicitly.
    `deadline_s` bounds the whole call, the local floor below and retries included (the run's wall clock).

    `local:<name>` checks the model file (never downloads it) and starts the managed llama.cpp server.
    A missing API key raises ProviderAuthError naming the environment variable.
    """
    if max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")  # Google would read 0 attempts as 5
    s = parse_spec(spec)
    metadata = {LABEL_KEY: s.label}
    if deadline_s is not None and deadline_s < timeout_s * (max_retries + 1):  # retries would outlive it
        timeout_s, max_retries = min(timeout_s, deadline_s), 0
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
    if deadline_s is not None:
        timeout_s = min(timeout_s, deadline_s)
    kwargs: dict[str, Any] = {}
    if not (s.provider == "openai" and _NO_TEMPERATURE.match(s.model)):
        kwargs["temperature"] = temperature
    model = _checked_chat_openai()(
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
    _cap_retry_waits(model)
    return model


def _cap_retry_waits(model: Any) -> None:
    """Bound the OpenAI SDK's sleep before each retry to RETRY_WAIT_CAP_S, whatever Retry-After says.

    The SDK offers no setting for this; `_calculate_retry_timeout` is its one place that computes the wait
    (Retry-After, retry-after-ms or backoff). tests/unit/test_provider_faults.py notices if it moves.
    """
    for client in (getattr(model, "root_client", None), getattr(model, "root_async_client", None)):
        compute = getattr(client, "_calculate_retry_timeout", None)
        if compute is None:
            continue

        def capped(*args: Any, _compute: Any = compute, **kwargs: Any) -> float:
            return min(float(_compute(*args, **kwargs)), RETRY_WAIT_CAP_S)

        client._calculate_retry_timeout = capped  # type: ignore[union-attr]


@functools.cache
def _checked_chat_openai() -> type:
    """ChatOpenAI that turns a completion it cannot read into ProviderBadResponse instead of a crash.

    A 200 with `choices: []`, `choices: null`, an `{"error": ...}` body or a null message makes LangChain
    raise IndexError, TypeError or ValueError, which would end a run with a traceback. The subclass is
    built on first use so that importing this module does not import langchain_openai.
    """
    from langchain_openai import ChatOpenAI

    class CheckedChatOpenAI(ChatOpenAI):
        def _create_chat_result(self, response: Any, generation_info: dict[str, Any] | None = None) -> Any:
            # Its only input is what the provider sent, so a failure here is a malformed reply, not a bug of ours.
            try:
                result = super()._create_chat_result(response, generation_info)
            except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
                raise ProviderBadResponse(f"malformed completion: {type(exc).__name__}: {exc}"[:300]) from exc
            if not result.generations:
                raise ProviderBadResponse("the provider answered without any choices")
            return result

    return CheckedChatOpenAI


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


def _in_cause_chain(exc: BaseException, types: tuple[type[BaseException], ...]) -> Any:
    """`exc` or the first exception of one of `types` in its cause chain; None if there is none."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, types):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def _finish_cut(exc: BaseException, label: str, seconds: float) -> StructuredReply[Any] | None:
    # With a response_format the OpenAI SDK raises on finish_reason "length" or "content_filter" instead of
    # returning the reply; the exception still carries the completion, so text and token usage (billed) are
    # not lost. It may arrive wrapped as a ProviderError: look through the cause chain.
    try:
        from openai import ContentFilterFinishReasonError, LengthFinishReasonError
    except ImportError:
        return None
    cur = _in_cause_chain(exc, (LengthFinishReasonError, ContentFilterFinishReasonError))
    if cur is None:
        return None
    completion = cur.completion
    usage = completion.usage
    text = completion.choices[0].message.content or "" if completion.choices else ""
    out_tokens = usage.completion_tokens if usage else 0
    details = usage.prompt_tokens_details if usage else None
    length = isinstance(cur, LengthFinishReasonError)
    return StructuredReply(
        parsed=None,
        raw_text=text,
        error=f"reply cut at the output token limit after {out_tokens} tokens (not valid JSON)"
        if length
        else "reply stopped by the provider's content filter",
        input_tokens=usage.prompt_tokens if usage else 0,
        output_tokens=out_tokens,
        cached_tokens=(details.cached_tokens or 0) if details else 0,
        seconds=seconds,
        model=label,
        finish_reason="length" if length else "content_filter",
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
        cut = _finish_cut(exc, label, time.perf_counter() - t0)
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
            # A parsing error's message may be empty or blank (a refusal with no text): never index into it.
            lines = str(out.get("parsing_error") or "").strip().splitlines()
            error = f"reply is not valid JSON: {lines[0][:200] if lines else 'no JSON in reply'}"
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


_CODE_BLOCK = re.compile(r"^```[\w+-]*[ \t]*\n(.*?)(?:^```[ \t]*$|\Z)", re.MULTILINE | re.DOTALL)


def code_blocks(text: str) -> list[str]:
    """The bodies of the markdown code blocks in `text`; a last block left open runs to the end."""
    return [m.group(1) for m in _CODE_BLOCK.finditer(text)]


def invoke_fenced(
    model: BaseChatModel,
    schema: type[T],
    messages: list[BaseMessage],
    *,
    model_label: str | None = None,
) -> StructuredReply[T]:
    """Ask for prose and one fenced code block, and validate them as `schema`: its `code` field gets the longest
    block (the whole reply if none), its other text field the prose around it.

    Code inside a JSON string must escape every quote and newline; the local 1.5B coder cut its scripts short at a
    quote it did not escape or returned only the changed lines (sweep v5: 11 of 44 code replies refused, 4 runs
    died of a SyntaxError; v7 in plain text: 3 of 41, none). Never raises for a bad reply; provider failures raise
    ProviderError."""
    reply = invoke_text(model, messages, model_label=model_label)
    text = reply.content
    blocks = code_blocks(text)
    code = max(blocks, key=len) if blocks else text
    prose = _CODE_BLOCK.sub(" ", text) if blocks else ""
    note_field = next((name for name in schema.model_fields if name != "code"), None)
    parsed: T | None = None
    error: str | None = None
    if reply.finish_reason in ("length", "max_tokens"):
        error = f"reply cut at the output token limit after {reply.output_tokens} tokens"
    elif not code.strip():
        error = "reply has no code"
    else:
        fields = {"code": code} | ({note_field: _bounded_note(prose, schema, note_field)} if note_field else {})
        try:
            parsed = schema.model_validate(fields)
        except ValidationError as exc:
            error = _short_validation(exc)
    return StructuredReply(
        parsed=parsed,
        raw_text=text,
        error=error,
        input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens,
        cached_tokens=reply.cached_tokens,
        seconds=reply.seconds,
        model=reply.model,
        finish_reason=reply.finish_reason,
    )


def _bounded_note(prose: str, schema: type[BaseModel], name: str) -> str:
    """The prose, one line, within the field's max_length (a note is a summary, not a reason to refuse code)."""
    limit = next((m.max_length for m in schema.model_fields[name].metadata if hasattr(m, "max_length")), None)
    note = " ".join(prose.split())
    return note[:limit] if limit else note


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
