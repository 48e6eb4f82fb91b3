"""The hold-out (validation) metric a script prints, read with the task's declared pattern."""

from __future__ import annotations

import math
import re

from budgetmlagent.workspace.task import Direction

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def read_validation_metric(output: str, pattern: str | None) -> float | None:
    """The last value the pattern finds in a script's output; None without a pattern or a finite match.

    Only the task's own pattern is trusted: the hidden test score is never used to steer the agent.
    """
    if not pattern or not output:
        return None
    value: float | None = None
    for match in re.finditer(pattern, output, flags=re.MULTILINE):
        number = _NUMBER.search(match.group(1) or "")
        if number is None:
            continue
        try:
            parsed = float(number.group(0))
        except ValueError:
            continue
        if math.isfinite(parsed):
            value = parsed
    return value


def is_better(value: float, than: float | None, direction: Direction) -> bool:
    """Strictly better in the metric's direction (None is beaten by anything)."""
    if than is None:
        return True
    return value > than if direction == "higher" else value < than


def read_invariant(output: str, pattern: str | None) -> str | None:
    """The last text the pattern's first group finds in a script's output (stripped); None without a pattern or a
    match. A task's invariant_pattern names output no change may alter (the tokens a faster generate must keep)."""
    if not pattern or not output:
        return None
    found = [(m.group(1) or "").strip() for m in re.finditer(pattern, output, flags=re.MULTILINE)]
    return found[-1] if found else None
