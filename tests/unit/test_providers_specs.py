"""Model spec parsing: accepted forms round-trip, bad ones fail with the list of forms."""

from __future__ import annotations

import pytest

from budgetmlagent.providers.specs import ModelSpec, SpecError, parse_spec


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("google_genai:gemini-2.5-flash", ModelSpec("google_genai", "gemini-2.5-flash")),
        ("openai:gpt-4o-mini", ModelSpec("openai", "gpt-4o-mini")),
        ("local:qwen2.5-coder-0.5b", ModelSpec("local", "qwen2.5-coder-0.5b")),
        (
            "openai_compatible:llama3.1:8b@http://localhost:11434/v1/",
            ModelSpec("openai_compatible", "llama3.1:8b", "http://localhost:11434/v1"),
        ),
        ("  OpenAI:gpt-4.1 ", ModelSpec("openai", "gpt-4.1")),
    ],
)
def test_parse_accepted_forms_round_trip(text: str, spec: ModelSpec) -> None:
    parsed = parse_spec(text)
    assert parsed == spec
    assert parse_spec(parsed.label) == parsed
    assert str(parsed) == parsed.label


def test_label_is_canonical() -> None:
    assert ModelSpec("openai_compatible", "m", "https://x/v1").label == "openai_compatible:m@https://x/v1"
    assert ModelSpec("local", "qwen2.5-coder-1.5b").is_local


def test_parse_passes_spec_through() -> None:
    spec = ModelSpec("openai", "gpt-4o")
    assert parse_spec(spec) is spec


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("gpt-4o", "missing `provider:`"),
        ("anthropic:claude", "unknown provider"),
        ("openai:", "empty model"),
        ("openai_compatible:llama3", "needs `<model>@<base_url>`"),
        ("openai_compatible:llama3@localhost:8000", "must start with http"),
        ("openai:gpt-4o@http://x", "only for openai_compatible"),
        ("local:two words", "whitespace"),
    ],
)
def test_bad_specs_explain_and_list_forms(text: str, why: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    message = str(info.value)
    assert why in message
    for form in ("google_genai:<model>", "openai:<model>", "openai_compatible:<model>@<base_url>", "local:"):
        assert form in message
    assert isinstance(info.value, ValueError)
