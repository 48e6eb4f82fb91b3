"""Script shape: what a training script's frames, feature columns, target and model are, read from its syntax tree
(function bodies and `if __name__ == "__main__":` included) and matched to the workspace's tables.

The bundled scripts share one template (a top-level FEATURES list, frames named train and test); scripts written
otherwise name their frames df_train or data, list features as cols = [...], drop what they do not use
(X = df.drop(columns=[target])) or name columns inside a ColumnTransformer. Where a fact cannot be read, it is None
and the recipes built on it are not offered.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from budgetmlagent.scaffold.data_facts import data_columns_of, held_out_table, is_table, training_table
from budgetmlagent.workspace.workspace import Workspace

TABLE_READERS = {"read_csv", "read_table", "read_parquet"}
_TRANSFORMERS = {"ColumnTransformer", "make_column_transformer"}
_PIPELINES = {"Pipeline", "make_pipeline"}
_NUMBER_KINDS = {"number", "float", "int", "float64", "int64"}
_SAME_COLUMNS = {"copy", "dropna", "fillna", "reset_index", "sample", "sort_values", "query", "drop_duplicates"}


def string_of(node: ast.AST, strings: dict[str, str]) -> str | None:
    """A string constant, or a name bound to one."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return strings.get(node.id) if isinstance(node, ast.Name) else None


