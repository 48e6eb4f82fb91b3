"""Model recipes: a stronger model, richer text features, Adam for a small network; each fitted to the target's kind
(a year or a price never gets a classifier, text labels never get a regressor) and to where the model sits (a step
of a Pipeline is replaced in the pipeline, not joined by a second model)."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from budgetmlagent.scaffold.data_facts import target_columns, target_kind
from budgetmlagent.scaffold.script_shape import Shape, call_name, parsed_call, pipeline_of, rewritten_statements
from budgetmlagent.workspace.workspace import Workspace

CLASSIFIERS = ("LogisticRegression", "BernoulliNB", "MultinomialNB", "GaussianNB", "KNeighborsClassifier")
REGRESSORS = ("LinearRegression", "Ridge", "Lasso", "KNeighborsRegressor")
WEAK_ENSEMBLES = ("RandomForestClassifier", "RandomForestRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor")
VECTORIZERS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")
_CLASS_METRICS = {"accuracy_score", "f1_score", "roc_auc_score", "log_loss", "precision_score", "recall_score"}
_NUMBER_METRICS = {"mean_squared_error", "mean_absolute_error", "r2_score", "root_mean_squared_error"}
# Epochs of the Adam recipe: a few passes, still seconds for the small networks baselines train.
ADAM_EPOCHS = 5
_BOOSTER_ARGS = "max_iter=300, learning_rate=0.05, random_state=0"


@dataclass(frozen=True)
class Recipe:
    name: str
    instruction: str  # a ready edit instruction, with this workspace's names
    pattern: str  # code of the right shape for the coder to adapt
    keywords: tuple[str, ...]  # words of a planner's own instruction that ask for this change
    columns: tuple[str, ...] = ()  # the data columns it brings in: an instruction naming them asks for it


def target_of(shape: Shape) -> str | None:
    """The column the script predicts: the training table's only column the test table lacks, else the script's."""
    if shape.train_table is None:
        return None
    if shape.test_table is None:
        return shape.target
    data = target_columns(shape.train_columns, shape.test_columns)
    if len(data) == 1:
        return data[0]
    return shape.target if shape.target in data else None


def kind_of_target(ws: Workspace, shape: Shape, target: str | None) -> str | None:
    """class or number: the data where it is clear, else the script's model, else its metric; None if unknown."""
    if target is not None and shape.train_table is not None:
        said = target_kind(ws.root / shape.train_table, target)
        if said is not None:
            return said
    models = {model_kind(c) for c in shape.calls} - {None}
    metrics = {"class" if c in _CLASS_METRICS else "number" for c in shape.calls & (_CLASS_METRICS | _NUMBER_METRICS)}
    said_by = next((kinds for kinds in (models, metrics) if len(kinds) == 1), set())
    return said_by.pop() if said_by else None


def model_kind(name: str) -> str | None:
    if name in CLASSIFIERS or name.endswith(("Classifier", "SVC")):
        return "class"
    if name in REGRESSORS or name.endswith(("Regressor", "SVR", "ElasticNet")):
        return "number"
    return None


def model_recipes(shape: Shape, kind: str | None) -> list[Recipe]:
    """Richer text features where the script vectorizes text, else boosted trees for a weak model; Adam for SGD."""
    recipes = []
    vectorizer = next((v for v in VECTORIZERS if v in shape.calls), None)
    if vectorizer is not None:
        recipes.append(_richer_text_features(shape, vectorizer, kind))
    else:
        model = next((m for m in (*CLASSIFIERS, *REGRESSORS, *WEAK_ENSEMBLES) if m in shape.calls), None)
        kind = kind or (model_kind(model) if model is not None else None)
        if model is not None and kind is not None:
            recipes.append(_boosted_trees(shape, model, kind))
    sgd = next((n for n in ast.walk(shape.tree) if isinstance(n, ast.Call) and call_name(n) == "SGD"), None)
    params = _first_argument(sgd, "params") if sgd is not None else None
    if sgd is not None and params is not None:
        recipes.append(_adam(shape, sgd, params))
    return recipes


def _first(shape: Shape, name: str) -> ast.Call | None:
    return next((n for n in ast.walk(shape.tree) if isinstance(n, ast.Call) and call_name(n) == name), None)


def dense_encoders(shape: Shape) -> list[tuple[ast.AST, ast.AST]]:
    """OneHotEncoder calls made to give dense output (boosted trees refuse sparse input)."""
    swaps: list[tuple[ast.AST, ast.AST]] = []
    for node in ast.walk(shape.tree):
        if not (isinstance(node, ast.Call) and call_name(node) == "OneHotEncoder"):
            continue
        if not any(k.arg in ("sparse_output", "sparse") for k in node.keywords):
            dense = parsed_call(ast.unparse(node))
            dense.keywords.append(ast.keyword("sparse_output", ast.Constant(False)))
            swaps.append((node, dense))
    return swaps


