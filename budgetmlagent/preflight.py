"""What `run`, `resume` and `bench` check before any work starts.

A bad setting, model spec, missing API key or broken task folder becomes one line that says what is wrong and
how to fix it, before a model is loaded or a dollar is spent; never a traceback from deep inside a run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from budgetmlagent.runtime.context import Context
    from budgetmlagent.workspace.task import Task

USAGE_EXIT = 2  # a setting or model the command cannot use: nothing ran
TASK_EXIT = 1  # the task folder cannot be run: the run ends with status "error"
_MAX_LINE = 1200  # long enough for the list of setting names, short enough to cut a dumped log
# The line of a traceback that names the exception: "ValueError: boom", "json.decoder.JSONDecodeError: ...".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b")
_ROLES = ("planner", "coder", "debugger", "worker", "expert")


class BadInput(Exception):
    """A setting, model or task folder a command cannot use; `str()` is the one line to show."""

    def __init__(self, message: str, *, exit_code: int = USAGE_EXIT) -> None:
        super().__init__(one_line(message))
        self.exit_code = exit_code


def one_line(text: str) -> str:
    """A message on one line: its first line, plus the exception line of a traceback quoted in it (else its
    last line)."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    first = lines[0].rstrip(":")
    cause = next((line for line in reversed(lines[1:]) if _EXCEPTION_LINE.match(line)), None)
    if cause is None and len(lines) > 1 and not lines[-1].startswith("For further information"):
        cause = lines[-1]  # the last words a failing script printed (`sys.exit("no data")`)
    joined = f"{first}: {cause}" if cause else first
    return joined if len(joined) <= _MAX_LINE else joined[: _MAX_LINE - 1] + "…"


def context_from(settings: dict[str, Any], pairs: list[str]) -> Context:
    """Context from command-line flags plus `--set NAME=VALUE` pairs, refusing unusable values and models."""
    from budgetmlagent.runtime.context import Context, parse_settings

    try:
        overrides = parse_settings(pairs)
        ctx = Context(**(settings | overrides))
    except ValueError as exc:  # a --set pair, or a BUDGETMLAGENT_* variable, that does not parse
        raise BadInput(str(exc)) from None
    check_context(ctx)
    return ctx


def run_caps(args: Any) -> dict[str, Any]:
    """The caps of one run that were given as flags (`run` and `bench` share them), as Context settings."""
    return given(
        {
            "max_steps": args.max_steps,
            "budget_usd": args.budget_usd,
            "wall_clock_s": args.wall_clock,
            "script_timeout_s": args.script_timeout,
            "lifelines": args.lifelines,
        }
    )


