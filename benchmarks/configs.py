"""The paper's agent configurations (Table 2), expressed as runtime Context settings over a preset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from budgetmlagent.runtime.presets import resolve_preset

RETRIEVAL_SUFFIX = "+R"
BASE_CONFIGS = ("recipes-only", "single-base", "single-expert", "cascade", "cascade+expert")
CONFIG_HELP = {
    "recipes-only": "no model at all: the offered recipes in order, each its own code, kept when measured better",
    "single-base": "the preset's cheapest model in every role; no cascade, no expert",
    "single-expert": "the preset's strongest model in every role; no cascade, no expert",
    "cascade": "the preset's cascades (cheap first, escalate on failure); no expert",
    "cascade+expert": "cascades plus the Ask Expert lifelines (BudgetMLAgent)",
}
DEFAULT_CONFIGS = ("single-base", "single-expert", "cascade+expert")


class ConfigError(ValueError):
    """An unknown configuration name."""


@dataclass(frozen=True)
class BenchConfig:
    """One named configuration: which base configuration, and whether retrieval is on."""

    name: str
    base: str
    retrieval: bool

    def context_settings(self, preset: str) -> dict[str, Any]:
        """Context fields that realise this configuration on top of `preset`."""
        lineup = resolve_preset(preset)
        cheapest, strongest = lineup.planner[0], lineup.planner[-1]
        # A sweep never reads or writes the user's experience store: `--set use_experience=true` with
        # `--set experience_dir=...` measures it (the overrides come after these settings).
        settings: dict[str, Any] = {"use_retrieval": self.retrieval, "use_experience": False}
        if self.base == "recipes-only":
            settings |= {"preset": preset, "use_expert": False, "use_cascade": False, "recipes_only": True}
        elif self.base == "single-base":
            settings |= {"preset": f"single:{cheapest}", "use_expert": False, "use_cascade": False}
        elif self.base == "single-expert":
            settings |= {"preset": f"single:{strongest}", "use_expert": False, "use_cascade": False}
        elif self.base == "cascade":
            settings |= {"preset": preset, "use_expert": False, "use_cascade": True}
        else:
            settings |= {"preset": preset, "use_expert": True, "use_cascade": True}
        return settings


def parse_config(name: str) -> BenchConfig:
    """`cascade+expert+R` -> BenchConfig(base="cascade+expert", retrieval=True)."""
    base = name.removesuffix(RETRIEVAL_SUFFIX)
    if base not in BASE_CONFIGS:
        known = ", ".join(BASE_CONFIGS)
        raise ConfigError(f"unknown configuration {name!r}; choose from {known}, each optionally with '+R'")
    return BenchConfig(name=name, base=base, retrieval=name.endswith(RETRIEVAL_SUFFIX))
