"""Runtime settings of a run (LangGraph `context_schema`): models, cascade, budgets and limits."""

from __future__ import annotations

import difflib
import functools
import json
import math
import os
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

from pydantic import Field as PydanticField

from budgetmlagent.runtime.presets import ModelLineup, resolve_preset


def _default_cache() -> str:
    return os.environ.get("BUDGETMLAGENT_CACHE", str(Path.home() / ".cache" / "budgetmlagent"))


# LangGraph Studio shows fields annotated with this as model pickers (the LangGraph templates' habit); the
# pydantic form puts the same mark into the context JSON schema the server publishes.
_LLM_MARK = {"__template_metadata__": {"kind": "llm"}}
LLM_FIELD = PydanticField(json_schema_extra=_LLM_MARK)


@dataclass(kw_only=True)
class Context:
    """Settings a caller passes as `graph.invoke(inputs, context=Context(...))`."""

    preset: str = field(
        default="local",
        metadata={"description": "Model line-up: `local` (offline), `paper`, or `single:<spec>`."},
    )
    planner_models: Annotated[list[str] | None, LLM_FIELD] = field(
        default=None, metadata={"description": "Override the planner cascade (model specs, cheapest first)."}
    )
    coder_models: Annotated[list[str] | None, LLM_FIELD] = field(
        default=None, metadata={"description": "Override the coder cascade (model specs, cheapest first)."}
    )
    debugger_models: Annotated[list[str] | None, LLM_FIELD] = field(
        default=None, metadata={"description": "Override the debugger cascade (model specs, cheapest first)."}
    )
    worker_model: Annotated[str | None, LLM_FIELD] = field(
        default=None, metadata={"description": "Override the worker model (a spec such as local:qwen2.5-coder-0.5b)."}
    )
    expert_model: Annotated[str | None, LLM_FIELD] = field(
        default=None, metadata={"description": "Override the expert model (a spec such as openai:gpt-4o)."}
    )
    tries_per_tier: list[int] = field(
        default_factory=lambda: [3, 1],
        metadata={"description": "m: invalid replies tolerated per tier before escalating (last value repeats)."},
    )
    repeat_limit: int = field(
        default=3, metadata={"description": "r: the same action this many times in a row escalates."}
    )
    lifelines: int = field(
        default=5, metadata={"description": "l: expensive calls (expert + top-tier escalations) per run."}
    )
    max_steps: int = field(default=30, metadata={"description": "Step cap (actions) per run."})
    planner_reply: Literal["short", "full"] = field(
        default="short",
        metadata={
            "description": "The planner's reply format: `short` (plan, thought, action: about a third of the tokens) "
            "or `full` (MLAgentBench's reflection, plan, fact check, thought, action)."
        },
    )
    target_improvement: float = field(
        default=0.0,
        metadata={
            "description": "Stop once the best validation metric beats the baseline's by this fraction (0.12 = +12 %); "
            "0 = off, the run goes on to its caps. The hidden test score never steers."
        },
    )
    budget_usd: float = field(default=2.0, metadata={"description": "Dollar cap per run."})
    wall_clock_s: float = field(default=3 * 3600, metadata={"description": "Wall-clock cap per run."})
    script_timeout_s: float = field(default=600, metadata={"description": "Timeout of one script run."})
    script_memory_mb: int = field(default=4096, metadata={"description": "Address-space limit of scripts."})
    debug_attempts: int = field(
        default=3, metadata={"description": "Fixes the debugger may try after one failed script run."}
    )
    debugger_escalate_after: int = field(
        default=2, metadata={"description": "k: failed fixes before the debugger escalates a tier."}
    )
    coder_escalate_after: int = field(
        default=2, metadata={"description": "Edits that broke the script before the coder escalates."}
    )
    retrieval_k: int = field(default=3, metadata={"description": "Older steps retrieved into the prompt."})
    planning_temperature: float = field(
        default=0.2, metadata={"description": "Temperature of planner and expert calls (the paper's 0.2)."}
    )
    retry_temperature: float = field(
        default=0.8,
        metadata={
            "description": "Temperature of a planner call right after a rejected reply and of debugger attempts after "
            "the first: resample instead of repeating a failure."
        },
    )
    worker_temperature: float = field(
        default=0.01, metadata={"description": "Temperature of coder, debugger and worker calls (the paper's 0.01)."}
    )
    max_output_tokens: int = field(default=700, metadata={"description": "Planner/worker reply cap."})
    code_output_tokens: int = field(default=2500, metadata={"description": "Coder/debugger reply cap."})
    use_retrieval: bool = field(default=True, metadata={"description": "Retrieve older steps (Chroma)."})
    use_expert: bool = field(default=True, metadata={"description": "Offer the Ask Expert lifeline."})
    use_cascade: bool = field(default=True, metadata={"description": "Escalate to stronger tiers."})
    stall_steps: int = field(
        default=3,
        metadata={
            "description": "k: steps without a better validation metric after which the scaffold asks the expert "
            "(a lifeline); 0: only when the planner asks."
        },
    )
    recipes_first: bool = field(
        default=True,
        metadata={
            "description": "The scaffold takes the offered recipes first, each as its own code with no model call, "
            "kept when measured better; the planner takes over once each was tried (a recipe whose code did not "
            "fit stays offered to it)."
        },
    )
    keep_improving: bool = field(
        default=True,
        metadata={
            "description": "Offer Final Answer only once k steps brought no better validation metric (or near the "
            "step cap): a run that still improves goes on, and ends on its best version."
        },
    )
    recipes_only: bool = field(
        default=False,
        metadata={
            "description": "Call no model (the baseline the models must beat): take the offered recipes in order, "
            "each written as its own code, run and measured; a version no better than the best is reverted."
        },
    )
    # The verification-first scaffold; each piece can be switched off to measure what it buys.
    use_measured_edits: bool = field(
        default=True,
        metadata={"description": "Read the validation metric every run prints; compare it with the best so far."},
    )
    use_best_snapshot: bool = field(
        default=True,
        metadata={"description": "Snapshot the best validated workspace; offer Revert To Best; restore it at the end."},
    )
    use_grounding_checks: bool = field(
        default=True,
        metadata={"description": "Give coder/debugger the data schema; reject edits naming missing columns or files."},
    )
    use_validity_checks: bool = field(
        default=True,
        metadata={"description": "Reject improvement claims no measured metric backs, and unverified Final Answers."},
    )
    use_whole_file_edits: bool = field(
        default=True,
        metadata={"description": "Coder rewrites short scripts whole, even for a segment edit (no fragment splices)."},
    )
    use_briefing: bool = field(
        default=True,
        metadata={"description": "Show the planner the data schema and the numbered main script, so it edits at once."},
    )
    use_recipes: bool = field(
        default=True,
        metadata={
            "description": "Offer the planner ready edit instructions that fit the data and script (encode text "
            "columns, gradient boosting, TF-IDF) and show the coder the code shape of the one it picks."
        },
    )
    use_known_fixes: bool = field(
        default=True,
        metadata={
            "description": "Fix errors whose cure the traceback shows (test features one-hot encoded unlike the "
            "training features) without a debugger model call."
        },
    )
    use_fenced_code: bool = field(
        default=True,
        metadata={
            "description": "Coder and debugger reply in plain text with the script in one ```python block, not as "
            "a JSON string (the local 1.5B cut JSON-escaped scripts short)."
        },
    )
    use_task_declarations: bool = field(
        default=True,
        metadata={
            "description": "Read the task's scripts/budgetmlagent.json; false ignores it, so metric, direction and "
            "validation line are found as for a folder nobody wrote one for (the generality measurement)."
        },
    )
    require_approval: bool = field(
        default=False,
        metadata={"description": "Pause for a person before any script runs and before Final Answer (interrupt)."},
    )
    use_stuck_detection: bool = field(
        default=True,
        metadata={"description": "Escalate on the same action with the same observation; without it, same action."},
    )
    escalate_on_no_gain: bool = field(
        default=True,
        metadata={
            "description": "A cheap-tier edit that broke the script or measured no gain over the best so far fails "
            "verification: the next plan comes from the tier above (a lifeline, as any escalation to the top)."
        },
    )
    memory_dir: str = field(
        default_factory=lambda: str(Path(_default_cache()) / "memory"),
        metadata={"description": "Chroma store shared by runs (long-term memory)."},
    )
    use_experience: bool = field(
        default=True,
        metadata={
            "description": "Learn across runs: after every measured change and at the end, a record goes to the "
            "experience store; at the start (and on a stall) the changes that measured a gain on the most similar "
            "tasks are offered, and taken first as their own code where they fit. Off in `bench` configurations."
        },
    )
    experience_dir: str = field(
        default_factory=lambda: str(Path(_default_cache()) / "experience"),
        metadata={"description": "The experience store (plain JSON records and a Chroma index), one per user."},
    )
    experience_max_records: int = field(
        default=10_000,
        metadata={"description": "Records the experience store keeps; past it the least useful, oldest go first."},
    )
    experience_k: int = field(
        default=5, metadata={"description": "Learned changes offered to a run (the same task's first)."}
    )
    runs_dir: str = field(default="runs", metadata={"description": "Where run folders are created."})
    cache_dir: str = field(
        default_factory=_default_cache, metadata={"description": "Baseline-score cache and the like."}
    )
    seed: int = field(default=0, metadata={"description": "Run seed (recorded; benchmark repeats use 0..N-1)."})
    # (spec, temperature, max_tokens) -> chat model. Typed Any: a callable has no JSON schema for Studio.
    chat_model_factory: Any = field(
        default=None, metadata={"description": "Testing hook: build chat models from specs."}
    )

    def __post_init__(self) -> None:
        # Precedence: a value the caller passed > BUDGETMLAGENT_<NAME> > the default. A passed value wins even
        # when it equals the default (`--max-steps 30` beats BUDGETMLAGENT_MAX_STEPS=10).
        explicit = getattr(self, "_explicit", frozenset())
        for f in fields(self):
            variable = f"BUDGETMLAGENT_{f.name.upper()}"
            env = os.environ.get(variable)
            if env is None or f.name in _NOT_SETTABLE or f.name in explicit:
                continue
            try:
                setattr(self, f.name, coerce_setting(f.name, env))
            except ValueError as exc:
                raise ValueError(f"${variable}={env!r}: {exc}; fix or unset the variable") from None

    @property
    def lineup(self) -> ModelLineup:
        base = resolve_preset(self.preset)
        planner = tuple(self.planner_models or base.planner)
        coder = tuple(self.coder_models or base.coder)
        debugger = tuple(self.debugger_models or base.debugger)
        if not self.use_cascade:
            planner, coder, debugger = planner[:1], coder[:1], debugger[:1]
        worker = self.worker_model or base.worker
        return ModelLineup(planner, coder, debugger, worker, self.expert_model or base.expert)

    @property
    def expert_enabled(self) -> bool:
        return self.use_expert and not self.recipes_only and self.lineup.expert is not None

    def tries_at(self, tier: int) -> int:
        return self.tries_per_tier[min(tier, len(self.tries_per_tier) - 1)]

    def public_dict(self) -> dict[str, Any]:
        """Settings as JSON-able values (config.json)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "chat_model_factory"}
        lineup = self.lineup
        out["models"] = {role: list(lineup.tiers(role)) for role in ("planner", "coder", "debugger")}
        out["models"] |= {"worker": lineup.worker, "expert": lineup.expert if self.expert_enabled else None}
        return out


def _recording_explicit(init: Any) -> Any:
    """Wrap the dataclass __init__ so __post_init__ knows which settings the caller named."""

    @functools.wraps(init)
    def __init__(self: Context, **settings: Any) -> None:
        object.__setattr__(self, "_explicit", frozenset(settings))
        init(self, **settings)

    return __init__


Context.__init__ = _recording_explicit(Context.__init__)  # type: ignore[method-assign]


# Fields a user may set by name from the command line (`--set name=value`); the test hook is not one.
_NOT_SETTABLE = {"chat_model_factory"}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_NONE = ("", "none", "null")


@cache
def _field_types() -> dict[str, Any]:
    return get_type_hints(Context)


def coerce_setting(name: str, text: str) -> Any:
    """The typed value of a setting written as text (`--set`, environment); ValueError says what was expected.

    Lists are `a,b` or JSON (`["a", "b"]`); an optional setting (the model overrides) takes `none` for
    "from the preset"."""
    return _coerce(text.strip(), _field_types()[name])


def _coerce(text: str, kind: Any) -> Any:
    options = get_args(kind) if get_origin(kind) in (Union, UnionType) else ()
    if options:  # `X | None`
        if text.lower() in _NONE:
            return None
        kind = next(option for option in options if option is not type(None))
    if get_origin(kind) is list:
        return [_coerce(item, get_args(kind)[0]) for item in _list_items(text)]
    if kind is bool:
        if text.lower() not in _TRUE + _FALSE:
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() in _TRUE
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected a whole number, got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    return text


def _list_items(text: str) -> list[str]:
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f'{text!r} is not a JSON list ({exc.msg}); write a,b or ["a", "b"]') from None
        if not isinstance(items, list) or not all(isinstance(i, (str, int, float)) for i in items):
            raise ValueError(f"{text!r} must be a flat list of values")
        return [str(i) for i in items]
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """`["use_best_snapshot=false", "lifelines=3"]` -> typed Context overrides; ValueError names the problem."""
    known = sorted({f.name for f in fields(Context)} - _NOT_SETTABLE)
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            guess = f" (did you mean {close[0]}?)" if close else ""
            hint = f"unknown setting {name!r}{guess}; " if sep else ""
            raise ValueError(f"--set {pair!r}: {hint}expected NAME=VALUE with NAME one of: {', '.join(known)}")
        try:
            out[name] = coerce_setting(name, text)
        except ValueError as exc:
            raise ValueError(f"--set {pair!r}: {exc}") from None
    return out


# Bounds a usable run needs, checked before a run starts (`settings_problems`); Studio and tests may build
# any Context, the CLI refuses these with one line.
_AT_LEAST_ONE = (
    "max_steps", "repeat_limit", "max_output_tokens", "code_output_tokens", "script_memory_mb",
    "experience_max_records",
)  # fmt: skip
_NOT_NEGATIVE = (
    "lifelines", "debug_attempts", "debugger_escalate_after", "coder_escalate_after", "retrieval_k", "experience_k",
)  # fmt: skip
_POSITIVE = ("budget_usd", "wall_clock_s", "script_timeout_s")
_TEMPERATURES = ("planning_temperature", "retry_temperature", "worker_temperature")


def settings_problems(ctx: Context) -> list[str]:
    """What makes these settings unusable for a run, each as `name=value: what it must be`; empty when fine."""
    problems = [f"{n}={getattr(ctx, n)}: must be 1 or more" for n in _AT_LEAST_ONE if getattr(ctx, n) < 1]
    problems += [f"{n}={getattr(ctx, n)}: must be 0 or more" for n in _NOT_NEGATIVE if getattr(ctx, n) < 0]
    problems += [
        f"{n}={getattr(ctx, n)}: must be a number above 0"
        for n in _POSITIVE
        if not (math.isfinite(getattr(ctx, n)) and getattr(ctx, n) > 0)
    ]
    problems += [
        f"{n}={getattr(ctx, n)}: must be between 0 and 2"
        for n in _TEMPERATURES
        if not 0 <= getattr(ctx, n) <= 2  # NaN fails this too
    ]
    if not ctx.tries_per_tier or min(ctx.tries_per_tier) < 1:
        problems.append(f"tries_per_tier={ctx.tries_per_tier}: must list one or more counts, each 1 or more")
    if ctx.planner_reply not in ("short", "full"):
        problems.append(f"planner_reply={ctx.planner_reply}: must be short or full")
    if not (math.isfinite(ctx.target_improvement) and ctx.target_improvement >= 0):
        problems.append(f"target_improvement={ctx.target_improvement}: must be 0 (off) or a fraction above 0")
    for name in ("planner_models", "coder_models", "debugger_models"):
        if getattr(ctx, name) == []:
            problems.append(f"{name}=[]: name one model spec or more, or none for the preset's")
    return problems
