"""The first change a starter script needs before any recipe: run end to end, and print a hold-out metric.

MLAgentBench's starters are often skeletons ("write your model here", then a NameError), and ordinary projects
print no validation number. Without a number the scaffold cannot measure an edit, keep the best version or tell a
regression, so these come first, worded for any script: no column or file names, only the names the script itself
leaves undefined and the split it already makes (read from its syntax tree).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from budgetmlagent.scaffold.script_repair import undefined_names
from budgetmlagent.workspace.metric_inference import METRIC_FUNCTIONS
from budgetmlagent.workspace.validation import HOLD_OUT_WORDS

# How to compute a metric by name, for the instruction: the sklearn function whose short name it is.
_HOW = {metric.lower(): f"sklearn.metrics.{name}" for name, (metric, _) in METRIC_FUNCTIONS.items()}
_HOW["rmse"] = "the square root of sklearn.metrics.mean_squared_error"
# Named to the function: asked only to "hold out 20 % of the rows", a 1.5B coder wrote `frame.index.sample(...)`,
# which does not exist, and three debugger replies kept it.
HOLD_OUT = (
    "hold out 20 % of the training rows with sklearn.model_selection.train_test_split(..., test_size=0.2, "
    "random_state=0)"
)
# The change of a starter that runs but prints no hold-out metric begins so.
PRINT_METRIC = "Make {script} print its validation metric: "
_VALIDATION_WORD = re.compile(rf"\b{HOLD_OUT_WORDS}\b", re.IGNORECASE)


@dataclass(frozen=True)
class Gap:
    """What a skeleton leaves out, read from its source: names it uses but never assigns, in order of first use;
    the train and held-out parts of a split it already makes; whether it already prints a validation line."""

    undefined: tuple[str, ...] = ()
    fit_on: tuple[str, ...] = ()
    measure_on: tuple[str, ...] = ()
    prints_validation: bool = False


def read_gap(source: str) -> Gap:
    """The gap of a script that does not run; an empty Gap when the source does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return Gap()
    missing = undefined_names(source)
    first_use = sorted(
        (node.lineno, node.col_offset, node.id)
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in missing
    )
    undefined = tuple(dict.fromkeys(name for _, _, name in first_use))
    fit_on, measure_on = _split_parts(tree)
    return Gap(undefined, fit_on, measure_on, _prints_validation(tree))


def _split_parts(tree: ast.AST) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`a_train, a_test, b_train, b_test = train_test_split(a, b, ...)`: the train parts and the held-out parts."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        func = node.value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        target = node.targets[0]
        if name != "train_test_split" or not isinstance(target, ast.Tuple):
            continue
        names = [t.id for t in target.elts if isinstance(t, ast.Name)]
        if len(names) == len(target.elts) and len(names) % 2 == 0:
            return tuple(names[0::2]), tuple(names[1::2])
    return (), ()


def _prints_validation(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print":
            texts = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
            if any(_VALIDATION_WORD.search(text) for text in texts):
                return True
    return False


def validation_line(metric: str) -> str:
    """The line the scripts are asked to print, which the scaffold then reads every run."""
    return f"Validation {metric}: <value>"


def first_change(
    script: str, metric: str, *, runs: bool, prints_validation: bool, source: str | None = None
) -> str | None:
    """The edit instruction a starter needs first, or None when it runs and prints a validation metric.

    With the script's source, a starter that does not run is told which names to define and which split to use:
    a 1.5B coder given only "fill in the gap" wrote a one-line fix that left the metric undefined."""
    if runs and prints_validation:
        return None
    how = _HOW.get(metric.lower())
    computed = f" (computed with {how})" if how else ""
    keep = "keep reading the same data files and keep writing the submission file in the same format"
    measure = f"{HOLD_OUT}, fit on the other 80 %, and print '{validation_line(metric)}' on the held-out rows{computed}"
    if not runs:
        gap = read_gap(source) if source is not None else Gap()
        parts = [f"Make {script} run end to end: fill in what it leaves out"]
        if gap.undefined:
            parts.append(
                f" by defining {_listed(gap.undefined)}, which the script uses but never assigns (train a simple "
                f"model where the script has a gap)"
            )
        else:
            parts.append(" (train a simple model where the script has a gap, define every variable it uses later)")
        if gap.fit_on:
            parts.append(
                f"; fit on {_listed(gap.fit_on)} and measure {metric}{computed} on {_listed(gap.measure_on)}, "
                f"the split the script already makes"
            )
        if gap.prints_validation:
            return "".join(parts) + f"; keep its prints, {keep}."
        return "".join(parts) + f"; {keep}. To measure it, {measure}."
    return (
        PRINT_METRIC.format(script=script) + f"{HOLD_OUT}, fit its current model on the other 80 %, print "
        f"'{validation_line(metric)}' on the held-out rows{computed}; then {keep}."
    )


def _listed(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


# Metrics the scaffold computes itself on a hold-out: (y_true, y_pred) functions whose default arguments fit any
# target of their kind. F1, AUC or log loss need averaging or probabilities: their print is left to the models.
_OWN_METRICS = {
    "mae": "mean_absolute_error",
    "mse": "mean_squared_error",
    "rmse": "mean_squared_error",
    "accuracy": "accuracy_score",
    "balanced accuracy": "balanced_accuracy_score",
    "r2": "r2_score",
    "median absolute error": "median_absolute_error",
}


def hold_out_code(source: str, metric: str) -> str | None:
    """`source` with a hold-out check put just before its last `<model>.fit(X, y)` statement: a clone of the same
    model fitted on 80 % of the same rows prints `Validation <metric>: <value>` on the other 20 %; the script's own
    fit and submission are left as they are. None when the script makes no such call or the metric needs more
    than (y_true, y_pred). The scaffold's own code for a starter that runs but prints no hold-out metric: it costs
    no model call (a 1.5B coder took 70 s to write it, and its edit could break the submission)."""
    function = _OWN_METRICS.get(metric.lower())
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    fits = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and node.value.func.attr == "fit"
        and isinstance(node.value.func.value, ast.Name)
        and len(node.value.args) == 2
        and not node.value.keywords
    ]
    if function is None or not fits:
        return None
    fit = max(fits, key=lambda node: node.lineno)
    call = fit.value
    assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
    model, (features, target) = call.func.value.id, (ast.unparse(arg) for arg in call.args)
    score = "_hold_out_metric(_y_held, _check.predict(_X_held))" + (" ** 0.5" if metric.lower() == "rmse" else "")
    indent = " " * fit.col_offset
    check = [
        "# A hold-out check, so every change can be measured: the same model, refitted on 80 % of the rows.",
        "from sklearn.base import clone as _clone",
        f"from sklearn.metrics import {function} as _hold_out_metric",
        "from sklearn.model_selection import train_test_split as _train_test_split",
        f"_X_fit, _X_held, _y_fit, _y_held = _train_test_split({features}, {target}, test_size=0.2, random_state=0)",
        f"_check = _clone({model}).fit(_X_fit, _y_fit)",
        f'print(f"{validation_line(metric).replace("<value>", "{" + score + "}")}")',
    ]
    lines = source.splitlines()
    at = fit.lineno - 1
    return "\n".join([*lines[:at], *(indent + line for line in check), *lines[at:]]) + "\n"
