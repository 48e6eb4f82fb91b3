"""What the experience store keeps: a task's fingerprint, one record per measured change, one per run outcome.

Plain JSON a user can read (`budgetmlagent memory show`): no data rows, no environment values, no keys. The
fingerprint holds the research problem, the data's column names and kinds, the metric and the script's shape."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field

PROBLEM_CHARS = 400


class Fingerprint(BaseModel):
    """What makes two tasks alike: its text is embedded for similarity, its key says "the same task"."""

    problem: str
    data: str  # the tables' column names and kinds, the target and its kind (never a value)
    metric: str
    direction: str
    script: str  # the script's shape: how it reads its data, picks features, which classes it builds
    # The data's column names (not embedded): an instruction naming one this workspace lacks is not offered here.
    columns: list[str] = Field(default_factory=list)

    def text(self) -> str:
        return (
            f"Task: {' '.join(self.problem.split())[:PROBLEM_CHARS]}\n"
            f"Metric: {self.metric} ({self.direction} is better)\nData: {self.data}\nScript: {self.script}"
        )

    def key(self) -> str:
        return hashlib.sha256(self.text().encode("utf-8")).hexdigest()[:16]


class ChangeRecord(BaseModel):
    """One measured change: what it was, what it measured against the best version before it, who wrote it."""

    kind: Literal["change"] = "change"
    id: str
    run: str
    task: str
    fingerprint: Fingerprint
    key: str  # fingerprint.key(), kept for filtering
    step: int  # 0 for a run's best version as a whole
    instruction: str
    diff: str  # a short summary: lines added and removed, the first changed lines
    fragment: str | None = None  # the changed statements, when short and when merging them re-makes the change
    added_columns: dict[str, str] = Field(default_factory=dict)  # columns it brought in, and their kinds
    effect: float | None = None  # signed relative gain of the validation metric over the best before; None: not run
    ran: bool
    error: str | None = None  # the last line of a run that failed
    author: str  # the model that wrote it, "recipe", "learned" or "scaffold"
    time: float


class RunRecord(BaseModel):
    """A run's outcome, and which past experiences it was offered and used."""

    kind: Literal["run"] = "run"
    id: str
    run: str
    task: str
    fingerprint: Fingerprint
    key: str
    success: bool
    improvement: float | None  # of the hidden score, the verdict's
    validation_gain: float | None  # of the best validation metric over the baseline's
    steps: int
    first_success_step: int | None  # the first step whose validation metric beat the baseline's by more than 10 %
    first_success_s: float | None
    offered: list[str] = Field(default_factory=list)  # record ids
    used: list[str] = Field(default_factory=list)
    time: float


Record = ChangeRecord | RunRecord
