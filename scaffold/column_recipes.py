"""Column recipes: the training columns a script leaves out, brought into its features in the script's own shape:
one feature list (the bundled template's FEATURES = [...], or features, cols), the lists of a ColumnTransformer, or
X = df.drop(columns=[...]) (every column but the dropped ones). A shape they cannot be fitted to gets none.

The 1.5B planner named the right idea (use the text columns) in vague words and its coder broke it (median() over
a text column), run after run: each recipe is a ready instruction with this script's names, and code of the shape
known to work.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass

from budgetmlagent.scaffold.data_facts import FULL_ROWS, column_kind, id_roles, read_table
from budgetmlagent.scaffold.model_recipes import Recipe
from budgetmlagent.scaffold.script_shape import (
    ColumnList,
    Shape,
    assignments,
    call_name,
    parsed_call,
    rewritten_statements,
    string_of,
)
from budgetmlagent.workspace.workspace import Workspace

# At most this many columns go into one recipe: a 1.5B coder copies a short list reliably.
RECIPE_COLUMNS = 8
# A mean per id leans on rare ids less with a few pseudo-rows at the overall mean.
PSEUDO_ROWS = 10
_ENCODE_KEYWORDS = ("one-hot", "one hot", "get_dummies", "encode", "categorical")
_NEW_STEPS = {
    "number": ("more_numbers", 'SimpleImputer(strategy="median")', "from sklearn.impute import SimpleImputer"),
    "category": ("text", 'OneHotEncoder(handle_unknown="ignore")', "from sklearn.preprocessing import OneHotEncoder"),
    "made": ("id_means", '"passthrough"', None),
}


@dataclass
class Plan:
    """What the column recipes are made of: the frames' variables and the columns to bring in."""

    shape: Shape
    train: str
    test: str | None  # None where the script does not read the test table
    numbers: list[str]
    categories: list[str]
    ids: list[str]  # repeated ids (who or what a row is about), with a numeric target
    target: str
    gaps: set[str]  # of the numbers, those with missing values


def column_recipes(ws: Workspace, shape: Shape, kinds: dict[str, list[str]], target: str | None) -> list[Recipe]:
    """Mean target per id, encode text categories, add number columns: those the script's shape allows."""
    train = shape.train or (None if shape.reads else "train")  # a script reading nothing: the usual names
    test = shape.test or (None if shape.reads else "test")
    if train is None or shape.mode is None or shape.train_table is None:
        return []  # the frames or the features are not known: the models plan on their own
    if test is None and shape.test_table is not None and shape.unresolved:
        return []  # it may read the test table by a path not read here: new columns would be missing there
    path = ws.root / shape.train_table
    left_out = [*kinds.get("number", []), *kinds.get("category", [])]
    roles = id_roles(path, left_out) if left_out else {}
    ids = [c for c in left_out if roles.get(c) == "repeated id"]
    numbers = [c for c in kinds.get("number", []) if c not in ids][:RECIPE_COLUMNS]
    categories = [c for c in kinds.get("category", []) if c not in ids][:RECIPE_COLUMNS]
    numeric = target is not None and _numeric(ws, shape, target)
    plan = Plan(shape, train, test, numbers, categories, ids[:2] if numeric else [], target or "", set())
    plan.gaps = _gaps(ws, shape, numbers)
    if shape.mode == "drop":
        return _drop_recipes(plan)
    lists = _lists_by_role(ws, shape)
    if lists is None:
        return []
    if "all" in lists:
        return _template_recipes(ws, plan, lists["all"])
    return _role_recipes(plan, lists.get("number"), lists.get("category"))


def _numeric(ws: Workspace, shape: Shape, target: str) -> bool:
    import pandas as pd

    try:
        column = read_table(ws.root / str(shape.train_table), nrows=200, usecols=[target])[target]
    except Exception:  # unreadable: no recipe rather than a wrong one
        return False
    return bool(pd.api.types.is_numeric_dtype(column))


def _gaps(ws: Workspace, shape: Shape, columns: list[str]) -> set[str]:
    """The columns with missing values in the training or the test table."""
    found: set[str] = set()
    for rel, header in ((shape.train_table, shape.train_columns), (shape.test_table, shape.test_columns)):
        wanted = [c for c in columns if c in header]
        if rel is None or not wanted:
            continue
        try:
            frame = read_table(ws.root / rel, nrows=FULL_ROWS, usecols=wanted)
        except Exception:  # unreadable: every column may have gaps
            return set(columns)
        found |= {c for c in wanted if frame[c].isna().any()}
    return found


