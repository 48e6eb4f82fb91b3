"""The one place nodes call models: picks the tier's model, records tokens, dollars and lifelines."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from budgetmlagent.providers.catalogue import ModelNotInstalledError
from budgetmlagent.providers.errors import ProviderError
from budgetmlagent.providers.ledger import Ledger
from budgetmlagent.providers.local_server import LocalServerError
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.durable import INTERRUPTED_TRACE
from budgetmlagent.runtime.run_folder import append_trace, read_trace
from budgetmlagent.runtime.state import State

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

_models: dict[tuple[str, float, int, int | None], BaseChatModel] = {}
BUDGET_REFUSED = "budget"  # the status a refused call sets: the run ends on the dollar cap
# A call is bounded by the run's wall clock once less time is left than any call's own timeout (a local call's
# reaches a few minutes); the bound is rounded up to DEADLINE_STEP_S so few distinct clients exist.
DEADLINE_FROM_S = 900.0
DEADLINE_STEP_S = 10


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

    @property
    def budget_refused(self) -> bool:
        """The call was not made: its worst case would have crossed the dollar cap."""
        return self.update.get("status") == BUDGET_REFUSED


def temperature_for(role: str, ctx: Context, retry: bool = False) -> float:
    """The paper's temperatures; a retry samples hotter, because near 0 the small local models repeat themselves:
    the planner re-sent a rejected reply word for word, the debugger returned the same failed fix."""
    if retry:
        return ctx.retry_temperature
    return ctx.planning_temperature if role in ("planner", "expert") else ctx.worker_temperature


def max_tokens_for(role: str, ctx: Context) -> int:
    return ctx.code_output_tokens if role in ("coder", "debugger") else ctx.max_output_tokens


def code_reply_tokens(ctx: Context, current_code: str) -> int:
    """A whole-file reply's cap: room for the file to double (about 3.5 characters a token), never above the role's.

    A small coder that degenerates into repeated lines otherwise runs to the 2,500-token cap: two minutes of a
    1.5B model on two cores for a 27-line script. Rounded up so few distinct caps (cached clients) exist."""
    wanted = 2 * len(current_code) / 3.5 + 500
    return min(ctx.code_output_tokens, math.ceil(wanted / 250) * 250)


def time_left_s(state: State, ctx: Context) -> float:
    """Seconds the run's wall-clock cap leaves (negative once spent)."""
    return ctx.wall_clock_s - (time.time() - state.get("started_at", time.time()))


def chat_model(
    spec: str, ctx: Context, temperature: float, max_tokens: int, time_left: float | None = None
) -> BaseChatModel:
    """Models are cached per process: local servers and HTTP clients are shared by all nodes. With `time_left`
    under DEADLINE_FROM_S, the client's timeout is cut to it, so the wall-clock cap also bounds a started call."""
    if ctx.chat_model_factory is not None:
        return ctx.chat_model_factory(spec, temperature, max_tokens)
    deadline = None
    if time_left is not None and time_left < DEADLINE_FROM_S:
        deadline = max(1, math.ceil(time_left / DEADLINE_STEP_S)) * DEADLINE_STEP_S
    key = (spec, temperature, max_tokens, deadline)
    if key not in _models:
        from budgetmlagent.providers.chat import load_chat_model

        if deadline is not None:  # one deadline-bound client per model: the run's clock only moves on
            for stale in [k for k in _models if k[:3] == key[:3] and k[3] is not None]:
                del _models[stale]
        _models[key] = load_chat_model(spec, temperature=temperature, max_tokens=max_tokens, deadline_s=deadline)
    return _models[key]


