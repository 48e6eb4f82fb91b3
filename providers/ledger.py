"""Immutable ledger of model calls (tokens, seconds, dollars) that lives in the graph state."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from budgetmlagent.providers.pricing import PriceTable, default_prices


class _Reply(Protocol):
    model: str
    input_tokens: int
    output_tokens: int
    seconds: float


class CallRecord(BaseModel):
    """One model call: who asked, which model at which cascade tier, what it consumed."""

    model_config = ConfigDict(frozen=True)

    role: str
    model: str
    tier: int = 0
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    seconds: float = Field(default=0.0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    ok: bool = True


def _totals(calls: list[CallRecord]) -> dict[str, Any]:
    return {
        "calls": len(calls),
        "failed_calls": sum(not c.ok for c in calls),
        "input_tokens": sum(c.input_tokens for c in calls),
        "output_tokens": sum(c.output_tokens for c in calls),
        "cost_usd": round(sum(c.cost_usd for c in calls), 8),
        "seconds": round(sum(c.seconds for c in calls), 3),
    }


class Ledger(BaseModel):
    """All calls of a run; `record` returns a new Ledger (LangGraph state must not be mutated in place)."""

    model_config = ConfigDict(frozen=True)

    calls: list[CallRecord] = Field(default_factory=list)

    def add(self, call: CallRecord) -> Ledger:
        """New ledger with `call` appended."""
        return Ledger(calls=[*self.calls, call])

    def record(
        self,
        role: str,
        model: str,
        *,
        tier: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        seconds: float = 0.0,
        cost_usd: float = 0.0,
        ok: bool = True,
    ) -> Ledger:
        """New ledger with one more call."""
        return self.add(
            CallRecord(
                role=role,
                model=model,
                tier=tier,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                seconds=seconds,
                cost_usd=cost_usd,
                ok=ok,
            )
        )

    def record_reply(
        self,
        role: str,
        reply: _Reply,
        *,
        tier: int = 0,
        ok: bool | None = None,
        prices: PriceTable | None = None,
    ) -> Ledger:
        """New ledger with a StructuredReply/TextReply priced from the table (ok: `not reply.error`)."""
        table = prices or default_prices()
        cost = table.cost_usd(reply.model, reply.input_tokens, reply.output_tokens)
        good = ok if ok is not None else not getattr(reply, "error", None)
        return self.record(
            role,
            reply.model,
            tier=tier,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            seconds=reply.seconds,
            cost_usd=cost,
            ok=good,
        )

    def merge(self, other: Ledger) -> Ledger:
        """Both ledgers' calls in order (e.g. joining parallel branches)."""
        return Ledger(calls=[*self.calls, *other.calls])

    @property
    def cost_usd(self) -> float:
        """Dollars spent."""
        return sum(c.cost_usd for c in self.calls)

    @property
    def input_tokens(self) -> int:
        """Prompt tokens across all calls."""
        return sum(c.input_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        """Completion tokens across all calls."""
        return sum(c.output_tokens for c in self.calls)

    @property
    def seconds(self) -> float:
        """Wall seconds spent waiting on models."""
        return sum(c.seconds for c in self.calls)

    def by_model(self) -> dict[str, dict[str, Any]]:
        """Totals per model label: calls, failed_calls, input_tokens, output_tokens, cost_usd, seconds."""
        groups: dict[str, list[CallRecord]] = {}
        for c in self.calls:
            groups.setdefault(c.model, []).append(c)
        return {model: _totals(calls) for model, calls in groups.items()}

    def by_role(self) -> dict[str, dict[str, Any]]:
        """Totals per role (planner, coder, debugger, expert, ...)."""
        groups: dict[str, list[CallRecord]] = {}
        for c in self.calls:
            groups.setdefault(c.role, []).append(c)
        return {role: _totals(calls) for role, calls in groups.items()}

    def summary(self) -> dict[str, Any]:
        """JSON-ready totals for result.json, with per-model and per-role breakdowns."""
        return {**_totals(self.calls), "by_model": self.by_model(), "by_role": self.by_role()}
