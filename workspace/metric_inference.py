"""What a task folder measures, when it does not say: the metric's name and direction, read from eval.py's source,
then from the research problem's words. Each answer says where it came from, so `tasks check` can print it.

Order of trust (the caller applies the first two): a declaration (scripts/budgetmlagent.json or a CLI flag), the
known MLAgentBench table, then eval.py (the sklearn metric it returns, a hand-written formula, the names and the
docstring of get_score), then the research problem. Nothing here calls a model.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

Direction = Literal["higher", "lower"]


@dataclass(frozen=True)
class MetricGuess:
    """A metric and its direction, and the evidence: e.g. "eval.py calls mean_absolute_error"."""

    metric: str
    direction: Direction
    source: str


# sklearn.metrics (and scipy/numpy look-alikes) by function name: the metric's usual short name and direction.
METRIC_FUNCTIONS: dict[str, tuple[str, Direction]] = {
    "mean_absolute_error": ("MAE", "lower"),
    "median_absolute_error": ("median absolute error", "lower"),
    "mean_absolute_percentage_error": ("MAPE", "lower"),
    "root_mean_squared_error": ("RMSE", "lower"),
    "root_mean_squared_log_error": ("RMSLE", "lower"),
    "mean_squared_log_error": ("MSLE", "lower"),
    "mean_squared_error": ("MSE", "lower"),
    "log_loss": ("log loss", "lower"),
    "hinge_loss": ("hinge loss", "lower"),
    "brier_score_loss": ("Brier score", "lower"),
    "zero_one_loss": ("zero-one loss", "lower"),
    "hamming_loss": ("Hamming loss", "lower"),
    "max_error": ("max error", "lower"),
    "mean_pinball_loss": ("pinball loss", "lower"),
    "accuracy_score": ("accuracy", "higher"),
    "balanced_accuracy_score": ("balanced accuracy", "higher"),
    "top_k_accuracy_score": ("top-k accuracy", "higher"),
    "f1_score": ("F1", "higher"),
    "fbeta_score": ("F-beta", "higher"),
    "precision_score": ("precision", "higher"),
    "recall_score": ("recall", "higher"),
    "jaccard_score": ("Jaccard", "higher"),
    "roc_auc_score": ("AUC", "higher"),
    "average_precision_score": ("average precision", "higher"),
    "r2_score": ("R2", "higher"),
    "explained_variance_score": ("explained variance", "higher"),
    "matthews_corrcoef": ("MCC", "higher"),
    "cohen_kappa_score": ("kappa", "higher"),
    "spearmanr": ("Spearman correlation", "higher"),
    "pearsonr": ("Pearson correlation", "higher"),
    "ndcg_score": ("NDCG", "higher"),
}

# Words in names, docstrings and problem texts, longest first so "mean absolute error" wins over "error".
METRIC_WORDS: list[tuple[str, str, Direction]] = [
    (r"mean[ _]absolute[ _]percentage[ _]error|\bmape\b", "MAPE", "lower"),
    (r"\bsmape\b", "SMAPE", "lower"),
    (r"\bmcrmse\b", "MCRMSE", "lower"),
    (r"root[ _]mean[ _]squared[ _]log(?:arithmic)?[ _]error|\brmsle\b", "RMSLE", "lower"),
    (r"root[ _]mean[ _]squared?[ _]error|\brmse\b", "RMSE", "lower"),
    (r"mean[ _]absolute[ _](?:error|difference|deviation)|\bmae\b", "MAE", "lower"),
    (r"mean[ _]squared[ _]error|\bmse\b", "MSE", "lower"),
    (r"\blog[ _-]?loss\b|cross[ _-]?entropy", "log loss", "lower"),
    (r"perplexity", "perplexity", "lower"),
    (r"tokens?[ _]per[ _]second|throughput", "tokens per second", "higher"),
    (
        r"\bseconds\b|\bruntime\b|run[ _]time|execution[ _](?:time|speed)|wall[ _-]?clock|elapsed|\blatency\b",
        "seconds",
        "lower",
    ),
    (r"balanced[ _]accuracy", "balanced accuracy", "higher"),
    (r"\baccuracy\b|\bacc\b", "accuracy", "higher"),
    (r"\bf1\b|f1[ _]score|f-score", "F1", "higher"),
    (r"roc[ _]auc|\bauc\b|area under", "AUC", "higher"),
    (r"\br2\b|r\^2|r-squared|coefficient of determination", "R2", "higher"),
    (r"\bprecision\b", "precision", "higher"),
    (r"\brecall\b", "recall", "higher"),
    (r"\bdice\b", "dice", "higher"),
    (r"\biou\b|intersection over union", "IoU", "higher"),
    (r"\bcorrelation\b", "correlation", "higher"),
    (r"\bloss\b", "loss", "lower"),
    (r"\berror\b", "error", "lower"),
]

# Direction words of a research problem ("lower is better", "minimise the error").
_LOWER_WORDS = re.compile(r"lower is better|\bminimi[sz]e|\bas low as|smaller is better|\breduce\b|\bfaster\b", re.I)
_HIGHER_WORDS = re.compile(r"higher is better|\bmaximi[sz]e|\bas high as|larger is better", re.I)


def from_eval_source(source: str) -> MetricGuess | None:
    """The metric get_score returns: an sklearn function it calls (the returned one first), a hand-written formula,
    else the words of get_score's docstring and names. None when the source says nothing recognisable."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return metric_from_words(source, "eval.py's text")
    function = next(
        (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "get_score"),
        None,
    )
    scope: ast.AST = function if function is not None else tree
    called = _metric_calls(scope, tree)
    if called:
        name = called[0]
        metric, direction = METRIC_FUNCTIONS[name]
        if name == "mean_squared_error" and _is_rooted(scope):
            metric = "RMSE"
        return MetricGuess(metric, direction, f"eval.py calls {name}")
    formula = _formula(scope)
    if formula is not None:
        return formula
    docstring = ast.get_docstring(function) if function is not None else ast.get_docstring(tree)
    if docstring:
        guess = metric_from_words(docstring, "get_score's docstring")
        if guess is not None:
            return guess
    return metric_from_words(" ".join(_identifiers(scope)), "names in eval.py")


