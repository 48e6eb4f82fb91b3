"""Recipes: the few changes that usually lift a weak baseline, written out for this workspace's names.

The 1.5B planner named the right idea (use the text columns) in vague words and its coder broke it (median() over
a text column), run after run. A recipe is a concrete edit instruction the planner may pick, plus the shape of code
known to work that the coder adapts: facts of the data and the script decide which recipes are offered, the models
still choose and write the change, and every result is measured by running the script.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from budgetmlagent.scaffold.code_facts import call_name, unused_columns
from budgetmlagent.scaffold.data_facts import (
    column_kind,
    data_columns_of,
    held_out_table,
    target_columns,
    training_table,
)
from budgetmlagent.workspace.workspace import Workspace

# At most this many columns go into one recipe: a 1.5B coder copies a short list reliably.
RECIPE_COLUMNS = 8
_CLASSIFIERS = ("LogisticRegression", "BernoulliNB", "MultinomialNB", "GaussianNB", "KNeighborsClassifier")
_REGRESSORS = ("LinearRegression", "Ridge", "Lasso", "KNeighborsRegressor")
_WEAK_ENSEMBLES = ("RandomForestClassifier", "RandomForestRegressor", "DecisionTreeClassifier", "DecisionTreeRegressor")
_VECTORIZERS = ("CountVectorizer", "TfidfVectorizer", "HashingVectorizer")
# userId, movieID (snake-case *_id columns are row keys and left out earlier); a mean per id leans on rare ids less
# with a few pseudo-rows at the overall mean.
_ID_NAME = re.compile(r"(?:[a-z]Id|[a-z]ID)$")
PSEUDO_ROWS = 10
# Epochs of the Adam recipe: a few passes, still seconds for the small networks baselines train.
ADAM_EPOCHS = 5


@dataclass(frozen=True)
class Recipe:
    name: str
    instruction: str  # a ready edit instruction, with this workspace's names
    pattern: str  # code of the right shape for the coder to adapt
    keywords: tuple[str, ...]  # words of a planner's own instruction that ask for this change
    columns: tuple[str, ...] = ()  # the data columns it brings in: an instruction naming them asks for it


def recipes_for(ws: Workspace, code: str) -> list[Recipe]:
    """The recipes this script and its data call for, most useful first; none for a script that does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    calls = {call_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    recipes: list[Recipe] = []
    kinds = unused_columns(ws, code)
    features = _feature_list(tree, ws)
    train, test = _frame_names(tree)
    ids, target = _repeated_ids(ws, kinds.get("number", []))
    numbers = [c for c in kinds.get("number", []) if c not in ids]
    if features is not None and ids and target is not None:  # the strongest signal of rating-like tables
        recipes.append(_mean_per_id(features, ids[:2], target, train, test))
    if features is not None and kinds.get("category"):
        recipes.append(_encode_categories(features, kinds["category"][:RECIPE_COLUMNS], train, test))
    if features is not None and numbers:
        encoded = _any_text(ws, features[1])
        recipes.append(_add_numbers(features, numbers[:RECIPE_COLUMNS], train, test, encoded))
    if calls & set(_VECTORIZERS):
        recipes.append(_richer_text_features(calls))
    else:
        model = next((m for m in (*_CLASSIFIERS, *_REGRESSORS, *_WEAK_ENSEMBLES) if m in calls), None)
        if model is not None:
            recipes.append(_boosted_trees(model))
    sgd = next((n for n in ast.walk(tree) if isinstance(n, ast.Call) and call_name(n) == "SGD" and n.args), None)
    if sgd is not None:
        recipes.append(_adam(tree, sgd))
    return recipes


def recipe_for_instruction(instruction: str, recipes: list[Recipe]) -> Recipe | None:
    """The recipe an edit instruction asks for: its own words, one of its keywords, or its columns (two of them, or
    its only one). The 0.5B planner wrote "Add the text columns MS_SubClass, MS_Zoning, ... and 25 more" from the
    recipe's opening and the unused-columns list; matched on no keyword, its coder got no code shape and only cast
    the columns to a dtype nothing read (ames-house-price, +0.0 %)."""
    said = " ".join(instruction.split()).lower()
    for recipe in recipes:
        if said == " ".join(recipe.instruction.split()).lower():
            return recipe
    by_keyword = next((r for r in recipes if any(k in said for k in r.keywords)), None)
    if by_keyword is not None:
        return by_keyword
    named = {r.name: sum(1 for c in r.columns if _names(said, c)) for r in recipes}
    best = max(recipes, key=lambda r: named[r.name], default=None)
    if best is None or named[best.name] < min(2, len(best.columns)) or named[best.name] == 0:
        return None
    return best


def _names(said: str, column: str) -> bool:
    """Whether a lower-cased instruction names the column as a whole word."""
    return re.search(rf"(?<![\w.]){re.escape(column.lower())}(?![\w])", said) is not None


def _encode_categories(features: tuple[str, list[str]], columns: list[str], train: str, test: str) -> Recipe:
    name, current = features
    wanted = [*current, *columns]
    return Recipe(
        name="encode text categories",
        instruction=f"Add the text columns {', '.join(columns)} to {name} and one-hot encode them with "
        "pd.get_dummies; the test data gets the training data's dummy columns; fill missing values with the "
        "training medians.",
        pattern=(
            f"{name} = {json.dumps(wanted)}\n"
            f"TEXT_COLUMNS = {json.dumps(columns)}  # the text categories among {name}\n\n"
            "# One-hot encode the text columns (the test frame gets the training frame's columns), then fill gaps.\n"
            f"X = pd.get_dummies({train}[{name}], columns=TEXT_COLUMNS, dtype=float)\n"
            f"X_test = pd.get_dummies({test}[{name}], columns=TEXT_COLUMNS, dtype=float)"
            ".reindex(columns=X.columns, fill_value=0)\n"
            "medians = X.median()\n"
            "X = X.fillna(medians)\n"
            "X_test = X_test.fillna(medians)"
        ),
        keywords=("one-hot", "one hot", "get_dummies", "encode", "categorical"),
        columns=tuple(columns),
    )


def _mean_per_id(features: tuple[str, list[str]], ids: list[str], target: str, train: str, test: str) -> Recipe:
    """Who rated and what was rated say more than any other column of a ratings table (movielens: validation RMSE
    1.054 with the release year alone; the mean rating per user and per movie, shrunk, 0.90 on the hidden test)."""
    name, current = features
    made = [f"{c}_mean" for c in ids]
    blocks = [f"overall = {train}[{json.dumps(target)}].mean()"]
    for column, mean in zip(ids, made, strict=True):
        blocks.append(
            f'stats = {train}.groupby({json.dumps(column)})[{json.dumps(target)}].agg(["sum", "count"])\n'
            f'means = (stats["sum"] + {PSEUDO_ROWS} * overall) / (stats["count"] + {PSEUDO_ROWS})\n'
            f"{train}[{json.dumps(mean)}] = {train}[{json.dumps(column)}].map(means)\n"
            f"{test}[{json.dumps(mean)}] = {test}[{json.dumps(column)}].map(means).fillna(overall)"
        )
    return Recipe(
        name="mean target per id",
        instruction=f"After reading the data, add the mean {target} of each {' and of each '.join(ids)} as new columns "
        f"{', '.join(made)} of both tables (from the training rows, shrunk toward the overall mean with {PSEUDO_ROWS} "
        f"pseudo-rows; ids the training rows lack get the overall mean), and add them to {name}.",
        pattern=(
            f"# After the read_csv lines: the mean {target} per id, from the training rows, shrunk toward the overall"
            " mean.\n" + "\n".join(blocks) + f"\n{name} = {json.dumps([*current, *made])}"
        ),
        keywords=("target encod", "mean encod", "_mean", f"mean {target}"),
        columns=tuple(ids),
    )


def _repeated_ids(ws: Workspace, numbers: list[str]) -> tuple[list[str], str | None]:
    """Number columns named like ids (userId, movieID) whose values repeat, and the numeric target, if one."""
    import pandas as pd

    named = [c for c in numbers if _ID_NAME.search(c)]
    tables = [rel for rel in ws.files() if rel.endswith(".csv")]
    train, test = training_table(tables), held_out_table(tables)
    if not named or train is None or test is None:
        return [], None
    targets = target_columns(data_columns_of(ws.root / train), data_columns_of(ws.root / test))
    if len(targets) != 1:
        return [], None
    try:
        frame = pd.read_csv(ws.root / train, usecols=[*named, targets[0]])
    except Exception:  # unreadable: no recipe rather than a wrong one
        return [], None
    if not pd.api.types.is_numeric_dtype(frame[targets[0]]):
        return [], None
    return [c for c in named if frame[c].nunique() <= len(frame) / 2], targets[0]


def _add_numbers(features: tuple[str, list[str]], columns: list[str], train: str, test: str, encoded: bool) -> Recipe:
    """With text columns already among the features, the script encodes them before it fills gaps: only the list
    changes (a median over the raw frame would meet the text again)."""
    name, current = features
    listed = f"{name} = {json.dumps([*current, *columns])}"
    fill = (
        f"\n\nmedians = {train}[{name}].median()\nX = {train}[{name}].fillna(medians)\n"
        f"X_test = {test}[{name}].fillna(medians)"
    )
    then = "keep the encoding and filling as they are." if encoded else "fill missing values with the training medians."
    return Recipe(
        name="add number columns",
        instruction=f"Add the number columns {', '.join(columns)} to {name}; {then}",
        pattern=listed if encoded else listed + fill,
        keywords=(),
        columns=tuple(columns),
    )


def _boosted_trees(model: str) -> Recipe:
    kind = "Regressor" if model in _REGRESSORS or model.endswith("Regressor") else "Classifier"
    booster = f"HistGradientBoosting{kind}"
    return Recipe(
        name="gradient boosting",
        instruction=f"Replace {model} with {booster}(max_iter=300, learning_rate=0.05, random_state=0), imported "
        "from sklearn.ensemble; keep the features, the split, the metric and the submission as they are.",
        pattern=(
            f"from sklearn.ensemble import {booster}\n\n"
            f"# Boosted trees: non-linear, and they accept missing values as they are.\n"
            f"model = {booster}(max_iter=300, learning_rate=0.05, random_state=0)"
        ),
        keywords=("histgradientboosting", "gradient boosting", "gradientboosting"),
    )


def _richer_text_features(calls: set[str]) -> Recipe:
    vectorizer = next(v for v in _VECTORIZERS if v in calls)
    return Recipe(
        name="richer text features",
        instruction=f"Replace the {vectorizer} with TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True) "
        "with no max_features cap, and use LogisticRegression(max_iter=1000, C=4.0) as the model.",
        pattern=(
            "from sklearn.feature_extraction.text import TfidfVectorizer\n"
            "from sklearn.linear_model import LogisticRegression\n\n"
            "# Word and word-pair frequencies over the whole vocabulary seen at least twice.\n"
            "vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)\n"
            "model = LogisticRegression(max_iter=1000, C=4.0)"
        ),
        keywords=("tfidf", "tf-idf", "ngram", "bigram"),
    )


def _adam(tree: ast.Module, sgd: ast.Call) -> Recipe:
    """A small network trained with plain SGD for an epoch or two is under-trained: Adam and a few more epochs is the
    usual first lift (fashion-mnist: the 0.5B planner, offered nothing for images, asked to remove the images)."""
    params = ast.unparse(sgd.args[0])
    optimizer = next(
        (
            s.targets[0].id
            for s in tree.body
            if isinstance(s, ast.Assign) and s.value is sgd and isinstance(s.targets[0], ast.Name)
        ),
        "optimizer",
    )
    epochs = next(
        (
            (s.targets[0].id, s.value.value)
            for s in tree.body
            if isinstance(s, ast.Assign)
            and isinstance(s.targets[0], ast.Name)
            and "EPOCH" in s.targets[0].id.upper()
            and isinstance(s.value, ast.Constant)
            and type(s.value.value) is int
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


def _any_text(ws: Workspace, columns: list[str]) -> bool:
    """Whether any of these training columns holds text."""
    import pandas as pd

    train = training_table(ws.files())
    if train is None:
        return False
    try:
        frame = pd.read_csv(ws.root / train, nrows=200, usecols=columns)
    except Exception:  # unreadable: assume plain numbers, as the baseline scripts do
        return False
    return any(column_kind(frame[c]) != "number" for c in columns)


def _feature_list(tree: ast.Module, ws: Workspace) -> tuple[str, list[str]] | None:
    """The script's list of feature columns: a name bound at top level to a list of training-column strings."""
    train = training_table(ws.files())
    columns = set(data_columns_of(ws.root / train)) if train is not None else set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = stmt.value
            if isinstance(value, ast.List | ast.Tuple) and value.elts:
                names = [e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
                if len(names) == len(value.elts) and set(names) <= columns:
                    return stmt.targets[0].id, names
    return None


def _frame_names(tree: ast.Module) -> tuple[str, str]:
    """The variables holding the training and test tables (read_csv of a file named like them), else the usual."""
    found = {"train": "train", "test": "test"}
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        value = stmt.value
        if isinstance(value, ast.Call) and call_name(value) == "read_csv" and value.args:
            source = value.args[0]
            if isinstance(source, ast.Constant) and isinstance(source.value, str):
                role = next((r for r in found if re.search(r, source.value)), None)
                if role is not None:
                    found[role] = stmt.targets[0].id
    return found["train"], found["test"]