def call_structured(
    state: State,
    ctx: Context,
    role: str,
    schema: type[BaseModel],
    messages: list[BaseMessage],
    *,
    tier: int | None = None,
    max_output_tokens: int | None = None,
    retry: bool = False,
    fenced: bool = False,
) -> CallOutcome:
    """Ask `role`'s model at its current tier for a `schema` reply; never raises on provider failure.

    `fenced`: the reply is prose and one code block, validated into `schema` (see `invoke_fenced`), not JSON.
    A call whose worst case would cross the dollar cap is not made (see `refusal`)."""
    from budgetmlagent.providers.chat import invoke_fenced, invoke_structured
    from budgetmlagent.providers.pricing import cost_usd

    lineup = ctx.lineup
    tiers = lineup.tiers(role)
    tier = state.get("tiers", {}).get(role, 0) if tier is None else tier
    tier = min(tier, len(tiers) - 1)
    spec = tiers[tier]
    ledger: Ledger = state.get("ledger") or Ledger()
    estimate = estimate_call(ctx, role, spec, schema, messages, max_output_tokens)
    refused = refusal(state, ctx, role, tier, estimate)
    if refused is not None:
        return refused
    left = time_left_s(state, ctx)
    if left <= 0:  # the routers check the clock between steps and retries; this covers a call inside a step
        return CallOutcome(None, out_of_time(role, spec, ctx), spec, tier, {"ledger": ledger})
    announce_call(role, spec, tier)
    started = time.monotonic()
    try:
        model = chat_model(spec, ctx, temperature_for(role, ctx, retry), estimate.max_output_tokens, left)
        invoke = invoke_fenced if fenced else invoke_structured
        reply = invoke(model, schema, messages, model_label=spec)
    except (ProviderError, LocalServerError, ModelNotInstalledError) as exc:
        # A local server that dies mid-run or a missing model file is a dead provider like any other: the cascade
        # moves on, and the run stops cleanly when no tier is left.
        seconds = time.monotonic() - started
        ledger = ledger.record(
            role=role, model=spec, tier=tier, input_tokens=0, output_tokens=0,
            seconds=seconds, cost_usd=0.0, ok=False,
        )  # fmt: skip
        error = f"provider error ({type(exc).__name__}): {exc}"
        if time_left_s(state, ctx) <= 0:  # cut by the run's deadline: not the provider's fault, no failure counted
            error = out_of_time(role, spec, ctx, cut=True)
        _trace_call(state, role, spec, tier, 0, 0, 0.0, seconds, error)
        return CallOutcome(None, error, spec, tier, {"ledger": ledger})  # nothing was bought: no lifeline spent
    dollars = cost_usd(spec, reply.input_tokens, reply.output_tokens)
    ledger = ledger.record(
        role=role, model=spec, tier=tier, input_tokens=reply.input_tokens,
        output_tokens=reply.output_tokens, seconds=reply.seconds, cost_usd=dollars,
        ok=reply.parsed is not None,
    )  # fmt: skip
    _trace_call(
        state, role, spec, tier, reply.input_tokens, reply.output_tokens, dollars, reply.seconds, reply.error,
        cached_tokens=reply.cached_tokens,
    )  # fmt: skip
    if dollars > estimate.worst_case_usd:  # the bound was wrong for this provider: say so, the cap may be at risk
        _trace_over_estimate(state, role, estimate, reply.input_tokens, reply.output_tokens, dollars)
    update = {"ledger": ledger, **_lifeline(state, ctx, role, tier)}
    return CallOutcome(reply.parsed, reply.error, spec, tier, update)


def out_of_time(role: str, spec: str, ctx: Context, cut: bool = False) -> str:
    """The error of a call the wall-clock cap stopped (`cut`: while it ran; otherwise before it started)."""
    how = "was cut when" if cut else "was not made:"
    return f"wall clock: the {role} call to {spec} {how} the run's {ctx.wall_clock_s:g} s were spent"


MODEL_CALL_STARTED = "model_call_started"  # a custom stream event; never written to trace.jsonl


def announce_call(role: str, spec: str, tier: int) -> None:
    """Tell a streaming caller (the CLI's status line) which model is about to answer; silent outside a stream."""
    from langgraph.config import get_stream_writer

    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run (unit tests of a node): nobody listens
        return
    writer({"type": MODEL_CALL_STARTED, "role": role, "model": spec, "tier": tier})