def _boosted_trees(shape: Shape, model: str, kind: str) -> Recipe:
    """Boosted trees in place of the weak model: as the step of its pipeline where it is one, with any OneHotEncoder
    made dense (boosted trees refuse a sparse matrix)."""
    booster = f"HistGradientBoosting{'Regressor' if kind == 'number' else 'Classifier'}"
    made = f"{booster}({_BOOSTER_ARGS})"
    call = _first(shape, model)
    swaps = [(call, parsed_call(made)), *dense_encoders(shape)] if call is not None else []
    dense = ", and give each OneHotEncoder sparse_output=False (boosted trees need dense input)" if swaps[1:] else ""
    keep = "keep the features, the split, the metric and the submission as they are."
    if call is not None and pipeline_of(shape, call) is not None:
        instruction = (
            f"In the pipeline, replace the {model} step with {made}, imported from sklearn.ensemble{dense}; it "
            f"replaces the step, not a second model: {keep}"
        )
    else:
        instruction = f"Replace {model} with {made}, imported from sklearn.ensemble{dense}; {keep}"
    shown = "\n".join(rewritten_statements(shape, swaps)) or f"model = {made}"
    return Recipe(
        name="gradient boosting",
        instruction=instruction,
        pattern=(
            f"from sklearn.ensemble import {booster}\n\n"
            f"# Boosted trees: non-linear, and they accept missing values as they are.\n{shown}"
        ),
        keywords=("histgradientboosting", "gradient boosting", "gradientboosting"),
    )


def _richer_text_features(shape: Shape, vectorizer: str, kind: str | None) -> Recipe:
    """A target that is a quantity gets Ridge, labels get LogisticRegression; an unknown one keeps its model."""
    model, imported = {
        "class": ("LogisticRegression(max_iter=1000, C=4.0)", "LogisticRegression"),
        "number": ("Ridge(alpha=1.0)", "Ridge"),
    }.get(kind or "", ("", ""))
    tfidf = "TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)"
    then = f", and use {model} as the model" if model else "; keep the model as it is"
    lines = ["from sklearn.feature_extraction.text import TfidfVectorizer"]
    if model:
        lines.append(f"from sklearn.linear_model import {imported}")
    lines += ["", "# Word and word-pair frequencies over the whole vocabulary seen at least twice."]
    call = _first(shape, vectorizer)
    if call is not None and pipeline_of(shape, call) is not None:
        old_model = next((m for m in (*CLASSIFIERS, *REGRESSORS, *WEAK_ENSEMBLES) if m in shape.calls), None)
        swaps: list[tuple[ast.AST, ast.AST]] = [(call, parsed_call(tfidf))]
        step = _first(shape, old_model) if old_model and model else None
        if step is not None and pipeline_of(shape, step) is pipeline_of(shape, call):
            swaps.append((step, parsed_call(model)))
        lines += rewritten_statements(shape, swaps)
    else:
        lines.append(f"vectorizer = {tfidf}")
        lines += [f"model = {model}"] if model else []
    return Recipe(
        name="richer text features",
        instruction=f"Replace the {vectorizer} with {tfidf} with no max_features cap{then}.",
        pattern="\n".join(lines),
        keywords=("tfidf", "tf-idf", "ngram", "bigram"),
    )


def _first_argument(call: ast.Call, keyword: str) -> ast.expr | None:
    return call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == keyword), None)


def _adam(shape: Shape, sgd: ast.Call, params_node: ast.expr) -> Recipe:
    """A small network trained with plain SGD for an epoch or two is under-trained: Adam and a few more epochs is the
    usual first lift (fashion-mnist: the 0.5B planner, offered nothing for images, asked to remove the images)."""
    params = ast.unparse(params_node)
    named = [
        (target.id, node.value)
        for node in ast.walk(shape.tree)
        if isinstance(node, ast.Assign)
        for target in node.targets[:1]
        if isinstance(target, ast.Name)
    ]
    optimizer = next((name for name, value in named if value is sgd), "optimizer")
    epochs = next(
        (
            (name, value.value)
            for name, value in named
            if "EPOCH" in name.upper() and isinstance(value, ast.Constant) and type(value.value) is int
        ),
        None,
    )
    more_epochs = f"{epochs[0]} = {ADAM_EPOCHS}" if epochs is not None and epochs[1] < ADAM_EPOCHS else None
    return Recipe(
        name="Adam optimizer",
        instruction=f"Replace torch.optim.SGD with torch.optim.Adam({params}, lr=1e-3)"
        + (f" and set {more_epochs}" if more_epochs else "")
        + "; keep the network, the data, the split and the submission as they are.",
        pattern=f"{optimizer} = torch.optim.Adam({params}, lr=1e-3)" + (f"\n{more_epochs}" if more_epochs else ""),
        keywords=("adam", "optimizer"),
    )