def _lists_by_role(ws: Workspace, shape: Shape) -> dict[str, ColumnList] | None:
    """The feature lists by what they hold: one list of every kind (all), or a number list and a category list
    (told by their transformer, or by their columns' kinds); None where two lists cannot be told apart."""
    if shape.mode == "list" and len(shape.lists) == 1:
        return {"all": shape.lists[0]}
    roles: dict[str, ColumnList] = {}
    for listed in shape.lists:
        role = listed.role
        if role == "mixed":
            try:
                frame = read_table(ws.root / str(shape.train_table), nrows=200, usecols=listed.columns)
            except Exception:  # unreadable: the lists cannot be told apart
                return None
            kinds = {column_kind(frame[c]) == "number" for c in listed.columns}
            role = "number" if kinds == {True} else "category" if kinds == {False} else "?"
        if role == "?" or (role in roles and shape.mode == "list"):
            return None
        roles.setdefault(role, listed)
    return roles


def _made(ids: list[str]) -> list[str]:
    return [f"{c}_mean" for c in ids]


def _lines(*lines: str | None) -> str:
    return "\n".join(line for line in lines if line is not None)


def _mean_per_id(plan: Plan, then: str, listed: str | None) -> Recipe:
    """Who rated and what was rated say more than any other column of a ratings table (movielens: validation RMSE
    1.054 with the release year alone; the mean rating per user and per movie, shrunk, 0.90 on the hidden test)."""
    train, test, target, ids = plan.train, plan.test, plan.target, plan.ids
    blocks = [f"overall = {train}[{json.dumps(target)}].mean()"]
    for column, mean in zip(ids, _made(ids), strict=True):
        blocks.append(
            _lines(
                f'stats = {train}.groupby({json.dumps(column)})[{json.dumps(target)}].agg(["sum", "count"])',
                f'means = (stats["sum"] + {PSEUDO_ROWS} * overall) / (stats["count"] + {PSEUDO_ROWS})',
                f"{train}[{json.dumps(mean)}] = {train}[{json.dumps(column)}].map(means)",
                f"{test}[{json.dumps(mean)}] = {test}[{json.dumps(column)}].map(means).fillna(overall)"
                if test
                else None,
            )
        )
    tables = "both tables" if test else "the training table"
    return Recipe(
        name="mean target per id",
        instruction=f"After reading the data, add the mean {target} of each {' and of each '.join(ids)} as new columns "
        f"{', '.join(_made(ids))} of {tables} (from the training rows, shrunk toward the overall mean with "
        f"{PSEUDO_ROWS} pseudo-rows; ids the training rows lack get the overall mean), {then}",
        pattern=_lines(
            f"# After the read_csv lines: the mean {target} per id, from the training rows, shrunk toward the overall"
            " mean.",
            *blocks,
            listed,
        ),
        keywords=("target encod", "mean encod", "_mean", f"mean {target}"),
        columns=tuple(ids),
    )


def _template_recipes(ws: Workspace, plan: Plan, features: ColumnList) -> list[Recipe]:
    """One list of every feature (the bundled template): the new columns join it, text one-hot encoded."""
    name, current, train, test = str(features.name), features.columns, plan.train, plan.test
    recipes = []
    if plan.ids:
        listed = f"{name} = {json.dumps([*current, *_made(plan.ids)])}"
        recipes.append(_mean_per_id(plan, f"and add them to {name}.", listed))
    if plan.categories:
        columns = plan.categories
        recipes.append(
            Recipe(
                name="encode text categories",
                instruction=f"Add the text columns {', '.join(columns)} to {name} and one-hot encode them with "
                "pd.get_dummies; the test data gets the training data's dummy columns; fill missing values with the "
                "training medians.",
                pattern=_lines(
                    f"{name} = {json.dumps([*current, *columns])}",
                    f"TEXT_COLUMNS = {json.dumps(columns)}  # the text categories among {name}\n",
                    "# One-hot encode the text columns (the test frame gets the training frame's columns), then fill"
                    " gaps.",
                    f"X = pd.get_dummies({train}[{name}], columns=TEXT_COLUMNS, dtype=float)",
                    f"X_test = pd.get_dummies({test}[{name}], columns=TEXT_COLUMNS, dtype=float)"
                    ".reindex(columns=X.columns, fill_value=0)"
                    if test
                    else None,
                    "medians = X.median()",
                    "X = X.fillna(medians)",
                    "X_test = X_test.fillna(medians)" if test else None,
                ),
                keywords=_ENCODE_KEYWORDS,
                columns=tuple(columns),
            )
        )
    if plan.numbers:
        recipes.append(_template_numbers(plan, name, current, _any_text(ws, plan.shape, current)))
    return recipes


