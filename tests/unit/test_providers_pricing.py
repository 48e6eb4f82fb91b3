"""Price table: arithmetic, snapshot names, unknown models, user overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budgetmlagent.providers.pricing import PRICES_ENV, PriceTable, UnknownPriceError, cost_usd
from budgetmlagent.providers.specs import parse_spec


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)


def test_builtin_table_is_dated_and_covers_paper_models() -> None:
    table = PriceTable.load()
    assert table.as_of[:2] == "20"
    for label in (
        "openai:gpt-4",
        "google_genai:gemini-1.0-pro",
        "google_genai:gemini-2.5-flash",
        "openai:gpt-4o-mini",
        "openai:gpt-5",
        "openai:o4-mini",
        "google_genai:gemini-2.5-pro",
    ):
        assert table.price_for(label).input_per_m > 0


def test_cost_arithmetic() -> None:
    table = PriceTable.load()
    # gpt-4 at the paper's list price: $30 / $60 per 1M tokens.
    assert table.cost_usd("openai:gpt-4", 1_000, 500) == pytest.approx(0.03 + 0.03)
    assert table.cost_usd(parse_spec("openai:gpt-4"), 0, 0) == 0.0
    assert cost_usd("openai:gpt-4", 2_000_000, 0) == pytest.approx(60.0)


def test_local_and_compatible_are_free() -> None:
    table = PriceTable.load()
    assert table.cost_usd("local:qwen2.5-coder-0.5b", 10_000, 10_000) == 0.0
    assert table.cost_usd("openai_compatible:llama3@http://localhost:8000/v1", 10_000, 10_000) == 0.0


def test_snapshot_names_bill_like_their_family_longest_match() -> None:
    table = PriceTable.load()
    assert table.price_for("openai:gpt-4o-2024-08-06") == table.price_for("openai:gpt-4o")
    assert table.price_for("openai:gpt-4o-mini-2024-07-18") == table.price_for("openai:gpt-4o-mini")
    assert table.price_for("google_genai:gemini-2.5-flash-preview-05-20") == table.price_for(
        "google_genai:gemini-2.5-flash"
    )


def test_unknown_api_model_raises_with_fix() -> None:
    with pytest.raises(UnknownPriceError) as info:
        PriceTable.load().price_for("openai:gpt-4-turbo")  # not billed like gpt-4 by accident
    assert PRICES_ENV in str(info.value)
    assert '"gpt-4-turbo"' in str(info.value)


def test_override_file_and_env_merge_over_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"models": {"openai": {"gpt-4-turbo": {"input": 10, "output": 30}}}}))
    explicit = tmp_path / "explicit.json"
    explicit.write_text(
        json.dumps(
            {
                "as_of": "2030-01-01",
                "models": {
                    "openai": {"gpt-4o": {"input": 1, "output": 2}},
                    "openai_compatible": {"llama3": {"input": 0.2, "output": 0.2}},
                },
            }
        )
    )
    monkeypatch.setenv(PRICES_ENV, str(env_file))
    table = PriceTable.load(explicit)
    assert table.cost_usd("openai:gpt-4-turbo", 1_000_000, 1_000_000) == pytest.approx(40.0)
    assert table.price_for("openai:gpt-4o").input_per_m == 1
    assert table.price_for("openai:gpt-4o").source == str(explicit)
    assert table.price_for("openai:gpt-4o-mini").input_per_m == pytest.approx(0.15)  # untouched
    assert table.price_for("openai_compatible:llama3@http://h/v1").input_per_m == pytest.approx(0.2)
    assert table.price_for("openai_compatible:other@http://h/v1").input_per_m == 0
    assert table.as_of == "2030-01-01"


def test_bad_override_is_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"models": {"openai": {"x": {"input": "cheap"}}}}))
    with pytest.raises(ValueError, match="numeric"):
        PriceTable.load(bad)
