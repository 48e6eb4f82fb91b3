"""Dated price table turning token counts into dollars, with a user override file."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from budgetmlagent.providers.specs import ModelSpec, parse_spec

PRICES_ENV = "BUDGETMLAGENT_PRICES"
BUILTIN_PRICES = Path(__file__).with_name("prices.json")
# Dated snapshots and previews bill like their family: gpt-4o-2024-08-06, gemini-2.5-flash-preview-05-20.
_SNAPSHOT_SUFFIX = re.compile(r"^-(\d|latest|preview|exp)")


class UnknownPriceError(KeyError):
    """An API model with no price in the table (cost accounting must not silently say $0)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown price"


@dataclass(frozen=True)
class Price:
    """USD per 1M input and output tokens, and where the figure came from."""

    input_per_m: float
    output_per_m: float
    source: str = "builtin"

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Dollars for one call."""
        return (input_tokens * self.input_per_m + output_tokens * self.output_per_m) / 1_000_000


def _entries(data: dict[str, Any], origin: str) -> dict[str, dict[str, Price]]:
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise ValueError(f"{origin}: `models` must map provider -> model -> {{input, output}}")
    out: dict[str, dict[str, Price]] = {}
    for provider, table in models.items():
        for model, p in table.items():
            try:
                price = Price(float(p["input"]), float(p["output"]), origin)
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{origin}: {provider}:{model} needs numeric `input` and `output`") from exc
            out.setdefault(provider, {})[model] = price
    return out


@dataclass(frozen=True)
class PriceTable:
    """Prices per provider and model; `as_of` dates the built-in list prices."""

    prices: dict[str, dict[str, Price]]
    as_of: str
    sources: tuple[str, ...] = field(default=())

    @classmethod
    def load(cls, override: Path | None = None) -> PriceTable:
        """Built-in table, then $BUDGETMLAGENT_PRICES, then `override`; later files win per model."""
        data = json.loads(BUILTIN_PRICES.read_text(encoding="utf-8"))
        prices = _entries(data, f"builtin {data.get('as_of', '?')}")
        as_of = str(data.get("as_of", "unknown"))
        sources = [str(BUILTIN_PRICES)]
        for path in [Path(p) for p in (os.environ.get(PRICES_ENV), override) if p]:
            path = path.expanduser()
            try:
                extra = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ValueError(f"cannot read price override {path}: {exc}") from exc
            for provider, table in _entries(extra, str(path)).items():
                prices.setdefault(provider, {}).update(table)
            as_of = str(extra.get("as_of", as_of))
            sources.append(str(path))
        return cls(prices=prices, as_of=as_of, sources=tuple(sources))

    def price_for(self, spec: ModelSpec | str) -> Price:
        """Price of a model; unknown API models raise UnknownPriceError with the fix."""
        spec = parse_spec(spec)
        table = self.prices.get(spec.provider, {})
        if spec.model in table:
            return table[spec.model]
        family = max(
            (m for m in table if spec.model.startswith(m) and _SNAPSHOT_SUFFIX.match(spec.model[len(m) :])),
            key=len,
            default=None,
        )
        if family is not None:
            return table[family]
        if "*" in table:
            return table["*"]
        known = ", ".join(sorted(table)) or "(none)"
        pair = '{"input": <USD/1M>, "output": <USD/1M>}'
        entry = f'{{"models": {{"{spec.provider}": {{"{spec.model}": {pair}}}}}}}'
        raise UnknownPriceError(
            f"no price for {spec.label} (known {spec.provider} models: {known}). "
            f"Add it to a JSON file {entry} and point ${PRICES_ENV} at it."
        )

    def cost_usd(self, spec: ModelSpec | str, input_tokens: int, output_tokens: int) -> float:
        """Dollars for one call of `spec`."""
        return self.price_for(spec).cost(input_tokens, output_tokens)


@lru_cache(maxsize=1)
def _default_table(env_value: str | None) -> PriceTable:
    return PriceTable.load()


def default_prices() -> PriceTable:
    """The table for the current $BUDGETMLAGENT_PRICES (cached per value)."""
    return _default_table(os.environ.get(PRICES_ENV))


def price_for(spec: ModelSpec | str) -> Price:
    """Price of `spec` from the default table."""
    return default_prices().price_for(spec)


def cost_usd(spec: ModelSpec | str, input_tokens: int, output_tokens: int) -> float:
    """Dollars for one call of `spec` from the default table."""
    return default_prices().cost_usd(spec, input_tokens, output_tokens)


# Worst-case input tokens of a prompt, before the call. Every tokenizer we price is byte-level BPE (GPT-2,
# cl100k/o200k, Llama 3, Qwen2) or SentencePiece with byte fallback (Gemini, Gemma): encoding starts from at
# most one token per UTF-8 byte and merges only ever join neighbours, so a text of n bytes is at most n
# tokens. What the bytes do not cover is the chat template (role markers, separators, reply priming:
# OpenAI documents 3-4 tokens per message and 3 per reply; SentencePiece may add one prefix token per text),
# so each message and each call get a generous fixed allowance on top.
MESSAGE_OVERHEAD_TOKENS = 16
CALL_OVERHEAD_TOKENS = 16


def input_token_bound(message_texts: list[str], schema_text: str = "") -> int:
    """An upper bound on the input tokens a provider can bill for these messages.

    `schema_text` is the reply's JSON schema: structured-output APIs put it in front of the model and bill it
    as input, so it is bounded like one more message."""
    texts = [*message_texts, schema_text] if schema_text else message_texts
    return CALL_OVERHEAD_TOKENS + sum(len(text.encode("utf-8")) + MESSAGE_OVERHEAD_TOKENS for text in texts)


def worst_case_cost_usd(
    spec: ModelSpec | str, message_texts: list[str], max_output_tokens: int, schema_text: str = ""
) -> float:
    """The most one call can cost: every input token the prompt can make, and the full output allowance.

    The output bound is the call's max tokens. OpenAI reasoning models (o*, gpt-5) count their reasoning
    tokens inside max_completion_tokens, so it holds for them. Gemini's documentation describes the thinking
    budget as separate from max_output_tokens (observed behaviour caps both together, see
    googleapis/python-genai#2062): a Gemini thinking model (2.5 flash/pro with thinking on) could bill
    thinking tokens beyond this bound. The paper preset's base, gemini-2.5-flash-lite, does not think
    unless asked to.
    """
    bound = input_token_bound(message_texts, schema_text)
    return price_for(spec).cost(bound, max(0, max_output_tokens))