def call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def subscript_keys(node: ast.AST | None, lists: dict[str, list[str]]) -> list[str]:
    """String keys of a subscript: 'a', ['a', 'b'], or a name bound to a list of strings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(node, ast.Name):
        return lists.get(node.id, [])
    return []


@dataclass
class ColumnList:
    """Feature columns the script lists: bound to a variable, or written inside a ColumnTransformer."""

    columns: list[str]
    name: str | None  # the variable bound to the list; None for a list written in place
    role: str = "all"  # all (one list for every kind), number or category (the list's transformer says which)
    node: ast.expr | None = None  # the list written in place, to rewrite
    label: str = ""  # how an instruction names it
    imputed: bool = False  # its transformer fills gaps


@dataclass
class Drop:
    """X = frame.drop(columns=[...]): every column of the frame but the dropped ones is a feature."""

    frame: str  # the training or test frame it drops from
    source: str  # the variable dropped from: the frame, or a copy of it (df = train.copy())
    assigned: str
    keys: list[str]
    node: ast.expr  # the dropped list (or the name bound to it)
    numbers_only: bool = False  # .select_dtypes("number") follows


@dataclass
class Shape:
    tree: ast.Module
    train_table: str | None = None
    test_table: str | None = None
    train_columns: list[str] = field(default_factory=list)
    test_columns: list[str] = field(default_factory=list)
    train: str | None = None  # the variable read from the training table
    test: str | None = None  # the variable read from the test table
    reads: bool = False  # whether the script reads any table at all
    unresolved: bool = False  # whether it reads a table from a path not matched to a workspace file
    aliases: dict[str, str] = field(default_factory=dict)  # df = train.copy(): df is train's columns too
    lists: list[ColumnList] = field(default_factory=list)
    transformer: ast.Call | None = None  # the ColumnTransformer
    passthrough: bool = False  # ColumnTransformer(remainder="passthrough"): every column goes on
    drops: list[Drop] = field(default_factory=list)
    dropped_lists: list[ast.expr] = field(default_factory=list)  # what every frame.drop(columns=...) drops
    mode: str | None = None  # how features are chosen: transformer, list or drop; None where it cannot be read
    target: str | None = None  # from the script: y = train["target"], .pop("target"), TARGET = "target"
    calls: set[str] = field(default_factory=set)
    strings: dict[str, str] = field(default_factory=dict)
    bound_lists: dict[str, list[str]] = field(default_factory=dict)
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)

    def statement_of(self, node: ast.AST) -> ast.stmt:
        while not isinstance(node, ast.stmt):
            node = self.parents[node]
        return node

    def inside(self, node: ast.AST, names: set[str]) -> ast.Call | None:
        """The nearest call named one of names that node is an argument of, at any depth."""
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.Call) and call_name(node) in names:
                return node
        return None


def read_shape(ws: Workspace, code: str) -> Shape | None:
    """The script's shape in this workspace; None for a script that does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    files = ws.files()
    shape = Shape(tree=tree, train_table=training_table(files), test_table=held_out_table(files))
    if shape.train_table is not None:
        shape.train_columns = data_columns_of(ws.root / shape.train_table)
    if shape.test_table is not None:
        shape.test_columns = data_columns_of(ws.root / shape.test_table)
    shape.parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    shape.calls = {call_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    shape.strings, shape.bound_lists = _bindings(tree)
    _read_frames(shape, [rel for rel in files if is_table(rel)])
    _read_transformer(shape)
    _read_drops(shape)
    _read_lists(shape)
    shape.target = _script_target(shape)
    return shape


def assignments(tree: ast.Module) -> list[tuple[str, ast.expr, ast.stmt]]:
    """Every `name = value` in the script, function bodies included, pairs of a tuple assignment split."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            continue
        for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
            if isinstance(target, ast.Name):
                found.append((target.id, node.value, node))
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                same = len(target.elts) == len(node.value.elts)
                pairs = zip(target.elts, node.value.elts, strict=True) if same else []
                found += [(t.id, v, node) for t, v in pairs if isinstance(t, ast.Name)]
    return found


def _bindings(tree: ast.Module) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Names bound to one string, and to a list of strings; a name bound to two different values is neither."""
    strings: dict[str, str | None] = {}
    lists: dict[str, list[str] | None] = {}
    for name, value, _ in assignments(tree):
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            strings[name] = value.value if strings.get(name, value.value) == value.value else None
        elif isinstance(value, ast.List | ast.Tuple) and value.elts:
            keys = subscript_keys(value, {})
            good = len(keys) == len(value.elts) and lists.get(name, keys) == keys
            lists[name] = keys if good else None
    return {k: v for k, v in strings.items() if v is not None}, {k: v for k, v in lists.items() if v is not None}


def _path_text(node: ast.AST, strings: dict[str, str]) -> str | None:
    """The path an expression spells: "a.csv", a name bound to it, os.path.join(...), Path(...) / "a.csv", f"..."."""
    if isinstance(node, ast.Constant | ast.Name):
        return string_of(node, strings)
    parts: list[ast.AST] = []
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        parts = [node.left, node.right]
    elif isinstance(node, ast.Call) and call_name(node) in {"join", "Path", "PurePath"}:
        parts = list(node.args)
    elif isinstance(node, ast.JoinedStr):
        texts = [_path_text(v.value if isinstance(v, ast.FormattedValue) else v, strings) for v in node.values]
        return None if None in texts else "".join(t for t in texts if t is not None)
    texts = [_path_text(p, strings) for p in parts]
    return "/".join(t for t in texts if t is not None) if parts and None not in texts else None


def _last_piece(node: ast.AST) -> str | None:
    """The file name a path expression ends in, when the rest is unknown (a folder from a config)."""
    pieces = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return PurePosixPath(pieces[-1]).name if pieces and is_table(pieces[-1]) else None


def source_table(node: ast.AST, tables: list[str], strings: dict[str, str]) -> str | None:
    """The workspace table a reader's first argument names: its path, or its file name if only one table has it."""
    text = _path_text(node, strings)
    if text is not None:
        rel = PurePosixPath(text.replace("\\", "/")).as_posix().removeprefix("./")
        if rel in tables:
            return rel
    name = PurePosixPath(text).name if text is not None else _last_piece(node)
    matches = [rel for rel in tables if PurePosixPath(rel).name == name]
    return matches[0] if len(matches) == 1 else None


def _reader(value: ast.expr) -> ast.Call | None:
    """The table read at the root of pd.read_csv(...), pd.read_csv(...).dropna() or pd.read_csv(...)[cols]."""
    while isinstance(value, ast.Call | ast.Attribute | ast.Subscript):
        if isinstance(value, ast.Call) and call_name(value) in TABLE_READERS and value.args:
            return value
        value = value.func if isinstance(value, ast.Call) else value.value
    return None


def _read_frames(shape: Shape, tables: list[str]) -> None:
    """The variables read from the training and test tables (the first in the script for each)."""
    calls = [n for n in ast.walk(shape.tree) if isinstance(n, ast.Call) and call_name(n) in TABLE_READERS]
    shape.reads = bool(calls)
    shape.unresolved = any(not c.args or source_table(c.args[0], tables, shape.strings) is None for c in calls)
    read: dict[str, str | None] = {}
    for name, value, _ in assignments(shape.tree):
        call = _reader(value)
        if call is not None:
            rel = source_table(call.args[0], tables, shape.strings)
            read[name] = rel if read.get(name, rel) == rel else None  # read from two files: unknown
    shape.train = next((n for n, rel in read.items() if rel and rel == shape.train_table), None)
    shape.test = next((n for n, rel in read.items() if rel and rel == shape.test_table), None)
    frames = {shape.train, shape.test} - {None}
    shape.aliases = {  # df = train.copy(), train.dropna(), train.sample(frac=1)
        name: value.func.value.id
        for name, value, _ in assignments(shape.tree)
        if isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and call_name(value) in _SAME_COLUMNS
        and isinstance(value.func.value, ast.Name)
        and value.func.value.id in frames
    }


def _transformer_items(call: ast.Call) -> list[tuple[str, ast.expr, ast.expr]]:
    """(label, transformer, columns) of a ColumnTransformer([(name, t, cols), ...]) or make_column_transformer."""
    if call_name(call) == "make_column_transformer":
        items = [e for e in call.args if isinstance(e, ast.Tuple) and len(e.elts) == 2]
        return [(f"column transformer #{i + 1}", e.elts[0], e.elts[1]) for i, e in enumerate(items)]
    given = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "transformers"), None)
    if not isinstance(given, ast.List | ast.Tuple):
        return []
    items = [e for e in given.elts if isinstance(e, ast.Tuple) and len(e.elts) == 3]
    return [(ast.unparse(e.elts[0]).strip("'\""), e.elts[1], e.elts[2]) for e in items]


