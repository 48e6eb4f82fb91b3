"""Shared state of one run: the task, the step history, the cascade counters, money and status."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired

from typing_extensions import TypedDict  # pydantic (LangGraph Studio schemas) needs it on Python < 3.12

from budgetmlagent.providers.ledger import Ledger
from budgetmlagent.workspace.task import SandboxConfig, TaskFacts
from budgetmlagent.workspace.workspace import Workspace

Role = Literal["planner", "coder", "debugger", "expert", "worker"]
Status = Literal["running", "final_answer", "step_cap", "target", "budget", "wall_clock", "provider_error", "error"]


class InputState(TypedDict, total=False):
    """What a caller provides: the task folder, and optionally where the run folder goes."""

    task_dir: str
    run_dir: str


class TaskInfo(TaskFacts):
    """The task in the run's state: the loaded task's facts (workspace.task.TaskFacts, from Task.facts()) plus what
    the run measured and where it works."""

    baseline: float | None  # the declared baseline score, else the measured one
    baseline_error: str | None
    workspace: str
    validation_baseline: float | None
    # What the baseline printed for invariant_pattern; older checkpoints lack it.
    invariant_baseline: NotRequired[str | None]
    # Where validation_pattern came from: declared, recognised in the starter's output, or in an edited script's.
    validation_source: NotRequired[str]
    # Whether the untouched starter ran and was scored at the start (None: a declared baseline, not run).
    starter_ran: NotRequired[bool | None]
    # Where baseline came from when the starter did not run: the first version of the main script that did.
    baseline_source: NotRequired[str]


class BestSoFar(TypedDict):
    """The best validated version of the workspace (step 0 = the untouched baseline)."""

    validation: float | None
    step: int
    snapshot: str


class PendingAction(TypedDict):
    """The planner's current valid reply (MLAgentBench fields) and who wrote it."""

    reflection: str
    research_plan_and_status: str
    fact_check: str
    thought: str
    action: str
    action_input: dict[str, Any]
    model: str
    tier: int
    own_code: NotRequired[bool]  # the coder writes the named recipe's own code, with no model call
    fragment: NotRequired[str]  # with own_code: a learned change's code, merged in instead of a recipe's


class Step(TypedDict):
    step: int
    action: str
    action_input: dict[str, Any]
    thought: str
    observation: str
    ok: bool
    model: str
    tier: int
    timed_out: NotRequired[bool]  # a script run in this step hit its time limit: long training, not a stuck agent


class ScriptOutcome(TypedDict):
    script: str
    ok: bool
    traceback: str | None
    origin: Literal["planner", "coder", "debugger"]


class State(InputState, total=False):
    run_id: str
    task: TaskInfo
    steps: Annotated[list[Step], operator.add]
    pending: PendingAction | None
    planner_error: str | None
    plan: str
    tiers: dict[str, int]
    failures: dict[str, int]
    lifelines: int
    expert_advice: str | None
    ledger: Ledger
    observation: str
    step_ok: bool
    executed: bool
    timed_out: bool  # a script run of the current step was stopped by its time limit
    to_run: tuple[str, Literal["coder", "debugger"]] | None
    last_run: ScriptOutcome | None
    debug_attempts: int
    pre_edit: tuple[str, str | None, int] | None  # edited file, its text before, its undo-stack depth before
    dirty_scripts: list[str]
    edits_made: int
    best: BestSoFar | None
    approved: bool
    # (step, value) of every validation metric a run printed, for claims and the report.
    measured: Annotated[list[tuple[int, float]], operator.add]
    escalations: Annotated[list[dict[str, Any]], operator.add]
    # What earlier runs offer this one (runtime/experience.py): the store's status, the fingerprint, offers, warnings.
    experience: dict[str, Any]
    status: Status
    started_at: float
    result: dict[str, Any]


def workspace_of(state: State) -> Workspace:
    """The run's workspace with its task's read-only files, hidden scripts/ and sandbox limits."""
    task = state["task"]
    return Workspace(
        Path(task["workspace"]),
        task["read_only"],
        private_paths=[task["scripts_dir"]],
        sandbox=SandboxConfig(**(task.get("sandbox") or {})),  # runs checkpointed before limits existed have none
    )