@dataclass(frozen=True)
class CallEstimate:
    """The most one call can bill, decided before it is made."""

    model: str
    input_token_bound: int
    max_output_tokens: int
    worst_case_usd: float


def message_texts(messages: list[BaseMessage]) -> list[str]:
    """Each message's content as text; a list of content blocks counts as its JSON (at least as many bytes)."""
    return [m.content if isinstance(m.content, str) else json.dumps(m.content, default=str) for m in messages]


def estimate_call(
    ctx: Context,
    role: str,
    spec: str,
    schema: type[BaseModel],
    messages: list[BaseMessage],
    max_output_tokens: int | None = None,
) -> CallEstimate:
    """Worst case of one structured call: the prompt and reply schema bounded in tokens, the call's max tokens
    (the role's, or the lower cap the caller set)."""
    from budgetmlagent.providers.pricing import input_token_bound, worst_case_cost_usd

    texts, schema_text = message_texts(messages), json.dumps(schema.model_json_schema())
    max_tokens = max_tokens_for(role, ctx)
    if max_output_tokens is not None:
        max_tokens = min(max_tokens, max_output_tokens)
    worst = worst_case_cost_usd(spec, texts, max_tokens, schema_text)
    return CallEstimate(spec, input_token_bound(texts, schema_text), max_tokens, worst)


def interrupted_cost_usd(run_dir: str | None) -> float:
    """Dollars of calls a kill cut off before their step was checkpointed: paid, but not in the ledger."""
    if not run_dir:
        return 0.0
    records = read_trace(run_dir, INTERRUPTED_TRACE)
    return sum(r.get("cost_usd") or 0.0 for r in records if r.get("type") == "llm_call")


def spent_usd(state: State) -> float:
    """Dollars this run has spent: the ledger, plus calls a resumed run's cut-off step already paid for."""
    ledger: Ledger = state.get("ledger") or Ledger()
    return ledger.cost_usd + interrupted_cost_usd(state.get("run_dir"))


def refusal(state: State, ctx: Context, role: str, tier: int, estimate: CallEstimate) -> CallOutcome | None:
    """The outcome of a call that must not be made (its worst case would cross the cap), else None.

    Checking the ledger after a call lets the call that crosses the cap through; bounding each call before
    it is made keeps every run's total at or under `budget_usd`. A free model's worst case is $0: never
    refused. The refusal sets the status to "budget", which routing and observe turn into a clean stop; it
    writes no llm_call record and no ledger entry (nothing was called, and resume pairs the two up).
    """
    spent = spent_usd(state)
    if estimate.worst_case_usd <= 0 or spent + estimate.worst_case_usd <= ctx.budget_usd:
        return None
    error = (
        f"budget: the {role} call to {estimate.model} was not made: its worst case ${estimate.worst_case_usd:.6f} "
        f"on top of ${spent:.6f} spent would exceed the ${ctx.budget_usd:.6f} cap"
    )
    append_trace(
        state.get("run_dir"),
        {
            "type": "budget_refused",
            "step": len(state.get("steps", [])) + 1,
            "role": role,
            "tier": tier,
            **asdict(estimate),
            "spent_usd": spent,
            "budget_usd": ctx.budget_usd,
            "error": error,
        },
    )
    ledger: Ledger = state.get("ledger") or Ledger()
    return CallOutcome(None, error, estimate.model, tier, {"ledger": ledger, "status": BUDGET_REFUSED})


def _trace_over_estimate(
    state: State, role: str, estimate: CallEstimate, input_tokens: int, output_tokens: int, dollars: float
) -> None:
    append_trace(
        state.get("run_dir"),
        {
            "type": "over_estimate",
            "step": len(state.get("steps", [])) + 1,
            "role": role,
            **asdict(estimate),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": dollars,
        },
    )


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
    *,
    cached_tokens: int = 0,
) -> None:
    """One model call in the trace; cached_tokens are the prompt tokens the server reused (prefix cache)."""
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
            "cached_tokens": cached_tokens,
            "cost_usd": dollars,
            "seconds": round(seconds, 3),
            "error": error,
        },
    )