def _read_transformer(shape: Shape) -> None:
    call = next((n for n in ast.walk(shape.tree) if isinstance(n, ast.Call) and call_name(n) in _TRANSFORMERS), None)
    if call is None:
        return
    shape.transformer = call
    shape.passthrough = any(
        k.arg == "remainder" and not (isinstance(k.value, ast.Constant) and k.value.value == "drop")
        for k in call.keywords
    )
    known = set(shape.train_columns)
    values = {name: value for name, value, _ in assignments(shape.tree)}  # num_pipe = Pipeline([...])
    for label, transformer, columns in _transformer_items(call):
        made = values.get(transformer.id, transformer) if isinstance(transformer, ast.Name) else transformer
        calls = {call_name(n) for n in ast.walk(made) if isinstance(n, ast.Call)}
        if any("Vectorizer" in c for c in calls):
            continue  # a text column's vectorizer: not a list of features
        role = "category" if any("Encoder" in c for c in calls) else "number"
        imputed = any("Imputer" in c for c in calls)
        if isinstance(columns, ast.Name) and set(shape.bound_lists.get(columns.id, [None])) <= known:
            keys = shape.bound_lists[columns.id]
            shape.lists.append(ColumnList(keys, columns.id, role, None, columns.id, imputed))
        elif isinstance(columns, ast.List) and set(keys := subscript_keys(columns, {})) <= known:
            if len(keys) < len(columns.elts):
                break
            where = f'the ColumnTransformer\'s "{label}" columns'
            shape.lists.append(ColumnList(keys, None, role, columns, where, imputed))
        else:
            break  # columns picked by a selector, or named wrong: the transformer's lists are not all known
    else:
        return
    shape.lists = []


def _selections(shape: Shape) -> list[ast.Subscript]:
    """What picks a frame's columns: frame[NAME], frame[NUM + CAT], frame[["a", "b"]] (not frame["a"], a mask)."""
    frames = ({shape.train, shape.test} - {None}) | set(shape.aliases)
    found = []
    for node in ast.walk(shape.tree):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            chosen = node.slice
            listed = isinstance(chosen, ast.List | ast.Tuple | ast.BinOp) or (
                isinstance(chosen, ast.Name) and chosen.id in shape.bound_lists
            )
            if listed and node.value.id in (frames or {node.value.id}):
                found.append(node)
    return found


