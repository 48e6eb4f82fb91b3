"""The hold-out (validation) metric a script prints: read with the task's pattern, declared or recognised."""

from __future__ import annotations

import math
import re

from budgetmlagent.workspace.metric_inference import metric_from_words
from budgetmlagent.workspace.task import Direction

# A printed number as scripts write it: thousands separators, exponent; NUMBER_TEXT also takes a trailing percent sign.
_DIGITS = r"[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(_DIGITS)
NUMBER_TEXT = _DIGITS + "%?"
# Words that mark a hold-out measurement; "train" lines never count.
HOLD_OUT_WORDS = r"(?:validation|validating|valid|val|hold[-_ ]?out|held[-_ ]?out|dev|cv|cross[-_ ]?validat(?:ion|ed))"
_LINE = re.compile(
    rf"(?<![A-Za-z])(?P<label>{HOLD_OUT_WORDS}(?![A-Za-z])[^\n:=]{{0,40}}?(?:[:=]|\bis\b)?)[^\S\n]*"
    rf"(?<![\w.])(?P<number>{NUMBER_TEXT})(?![\w.])",
    re.IGNORECASE,
)
# Labels that count rows, not a metric ("Validation set size: 1,000").
_NOT_A_METRIC = re.compile(r"(?i)size|samples|rows|examples|count|shape|split|fold\b|epoch|step|batch|seed")


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
            parsed = float(number.group(0).replace(",", ""))
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


def recognise_validation_pattern(output: str, metric: str | None = None) -> str | None:
    """A pattern for the hold-out metric a script prints in a common form, when the task declares none:
    `Validation MAE: 12,345`, `val_accuracy = 0.83`, `Hold-out RMSE is 1.2e3`, `CV F1: 85.3%`.

    A label that names the task's metric wins (`val acc` names accuracy); otherwise the label must be the only one
    printed (a loss and an accuracy side by side give no answer: guessing wrong would invert every comparison). The
    pattern matches that label literally, so the same line in later runs reads the same way.
    """
    labels: dict[str, None] = {}
    for match in _LINE.finditer(output or ""):
        label = match.group("label").strip()
        if not _NOT_A_METRIC.search(label):
            labels.setdefault(label, None)
    if not labels:
        return None
    wanted = _metric_named(metric) if metric else None
    named = [label for label in labels if wanted is not None and _metric_named(label) == wanted]
    if named:
        chosen = named[-1]
    elif len(labels) == 1:
        chosen = next(iter(labels))
    else:
        return None
    # Case-insensitive: a coder that rewrites the print line often changes only its capitals.
    return rf"(?i)(?<![A-Za-z]){re.escape(chosen)}[^\S\n]*({NUMBER_TEXT})"


def _metric_named(text: str) -> str | None:
    """The metric a label or a metric name stands for: 'val acc' and 'accuracy' both name accuracy."""
    guess = metric_from_words(text, "label")
    return guess.metric if guess is not None else re.sub(r"[^a-z0-9]", "", text.lower()) or None
