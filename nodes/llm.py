"""The one place nodes call models: picks the tier's model, records tokens, dollars and lifelines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from budgetmlagent.graph.context import Context
from budgetmlagent.graph.run_folder import append_trace
from budgetmlagent.graph.state import State
from budgetmlagent.providers.errors import ProviderError
from budgetmlagent.providers.ledger import Ledger

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

_models: dict[tuple[str, float, int], BaseChatModel] = {}


@dataclass
class CallOutcome:
    """A structured call's result plus the state it changes (ledger, lifelines)."""

    parsed: BaseModel | None
    error: str | None
    model: str
    tier: int
    update: dict[str, Any]

    @property
    def provider_failed(self) -> bool:
        return self.error is not None and self.error.startswith("provider error")


def temperature_for(role: str, ctx: Context) -> float:
    return ctx.planning_temperature if role in ("planner", "expert") else ctx.worker_temperature


def max_tokens_for(role: str, ctx: Context) -> int:
    return ctx.code_output_tokens if role in ("coder", "debugger") else ctx.max_output_tokens


def chat_model(spec: str, ctx: Context, temperature: float, max_tokens: int) -> BaseChatModel:
    """Models are cached per process: local servers and HTTP clients are shared by all nodes."""
    if ctx.chat_model_factory is not None:
        return ctx.chat_model_factory(spec, temperature, max_tokens)
    key = (spec, temperature, max_tokens)
    if key not in _models:
        from budgetmlagent.providers.chat import load_chat_model

        _models[key] = load_chat_model(spec, temperature=temperature, max_tokens=max_tokens)
    return _models[key]


def call_structured(
    state: State,
    ctx: Context,
    role: str,
    schema: type[BaseModel],
    messages: list[BaseMessage],
    *,
    tier: int | None = None,
) -> CallOutcome:
    """Ask `role`'s model at its current tier for a `schema` reply; never raises on provider failure."""
    from budgetmlagent.providers.chat import invoke_structured
    from budgetmlagent.providers.pricing import cost_usd

    lineup = ctx.lineup
    tiers = lineup.tiers(role)
    tier = state.get("tiers", {}).get(role, 0) if tier is None else tier
    tier = min(tier, len(tiers) - 1)
    spec = tiers[tier]
    started = time.monotonic()
    ledger: Ledger = state.get("ledger") or Ledger()
    try:
        model = chat_model(spec, ctx, temperature_for(role, ctx), max_tokens_for(role, ctx))
        reply = invoke_structured(model, schema, messages, model_label=spec)
    except ProviderError as exc:
        seconds = time.monotonic() - started
        ledger = ledger.record(
            role=role, model=spec, tier=tier, input_tokens=0, output_tokens=0,
            seconds=seconds, cost_usd=0.0, ok=False,
        )  # fmt: skip
        error = f"provider error ({type(exc).__name__}): {exc}"
        _trace_call(state, role, spec, tier, 0, 0, 0.0, seconds, error)
        return CallOutcome(None, error, spec, tier, {"ledger": ledger, **_lifeline(state, ctx, role, tier)})
    dollars = cost_usd(spec, reply.input_tokens, reply.output_tokens)
    ledger = ledger.record(
        role=role, model=spec, tier=tier, input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens, seconds=reply.seconds, cost_usd=dollars,
        ok=reply.parsed is not None,
    )  # fmt: skip
    _trace_call(state, role, spec, tier, reply.input_tokens, reply.output_tokens, dollars, reply.seconds, reply.error)
    update = {"ledger": ledger, **_lifeline(state, ctx, role, tier)}
    return CallOutcome(reply.parsed, reply.error, spec, tier, update)


def _lifeline(state: State, ctx: Context, role: str, tier: int) -> dict[str, int]:
    if not ctx.lineup.spends_lifeline(role, tier):
        return {}
    return {"lifelines": max(0, state.get("lifelines", ctx.lifelines) - 1)}


def _trace_call(
    state: State,
    role: str,
    model: str,
    tier: int,
    input_tokens: int,
    output_tokens: int,
    dollars: float,
    seconds: float,
    error: str | None,
) -> None:
    append_trace(
        state.get("run_dir"),
        {
            "type": "llm_call",
            "step": len(state.get("steps", [])) + 1,
            "role": role,
            "model": model,
            "tier": tier,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": dollars,
            "seconds": round(seconds, 3),
            "error": error,
        },
    )