def _frame_subscript_names(shape: Shape) -> list[str]:
    """Names of lists that select a frame's columns: frame[NAME], frame[NUM + CAT]."""
    names = [
        n.id
        for s in _selections(shape)
        for n in ast.walk(s.slice)
        if isinstance(n, ast.Name) and n.id in shape.bound_lists
    ]
    return list(dict.fromkeys(names))


def _follow_aliases(shape: Shape, listed: str) -> None:
    """Where the feature list picks columns of a copy of a frame only (df = train.dropna(); X = df[features]), the
    copy is the frame the recipes write to: its rows are the ones y and the model see."""
    picked = {s.value.id for s in _selections(shape) if isinstance(s.value, ast.Name) and listed in _names_in(s.slice)}
    for role in ("train", "test"):
        base = getattr(shape, role)
        copies = {a for a, b in shape.aliases.items() if b == base and a in picked}
        if base is not None and base not in picked and len(copies) == 1:
            setattr(shape, role, copies.pop())


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _read_lists(shape: Shape) -> None:
    """Named lists of training columns the script selects features with; with no ColumnTransformer, one list is
    every feature (FEATURES, features, cols), several are told apart by their columns' kinds by the caller."""
    if shape.transformer is not None:
        named = {c.name for c in shape.lists}
        for chosen in _selections(shape):  # what the pipeline is given must be the transformer's own lists
            inside = list(ast.walk(chosen.slice))
            if (
                any(isinstance(n, ast.Constant) for n in inside)
                or {n.id for n in inside if isinstance(n, ast.Name)} - named
            ):
                shape.lists = []  # another list picks the transformer's input: two lists to keep in step, unsafe
        shape.mode = "transformer" if shape.lists else None
        return
    known = set(shape.train_columns) & (set(shape.test_columns) if shape.test_columns else set(shape.train_columns))
    dropped = {n.id for n in ast.walk(shape.tree) if isinstance(n, ast.Name) and _in_drop(shape, n)}
    candidates = [n for n, keys in shape.bound_lists.items() if set(keys) <= known and n not in dropped]
    used = [n for n in _frame_subscript_names(shape) if n in candidates]
    if not used and any(d.frame == shape.train for d in shape.drops):
        shape.mode = "drop"
        return
    for name in used or ([] if shape.reads else candidates[:1]):  # a fragment that reads nothing: its first list
        keys = shape.bound_lists[name]
        shape.lists.append(ColumnList(keys, name, "all" if len(used) <= 1 else "mixed", label=name))
    shape.mode = "list" if shape.lists else None
    if used:
        _follow_aliases(shape, used[0])


def _in_drop(shape: Shape, node: ast.AST) -> bool:
    return shape.inside(node, {"drop"}) is not None


def drop_keys(call: ast.Call, shape: Shape) -> tuple[list[str], ast.expr] | None:
    """The columns a frame.drop(...) call drops, and the node naming them; None for a drop of rows."""
    keywords = {k.arg: k.value for k in call.keywords}
    node = keywords.get("columns")
    if node is None:
        axis = keywords.get("axis")
        if not (isinstance(axis, ast.Constant) and axis.value in (1, "columns")):
            return None
        node = keywords.get("labels", call.args[0] if call.args else None)
    if node is None:
        return None
    one = string_of(node, shape.strings)
    if one is not None:
        return [one], node
    if isinstance(node, ast.List | ast.Tuple):
        keys = [string_of(e, shape.strings) for e in node.elts]
        return ([k for k in keys if k is not None], node) if keys and None not in keys else None
    keys = subscript_keys(node, shape.bound_lists)
    return (keys, node) if keys else None