def _template_numbers(plan: Plan, name: str, current: list[str], encoded: bool) -> Recipe:
    """With text columns already among the features, the script encodes them before it fills gaps: only the list
    changes (a median over the raw frame would meet the text again)."""
    train, test, columns = plan.train, plan.test, plan.numbers
    listed = f"{name} = {json.dumps([*current, *columns])}"
    fill = _lines(
        "",
        f"medians = {train}[{name}].median()",
        f"X = {train}[{name}].fillna(medians)",
        f"X_test = {test}[{name}].fillna(medians)" if test else None,
    )
    then = "keep the encoding and filling as they are." if encoded else "fill missing values with the training medians."
    return Recipe(
        name="add number columns",
        instruction=f"Add the number columns {', '.join(columns)} to {name}; {then}",
        pattern=listed if encoded else f"{listed}\n{fill}",
        keywords=(),
        columns=tuple(columns),
    )


def _any_text(ws: Workspace, shape: Shape, columns: list[str]) -> bool:
    """Whether any of these training columns holds text."""
    try:
        frame = read_table(ws.root / str(shape.train_table), nrows=200, usecols=columns)
    except Exception:  # unreadable: assume plain numbers, as the baseline scripts do
        return False
    return any(column_kind(frame[c]) != "number" for c in columns)


def _role_recipes(plan: Plan, numbers: ColumnList | None, categories: ColumnList | None) -> list[Recipe]:
    """A number list and a category list (a ColumnTransformer's, or two lists the script encodes apart): each new
    column joins the list of its kind, or a new transformer step where the ColumnTransformer has none."""
    shape, recipes = plan.shape, []
    if plan.ids:
        put = _put(shape, numbers, _made(plan.ids), "made")
        if put is not None:
            recipes.append(_mean_per_id(plan, f"and add them to {put[1]}.", put[0]))
    put = _put(shape, categories, plan.categories, "category") if plan.categories else None
    if put is not None:
        recipes.append(
            Recipe(
                name="encode text categories",
                instruction=f"Add the text columns {', '.join(plan.categories)} to {put[1]} (one-hot encoded, "
                'with handle_unknown="ignore"); keep the model, the split and the submission as they are.',
                pattern=put[0],
                keywords=_ENCODE_KEYWORDS,
                columns=tuple(plan.categories),
            )
        )
    filled = numbers is None or numbers.imputed or "fillna" in shape.calls
    columns = [c for c in plan.numbers if filled or c not in plan.gaps]  # a gap would reach the model
    put = _put(shape, numbers, columns, "number") if columns else None
    if put is not None:
        recipes.append(
            Recipe(
                name="add number columns",
                instruction=f"Add the number columns {', '.join(columns)} to {put[1]}; keep the rest as it is.",
                pattern=put[0],
                keywords=(),
                columns=tuple(columns),
            )
        )
    return recipes


def _put(shape: Shape, listed: ColumnList | None, columns: list[str], role: str) -> tuple[str, str] | None:
    """The code that adds columns (number, category, or made by a recipe) to a feature list, and how an
    instruction names where they go."""
    unknown = _ignore_unknown(shape) if role == "category" else []
    if listed is not None and listed.name is not None:
        extended = f"{listed.name} = {json.dumps([*listed.columns, *columns])}"
        return _lines(extended, *rewritten_statements(shape, unknown)), listed.name
    if listed is not None and isinstance(listed.node, ast.List):
        grown = ast.List(elts=[*listed.node.elts, *(ast.Constant(c) for c in columns)], ctx=ast.Load())
        return _lines(*rewritten_statements(shape, [(listed.node, grown), *unknown])), listed.label
    transformer = shape.transformer
    if transformer is None:
        return None  # two lists the script encodes its own way, and none of this kind: unknown how to add
    label, step, imported = _NEW_STEPS[role]
    if call_name(transformer) == "make_column_transformer":
        grown_call = parsed_call(ast.unparse(transformer))
        grown_call.args.append(ast.parse(f"({step}, {json.dumps(columns)})", mode="eval").body)
        swaps: list[tuple[ast.AST, ast.AST]] = [(transformer, grown_call)]
    else:
        given = transformer.args[0] if transformer.args else None
        if not isinstance(given, ast.List):
            return None
        added = ast.parse(f"({json.dumps(label)}, {step}, {json.dumps(columns)})", mode="eval").body
        swaps = [(given, ast.List(elts=[*given.elts, added], ctx=ast.Load()))]
    missing = imported if imported and imported.split()[-1] not in _imported(shape) else None
    return _lines(
        missing, *rewritten_statements(shape, [*swaps, *unknown])
    ), f'a new "{label}" step of the ColumnTransformer'


