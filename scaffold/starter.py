"""The first change a starter script needs before any recipe: run end to end, and print a hold-out metric.

MLAgentBench's starters are often skeletons ("write your model here", then a NameError), and ordinary projects
print no validation number. Without a number the scaffold cannot measure an edit, keep the best version or tell a
regression, so these come first, worded for any script: no column or file names.
"""

from __future__ import annotations

from budgetmlagent.workspace.metric_inference import METRIC_FUNCTIONS

# How to compute a metric by name, for the instruction: the sklearn function whose short name it is.
_HOW = {metric.lower(): f"sklearn.metrics.{name}" for name, (metric, _) in METRIC_FUNCTIONS.items()}
_HOW["rmse"] = "the square root of sklearn.metrics.mean_squared_error"
HOLD_OUT = "hold out 20 % of the training rows with a fixed seed (random_state=0)"


def validation_line(metric: str) -> str:
    """The line the scripts are asked to print, which the scaffold then reads every run."""
    return f"Validation {metric}: <value>"


def first_change(script: str, metric: str, *, runs: bool, prints_validation: bool) -> str | None:
    """The edit instruction a starter needs first, or None when it runs and prints a validation metric."""
    if runs and prints_validation:
        return None
    how = _HOW.get(metric.lower())
    computed = f" (computed with {how})" if how else ""
    keep = "keep reading the same data files and keep writing the submission file in the same format"
    if not runs:
        return (
            f"Make {script} run end to end: fill in what it leaves out (train a simple model where the script has "
            f"a gap, define every variable it uses later), {keep}. To measure it, {HOLD_OUT}, fit on the other 80 %, "
            f"and print "
            f"'{validation_line(metric)}' on the held-out rows{computed}."
        )
    return (
        f"Make {script} print its validation metric: {HOLD_OUT}, fit its current model on the other 80 %, print "
        f"'{validation_line(metric)}' on the held-out rows{computed}; then {keep}."
    )
