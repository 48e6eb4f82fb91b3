"""Scripted chat models: deterministic replies that drive the graph's routers in unit tests."""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import PrivateAttr, ValidationError

# A scripted reply: a dict (the JSON the model "writes"), a raw string, or an exception to raise.
Reply = dict[str, Any] | str | BaseException


class ScriptedChatModel(BaseChatModel):
    """Answers from a queue; records every prompt and the schema it was asked for."""

    spec: str
    input_tokens: int = 100
    output_tokens: int = 20
    _queue: deque[Reply] = PrivateAttr()
    _log: list[dict[str, Any]] = PrivateAttr()

    def bind_queue(self, queue: deque[Reply], log: list[dict[str, Any]]) -> ScriptedChatModel:
        self._queue, self._log = queue, log
        return self

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _next(self, messages: Sequence[BaseMessage], schema: Any) -> AIMessage:
        plain = schema is None
        if plain and messages:  # a fenced code request is logged as the reply it asks for, as a JSON one would be
            title = code_reply_title(str(messages[0].content))
            schema = {"title": title} if title else None
        self._log.append({"spec": self.spec, "messages": list(messages), "schema": schema, "plain": plain})
        if not self._queue:
            raise AssertionError(f"{self.spec} has no scripted reply left (schema {schema})")
        reply = self._queue.popleft()
        if isinstance(reply, BaseException):
            raise reply
        content = reply if isinstance(reply, str) else fenced(reply) if plain and "code" in reply else json.dumps(reply)
        usage = {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
        }
        return AIMessage(content=content, usage_metadata=usage)  # type: ignore[arg-type]

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, None))])

    def with_structured_output(  # type: ignore[override]
        self, schema: Any, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable:
        def run(messages: Any) -> Any:
            raw = self._next(messages if isinstance(messages, list) else messages.to_messages(), schema)
            try:
                if isinstance(schema, dict):  # a JSON schema: the provider returns a plain dict
                    parsed, error = json.loads(raw.content), None
                else:
                    parsed, error = schema.model_validate_json(raw.content), None
            except (ValidationError, json.JSONDecodeError) as exc:
                parsed, error = None, exc
            return {"raw": raw, "parsed": parsed, "parsing_error": error} if include_raw else parsed

        return RunnableLambda(run)


def fenced(reply: dict[str, Any]) -> str:
    """A code reply's fields as a model writes them in plain text: the prose, then the code in one block."""
    prose = " ".join(str(v) for k, v in reply.items() if k != "code")
    return f"{prose}\n```python\n{reply['code']}```\n"


def code_reply_title(system_prompt: str) -> str:
    """Which code reply a plain-text request asks for, known by its persona; "" for other roles."""
    from budgetmlagent.prompts import profiles

    return {profiles.CODER: "CodeReply", profiles.DEBUGGER: "FixReply"}.get(system_prompt, "")


class ScriptedModels:
    """A `chat_model_factory`: one reply queue per model spec, shared by every temperature."""

    def __init__(self, replies: dict[str, list[Reply]], **model_kwargs: Any) -> None:
        self.queues: dict[str, deque[Reply]] = defaultdict(deque, {k: deque(v) for k, v in replies.items()})
        self.log: list[dict[str, Any]] = []
        self.model_kwargs = model_kwargs
        self.settings: list[tuple[str, float, int]] = []  # (spec, temperature, max_tokens) of every call, in order

    def __call__(self, spec: str, temperature: float, max_tokens: int) -> BaseChatModel:
        self.settings.append((spec, temperature, max_tokens))
        return ScriptedChatModel(spec=spec, **self.model_kwargs).bind_queue(self.queues[spec], self.log)

    def calls(self, spec: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.log if spec is None or c["spec"] == spec]

    def remaining(self) -> dict[str, int]:
        return {spec: len(q) for spec, q in self.queues.items() if q}
