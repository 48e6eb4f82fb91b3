"""Named model line-ups: which model answers each role, in cascade order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelLineup:
    """Cascade tiers per role (cheapest first), the worker model and the expert."""

    planner: tuple[str, ...]
    coder: tuple[str, ...]
    debugger: tuple[str, ...]
    worker: str
    expert: str | None

    def tiers(self, role: str) -> tuple[str, ...]:
        """Cascade of a role; workers and the expert have one tier."""
        if role in ("planner", "coder", "debugger"):
            return getattr(self, role)
        model = self.expert if role == "expert" else self.worker
        return (model,) if model else ()

    def spends_lifeline(self, role: str, tier: int) -> bool:
        """Expert calls and escalated calls to the top of a cascade share the lifeline count (paper)."""
        tiers = self.tiers(role)
        return role == "expert" or (len(tiers) > 1 and tier == len(tiers) - 1)


LOCAL_BASE = "local:qwen2.5-coder-0.5b"
LOCAL_TOP = "local:qwen2.5-coder-1.5b"
PAPER_BASE = "google_genai:gemini-2.5-flash-lite"
PAPER_TOP = "openai:gpt-4o"

PRESETS: dict[str, ModelLineup] = {
    # Offline default. The 0.5B keeps the JSON format but plans badly; the 1.5B plans sensibly, so it
    # is the cascade top and the expert. Code is written by the 1.5B first: the 0.5B's edits break
    # pipelines (OFFLINE.md), and a broken edit costs a script run plus debugging.
    "local": ModelLineup(
        planner=(LOCAL_BASE, LOCAL_TOP),
        coder=(LOCAL_TOP,),
        debugger=(LOCAL_TOP,),
        worker=LOCAL_BASE,
        expert=LOCAL_TOP,
    ),
    # The paper's pairing: a cheap Gemini model as base, an OpenAI model as cascade top and expert.
    "paper": ModelLineup(
        planner=(PAPER_BASE, PAPER_TOP),
        coder=(PAPER_BASE, PAPER_TOP),
        debugger=(PAPER_BASE, PAPER_TOP),
        worker=PAPER_BASE,
        expert=PAPER_TOP,
    ),
}


class PresetError(ValueError):
    """An unknown preset name."""


def resolve_preset(name: str) -> ModelLineup:
    """`local`, `paper` or `single:<spec>` (one model everywhere: no cascade, no expert)."""
    if name.startswith("single:"):
        spec = name.removeprefix("single:")
        if not spec:
            raise PresetError("single:<spec> needs a model spec, e.g. single:local:qwen2.5-coder-1.5b")
        return ModelLineup(planner=(spec,), coder=(spec,), debugger=(spec,), worker=spec, expert=None)
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join([*PRESETS, "single:<spec>"])
        raise PresetError(f"unknown preset {name!r}; choose one of: {known}") from None
