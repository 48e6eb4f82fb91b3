"""Ledger: immutable updates, totals, per-model and per-role breakdowns."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from budgetmlagent.providers.chat import StructuredReply, TextReply
from budgetmlagent.providers.ledger import CallRecord, Ledger
from budgetmlagent.providers.pricing import PriceTable


def test_record_returns_new_ledger() -> None:
    empty = Ledger()
    one = empty.record("planner", "local:qwen2.5-coder-0.5b", input_tokens=100, output_tokens=20, seconds=1.5)
    assert empty.calls == []
    assert len(one.calls) == 1
    two = one.record("expert", "openai:gpt-4", tier=2, input_tokens=1000, output_tokens=500, cost_usd=0.06)
    assert len(one.calls) == 1 and len(two.calls) == 2
    assert two.cost_usd == pytest.approx(0.06)
    assert two.input_tokens == 1100 and two.output_tokens == 520
    assert two.seconds == pytest.approx(1.5)


def test_records_are_frozen_and_validated() -> None:
    call = CallRecord(role="coder", model="openai:gpt-4o")
    with pytest.raises(ValidationError):
        call.role = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        CallRecord(role="coder", model="m", input_tokens=-1)


def test_by_model_by_role_and_summary_json() -> None:
    ledger = (
        Ledger()
        .record("planner", "local:a", input_tokens=10, output_tokens=5, seconds=1.0)
        .record("planner", "local:a", input_tokens=20, output_tokens=5, seconds=2.0, ok=False)
        .record("coder", "openai:gpt-4o", tier=1, input_tokens=100, output_tokens=50, cost_usd=0.01)
    )
    by_model = ledger.by_model()
    assert by_model["local:a"] == {
        "calls": 2,
        "failed_calls": 1,
        "input_tokens": 30,
        "output_tokens": 10,
        "cost_usd": 0.0,
        "seconds": 3.0,
    }
    assert by_model["openai:gpt-4o"]["cost_usd"] == pytest.approx(0.01)
    assert ledger.by_role()["planner"]["calls"] == 2
    summary = json.loads(json.dumps(ledger.summary()))
    assert summary["calls"] == 3 and summary["failed_calls"] == 1
    assert summary["input_tokens"] == 130
    assert set(summary["by_model"]) == {"local:a", "openai:gpt-4o"}


def test_round_trips_through_json_for_graph_state() -> None:
    ledger = Ledger().record("planner", "local:a", input_tokens=3)
    again = Ledger.model_validate_json(ledger.model_dump_json())
    assert again == ledger


def test_record_reply_prices_structured_and_text_replies() -> None:
    table = PriceTable.load()
    bad = StructuredReply(
        parsed=None, error="not JSON", input_tokens=1000, output_tokens=1000, seconds=2.0, model="openai:gpt-4"
    )
    text = TextReply(content="hi", input_tokens=10, output_tokens=1, seconds=0.5, model="local:qwen2.5-coder-0.5b")
    ledger = Ledger().record_reply("planner", bad, tier=1, prices=table).record_reply("reflection", text)
    first, second = ledger.calls
    assert first.ok is False and first.tier == 1
    assert first.cost_usd == pytest.approx(0.03 + 0.06)
    assert second.ok is True and second.cost_usd == 0.0
    assert ledger.merge(ledger).input_tokens == 2 * ledger.input_tokens
