"""Model specs: the one-line strings that name a provider and a model (`local:qwen2.5-coder-0.5b`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

Provider = Literal["google_genai", "openai", "openai_compatible", "local"]
PROVIDERS: tuple[str, ...] = get_args(Provider)

SPEC_FORMS = (
    "  google_genai:<model>                 e.g. google_genai:gemini-2.5-flash (key: GOOGLE_API_KEY)\n"
    "  openai:<model>                       e.g. openai:gpt-4o-mini (key: OPENAI_API_KEY)\n"
    "  openai_compatible:<model>@<base_url> e.g. openai_compatible:llama3@http://localhost:11434/v1\n"
    '                                       (key: OPENAI_COMPATIBLE_API_KEY, default "none")\n'
    "  local:<catalogue name>               e.g. local:qwen2.5-coder-0.5b (see `budgetmlagent models`)"
)


class SpecError(ValueError):
    """A model spec string that does not follow one of the accepted forms."""


@dataclass(frozen=True)
class ModelSpec:
    """A provider plus a model name (plus a base URL for OpenAI-compatible servers)."""

    provider: Provider
    model: str
    base_url: str | None = None

    @property
    def label(self) -> str:
        """Canonical spec string; `parse_spec(spec.label) == spec`."""
        if self.provider == "openai_compatible":
            return f"{self.provider}:{self.model}@{self.base_url}"
        return f"{self.provider}:{self.model}"

    @property
    def is_local(self) -> bool:
        """Runs on this machine through the managed llama.cpp server."""
        return self.provider == "local"

    def __str__(self) -> str:
        return self.label


def _fail(text: str, why: str) -> SpecError:
    return SpecError(f"invalid model spec {text!r}: {why}. Accepted forms:\n{SPEC_FORMS}")


def parse_spec(text: str | ModelSpec) -> ModelSpec:
    """Parse `provider:model[@base_url]` into a ModelSpec, raising SpecError that lists the accepted forms."""
    if isinstance(text, ModelSpec):
        return text
    raw = text.strip() if isinstance(text, str) else ""
    provider, sep, rest = raw.partition(":")
    provider = provider.strip().lower()
    if not sep:
        raise _fail(text, "missing `provider:` prefix")
    if provider not in PROVIDERS:
        raise _fail(text, f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
    rest = rest.strip()
    base_url: str | None = None
    if provider == "openai_compatible":
        model, at, base_url = rest.partition("@")
        model, base_url = model.strip(), base_url.strip().rstrip("/")
        if not at or not base_url:
            raise _fail(text, "openai_compatible needs `<model>@<base_url>`")
        if not base_url.startswith(("http://", "https://")):
            raise _fail(text, f"base_url {base_url!r} must start with http:// or https://")
    else:
        model = rest
        if "@" in model:
            raise _fail(text, f"`@<base_url>` is only for openai_compatible, not {provider}")
    if not model:
        raise _fail(text, "empty model name")
    if any(c.isspace() for c in model):
        raise _fail(text, "model name contains whitespace")
    return ModelSpec(provider=cast(Provider, provider), model=model, base_url=base_url)