def given(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings whose flag was given: a flag left out (None) leaves the environment or default in charge."""
    return {name: value for name, value in settings.items() if value is not None}


def check_context(ctx: Context) -> None:
    """Settings in range, every model spec well-formed, with its API key and catalogue entry."""
    from budgetmlagent.runtime.context import settings_problems

    problems = settings_problems(ctx)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BadInput(f"setting {problems[0]}{more}; change it with --set NAME=VALUE or the matching flag")
    check_models(ctx)


def role_models(ctx: Context) -> list[tuple[str, str]]:
    """(role, spec) for every model the run may call, cheapest tier first; PresetError for a bad preset."""
    lineup = ctx.lineup
    pairs = [(role, spec) for role in ("planner", "coder", "debugger") for spec in lineup.tiers(role)]
    pairs.append(("worker", lineup.worker))
    if ctx.expert_enabled and lineup.expert is not None:
        pairs.append(("expert", lineup.expert))
    return pairs


def check_models(ctx: Context) -> None:
    """Every spec parses, names a catalogued local model, and has the API key its provider needs."""
    from budgetmlagent.providers.specs import SpecError, parse_spec
    from budgetmlagent.runtime.presets import PresetError

    try:
        pairs = role_models(ctx)
    except PresetError as exc:
        raise BadInput(f"{exc} (--preset)") from None
    if ctx.chat_model_factory is not None:
        return  # a test hook builds the models; specs are only labels then
    for role, spec in pairs:
        try:
            parsed = parse_spec(spec)
        except SpecError as exc:
            why = str(exc).splitlines()[0].removesuffix(" Accepted forms:").rstrip(".")
            raise BadInput(f"{role} model: {why}; {_SPEC_HINT}") from None
        if parsed.is_local:
            _check_catalogued(role, parsed.model)
    missing = missing_keys(spec for _, spec in pairs)
    if missing:
        needs = " and ".join(f"{env} (for {spec})" for env, spec in missing.items())
        it = "them" if len(missing) > 1 else "it"
        raise BadInput(
            f"the models need {needs}, not set in the environment: export {it}, or run offline with --preset local"
        )


_SPEC_HINT = (
    "write provider:model, one of google_genai:<model>, openai:<model>, openai_compatible:<model>@<base_url>, "
    "local:<catalogue name>"
)


def missing_keys(specs: Any) -> dict[str, str]:
    """API-key variable -> the first spec that needs it, for each key the environment lacks."""
    from budgetmlagent.providers.chat import API_KEY_ENVS
    from budgetmlagent.providers.specs import parse_spec

    missing: dict[str, str] = {}
    for spec in specs:
        provider = parse_spec(spec).provider
        if provider == "openai_compatible":
            continue  # its key is optional (most local servers want none)
        envs = API_KEY_ENVS.get(provider, ())
        if envs and not any(os.environ.get(env, "").strip() for env in envs):
            missing.setdefault(" or ".join(envs), spec)
    return missing


def _check_catalogued(role: str, name: str) -> None:
    from budgetmlagent.providers.catalogue import CatalogueError, get_model

    try:
        get_model(name)
    except (CatalogueError, OSError, ValueError) as exc:
        raise BadInput(f"{role} model local:{name}: {exc}") from None


def check_local_models_installed(ctx: Context) -> None:
    """Local model files are on disk (not hashed here: the server verifies them when it starts)."""
    from budgetmlagent.providers.catalogue import model_path
    from budgetmlagent.providers.specs import parse_spec

    if ctx.chat_model_factory is not None:
        return
    for role, spec in role_models(ctx):
        parsed = parse_spec(spec)
        if parsed.is_local and not model_path(parsed.model).is_file():
            raise BadInput(
                f"{role} model {spec} is not installed at {model_path(parsed.model)}: run "
                f"`budgetmlagent models install {parsed.model}` (or `make models`), or choose another --preset"
            )


def static_task_problems(task_dir: Path) -> list[str]:
    """What a task folder lacks before anything runs (no prepare.py, no scoring): `tasks check` findings."""
    from budgetmlagent.workspace.task_check import check_task_folder

    return [finding.message for finding in check_task_folder(task_dir) if finding.level == "error"]


def check_task(task_dir: Path, ctx: Context) -> Task:
    """Load the task (running its prepare.py) and score its baseline, as the run's first node will (cached)."""
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.scoring import baseline_score
    from budgetmlagent.workspace.task import load_task

    problems = static_task_problems(Path(task_dir))
    if problems:
        more = f" (and {len(problems) - 1} more; `budgetmlagent tasks check {task_dir}` lists them)"
        raise BadInput(f"task {task_dir}: {problems[0]}{more if len(problems) > 1 else ''}", exit_code=TASK_EXIT)
    try:
        task = load_task(Path(task_dir))
    except (TaskError, OSError) as exc:
        raise BadInput(f"task {task_dir}: {exc}", exit_code=TASK_EXIT) from None
    # Same arguments as the prepare node, so the run finds this measurement in the cache.
    base = baseline_score(task, Path(ctx.cache_dir) / "baselines", timeout_s=ctx.script_timeout_s)
    if base.score is None:
        raise BadInput(
            f"task {task.name}: the baseline cannot be scored, so no run could be judged: {one_line(base.error or '')}"
            f"; fix the task (`budgetmlagent tasks check {task_dir} --run` shows the details)",
            exit_code=TASK_EXIT,
        )
    return task