def _ignore_unknown(shape: Shape) -> list[tuple[ast.AST, ast.AST]]:
    """OneHotEncoder calls given handle_unknown="ignore": a test row may hold a value the training rows lack."""
    swaps: list[tuple[ast.AST, ast.AST]] = []
    for node in ast.walk(shape.tree):
        if isinstance(node, ast.Call) and call_name(node) == "OneHotEncoder" and not node.keywords:
            swaps.append((node, parsed_call('OneHotEncoder(handle_unknown="ignore")')))
    return swaps


def _imported(shape: Shape) -> set[str]:
    return {
        a.asname or a.name for n in ast.walk(shape.tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names
    }


def _drop_recipes(plan: Plan) -> list[Recipe]:
    """X = frame.drop(columns=[...]): a column comes in by no longer being dropped (made columns by being made
    before X is), text one-hot encoded after X is made."""
    shape, recipes = plan.shape, []
    drop = next(d for d in shape.drops if d.frame == shape.train)
    test_drop = next((d for d in shape.drops if d.frame == shape.test), None) if shape.test else None
    x, x_test = drop.assigned, test_drop.assigned if test_drop else None
    dropped = set(drop.keys)
    made_where = f"{x} = {drop.source}.drop(...)"
    plan.train, plan.test = drop.source, test_drop.source if test_drop else plan.test  # the frames X is made from
    if plan.ids:
        recipes.append(_mean_per_id(plan, f"before {made_where} (which then keeps them).", None))
    categories = [c for c in plan.categories if c in dropped and not drop.numbers_only]
    if categories and (plan.test is None or x_test is not None):
        listed = json.dumps(categories)
        recipes.append(
            Recipe(
                name="encode text categories",
                instruction=f"Stop dropping the text columns {', '.join(categories)} in {made_where} and one-hot "
                f"encode them with pd.get_dummies right after {x} is made"
                + (f"; {x_test} gets {x}'s dummy columns." if x_test else "."),
                pattern=_lines(
                    _undropped(shape, categories),
                    f"{x} = pd.get_dummies({x}, columns={listed}, dtype=float)",
                    f"{x_test} = pd.get_dummies({x_test}, columns={listed}, dtype=float)"
                    f".reindex(columns={x}.columns, fill_value=0)"
                    if x_test
                    else None,
                ),
                keywords=_ENCODE_KEYWORDS,
                columns=tuple(categories),
            )
        )
    numbers = [c for c in plan.numbers if c in dropped and (x_test or not plan.test or c not in plan.gaps)]
    if numbers:
        gaps = json.dumps([c for c in numbers if c in plan.gaps])
        fill = (
            _lines(
                f"medians = {x}[{gaps}].median()",
                f"{x}[{gaps}] = {x}[{gaps}].fillna(medians)",
                f"{x_test}[{gaps}] = {x_test}[{gaps}].fillna(medians)" if x_test else None,
            )
            if gaps != "[]"
            else None
        )
        recipes.append(
            Recipe(
                name="add number columns",
                instruction=f"Stop dropping the number columns {', '.join(numbers)} in {made_where}"
                + ("; fill their missing values with the training medians." if fill else "; keep the rest as it is."),
                pattern=_lines(_undropped(shape, numbers), fill),
                keywords=(),
                columns=tuple(numbers),
            )
        )
    return recipes


def _undropped(shape: Shape, columns: list[str]) -> str:
    """The statements that drop these columns from a frame (or bind the list they drop), no longer dropping them."""
    swaps: dict[int, tuple[ast.AST, ast.AST]] = {}
    for dropped in shape.dropped_lists:
        node: ast.AST | None = dropped
        if isinstance(node, ast.Name):  # DROP = [...] bound once, dropped by name
            node = next((v for n, v, _ in assignments(shape.tree) if n == dropped.id and isinstance(v, ast.List)), None)
        if isinstance(node, ast.List | ast.Tuple):
            kept = [e for e in node.elts if string_of(e, shape.strings) not in columns]
            if len(kept) < len(node.elts):
                swaps[id(node)] = (node, ast.List(elts=kept, ctx=ast.Load()))
    return _lines(*rewritten_statements(shape, list(swaps.values())))