def from_problem(text: str) -> MetricGuess | None:
    """The metric the research problem names, with its direction; a stated direction ("lower is better") wins."""
    guess = metric_from_words(text, "the research problem")
    lower, higher = bool(_LOWER_WORDS.search(text)), bool(_HIGHER_WORDS.search(text))
    if guess is None or lower == higher:
        return guess
    stated: Direction = "lower" if lower else "higher"
    return MetricGuess(guess.metric, stated, "the research problem")


def metric_from_words(text: str, where: str) -> MetricGuess | None:
    lowered = text.lower()
    hits = [(m.start(), metric, d) for pattern, metric, d in METRIC_WORDS for m in [re.search(pattern, lowered)] if m]
    if not hits:
        return None
    # The most specific metric mentioned (the list is ordered specific first), not the first word in the text.
    order = {metric: i for i, (_, metric, _) in enumerate(METRIC_WORDS)}
    _, metric, direction = min(hits, key=lambda hit: order[hit[1]])
    return MetricGuess(metric, direction, f"{where} names {metric}")


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _metric_calls(scope: ast.AST, module: ast.Module) -> list[str]:
    """Metric functions called in scope, the ones in a return statement first; `import ... as alias` resolved."""
    aliases = {
        alias.asname: alias.name
        for node in ast.walk(module)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname
    }

    def names(root: ast.AST) -> list[str]:
        found = []
        for node in ast.walk(root):
            if isinstance(node, ast.Call):
                name = aliases.get(_call_name(node), _call_name(node))
                if name in METRIC_FUNCTIONS:
                    found.append(name)
        return found

    returned = [name for node in ast.walk(scope) if isinstance(node, ast.Return) for name in names(node)]
    assigned = _returned_assignments(scope)
    return returned + [n for node in assigned for n in names(node)] + names(scope)


def _returned_assignments(scope: ast.AST) -> list[ast.AST]:
    """Assignments to the names a return statement returns (`score = f1_score(...)`, `return score`)."""
    returned = {
        n.id
        for node in ast.walk(scope)
        if isinstance(node, ast.Return)
        for n in ast.walk(node)
        if isinstance(n, ast.Name)
    }
    return [
        node.value
        for node in ast.walk(scope)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in returned for t in node.targets)
    ]


def _is_rooted(scope: ast.AST) -> bool:
    """mean_squared_error under a square root (np.sqrt, math.sqrt, ** 0.5, squared=False) is RMSE."""
    for node in ast.walk(scope):
        if isinstance(node, ast.Call) and _call_name(node) == "sqrt":
            return True
        power = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)
        if power and isinstance(node.right, ast.Constant) and node.right.value == 0.5:
            return True
        if isinstance(node, ast.keyword) and node.arg == "squared":
            return isinstance(node.value, ast.Constant) and node.value.value is False
    return False


def _formula(scope: ast.AST) -> MetricGuess | None:
    """Hand-written metrics: the abs of a difference (MAE), a squared difference (MSE, RMSE under a root), equal
    predictions averaged (accuracy), a difference of clock readings (seconds)."""

    def holds(node: ast.AST, kind: type) -> bool:
        return any(isinstance(n, kind) for n in ast.walk(node))

    def holds_eq(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Compare) and any(isinstance(o, ast.Eq) for o in n.ops) for n in ast.walk(node))

    clocks = ("time", "perf_counter", "monotonic", "process_time")
    timed = any(isinstance(n, ast.Call) and _call_name(n) in clocks for n in ast.walk(scope))
    squared = absolute = counted = differs = False
    for node in ast.walk(scope):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
            differs = True
        if isinstance(node, ast.Call):
            name = _call_name(node)
            receiver = [node.func.value] if isinstance(node.func, ast.Attribute) else []  # `(a - b).abs()`
            inside = ast.Module(body=[ast.Expr(a) for a in [*node.args, *receiver]], type_ignores=[])
            if name in ("abs", "absolute", "fabs") and holds(inside, ast.Sub):
                absolute = True
            if name == "square" and holds(inside, ast.Sub):
                squared = True
            if name in ("mean", "sum", "average", "count_nonzero") and holds_eq(inside):
                counted = True
        if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add) and holds_eq(node.value):
            counted = True  # `hits += int(pred == label)` in a loop
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) and holds(node.left, ast.Sub):
            squared = squared or (isinstance(node.right, ast.Constant) and node.right.value == 2)
    if timed and differs:
        return MetricGuess("seconds", "lower", "eval.py times a run")
    if squared:
        return MetricGuess("RMSE" if _is_rooted(scope) else "MSE", "lower", "eval.py computes a squared difference")
    if absolute:
        return MetricGuess("MAE", "lower", "eval.py computes an absolute difference")
    if counted:
        return MetricGuess("accuracy", "higher", "eval.py averages equal predictions")
    return None


def _identifiers(scope: ast.AST) -> list[str]:
    """Names and string constants, with underscores as spaces so word patterns see 'mean absolute error'."""
    out = []
    for node in ast.walk(scope):
        if isinstance(node, ast.Name):
            out.append(node.id.replace("_", " "))
        elif isinstance(node, ast.FunctionDef):
            out.append(node.name.replace("_", " "))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
            out.append(node.value)
    return out