def _read_drops(shape: Shape) -> None:
    """X = frame.drop(columns=[...]) of the training or test frame, assigned to a name other than the frame; and
    the columns every drop of a frame names, assigned or not (model.predict(test.drop(columns=[...])))."""
    frames = ({shape.train, shape.test} - {None}) | set(shape.aliases)
    for call in [n for n in ast.walk(shape.tree) if isinstance(n, ast.Call) and call_name(n) == "drop"]:
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        found = drop_keys(call, shape) if isinstance(receiver, ast.Name) and receiver.id in frames else None
        if found is not None:
            shape.dropped_lists.append(found[1])
    for name, value, _ in assignments(shape.tree):
        chain, root = [], value
        while isinstance(root, ast.Call | ast.Attribute) and not (
            isinstance(root, ast.Call) and call_name(root) == "drop"
        ):
            if isinstance(root, ast.Call):
                chain.append(root)
            root = root.func if isinstance(root, ast.Call) else root.value
        if not (isinstance(root, ast.Call) and isinstance(root.func, ast.Attribute)):
            continue
        source = root.func.value
        frame = shape.aliases.get(source.id, source.id) if isinstance(source, ast.Name) else None
        if not isinstance(source, ast.Name) or frame not in {shape.train, shape.test} - {None} or source.id == name:
            continue
        found = drop_keys(root, shape)
        if found is None:
            continue
        numbers = any(call_name(c) == "select_dtypes" and _numbers_only(c) for c in chain)
        unknown = any(call_name(c) == "select_dtypes" and not _numbers_only(c) for c in chain)
        if not unknown:
            shape.drops.append(Drop(str(frame), source.id, name, found[0], found[1], numbers))


def _numbers_only(call: ast.Call) -> bool:
    given = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "include"), None)
    texts = [ast.unparse(n).strip("'\"").split(".")[-1] for n in ([given] if given is not None else [])]
    if isinstance(given, ast.List | ast.Tuple):
        texts = [ast.unparse(n).strip("'\"").split(".")[-1] for n in given.elts]
    return bool(texts) and all(t in _NUMBER_KINDS for t in texts)


def _script_target(shape: Shape) -> str | None:
    """What the script predicts: y = train["t"], y = train[TARGET], train.pop("t"), else a TARGET = "t" name."""
    columns = set(shape.train_columns)
    for name, value, _ in assignments(shape.tree):
        lowered = name.lower()
        if not (lowered.startswith("y") or "target" in lowered or "label" in lowered):
            continue
        for node in ast.walk(value):
            key = None
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == shape.train:
                key = string_of(node.slice, shape.strings)
            elif isinstance(node, ast.Call) and call_name(node) == "pop" and node.args:
                key = string_of(node.args[0], shape.strings)
            if key in columns:
                return key
    named = [v for k, v in shape.strings.items() if ("target" in k.lower() or "label" in k.lower()) and v in columns]
    return named[0] if len(named) == 1 else None


def pipeline_of(shape: Shape, call: ast.Call) -> ast.Call | None:
    """The Pipeline or make_pipeline the estimator is a step of, if any."""
    return shape.inside(call, _PIPELINES)


def rewritten(stmt: ast.stmt, swaps: list[tuple[ast.AST, ast.AST]]) -> str:
    """A statement's source with nodes replaced (the script's own tree is left as it was)."""
    wanted = {_position(old): new for old, new in swaps}

    class _Swap(ast.NodeTransformer):
        def visit(self, node: ast.AST) -> ast.AST:
            new = wanted.get(_position(node))
            return new if new is not None else self.generic_visit(node)

    return ast.unparse(_Swap().visit(copy.deepcopy(stmt)))


def _position(node: ast.AST) -> tuple[object, ...]:
    return (
        type(node).__name__,
        *(getattr(node, a, None) for a in ("lineno", "col_offset", "end_lineno", "end_col_offset")),
    )


def rewritten_statements(shape: Shape, swaps: list[tuple[ast.AST, ast.AST]]) -> list[str]:
    """Each simple statement holding a swapped node, rewritten once, in the script's order (a loop or a block
    holding one is left out: it would be shown whole)."""
    by_statement: dict[ast.stmt, list[tuple[ast.AST, ast.AST]]] = {}
    for old, new in swaps:
        stmt = shape.statement_of(old)
        if not hasattr(stmt, "body"):
            by_statement.setdefault(stmt, []).append((old, new))
    ordered = sorted(by_statement, key=lambda s: (s.lineno, s.col_offset))
    return [rewritten(stmt, by_statement[stmt]) for stmt in ordered]


def parsed_call(source: str) -> ast.Call:
    node = ast.parse(source, mode="eval").body
    if not isinstance(node, ast.Call):
        raise ValueError(f"not a call: {source}")
    return node
