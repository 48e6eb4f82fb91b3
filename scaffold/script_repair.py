"""Restores what a small coder dropped: definitions a rewritten script still uses but no longer makes.

A 1.5B coder asked to splice a block into a 26-line script returned it without `y = train["survived"]` (and, in
other samples, without the data loading): the run then died on a NameError the debugger rarely fixed. Putting the
original line back before its first use is exact, costs no model call, and leaves every intended change alone.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import importlib.util
from collections.abc import Collection
from pathlib import Path

from budgetmlagent.scaffold.code_facts import subscript_keys
from budgetmlagent.scaffold.twin_names import define_by_twins

# A whole-file rewrite of a script this long that keeps under half its lines is a cut-off reply, not an edit.
SHRINK_CHECK_LINES = 10
_ALWAYS_BOUND = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_RESTORABLE = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)
# How much closer in text (difflib ratio) one nested assignment must be than the next for a fragment to rewrite it.
NESTED_MATCH_MARGIN = 0.15


def lost_lines(original: str, new_text: str) -> str | None:
    """Why a whole-script reply is a cut-off fragment rather than an edit: it keeps under half the lines."""
    before, after = len(original.splitlines()), len(new_text.splitlines())
    if before < SHRINK_CHECK_LINES or after >= before / 2:
        return None
    return f"the reply has {after} lines where the script has {before}"


def repair_reply(
    original: str, reply: str, data_columns: Collection[str] = (), workspace: Path | None = None
) -> tuple[str, list[str]]:
    """A whole-script reply made whole: a fragment merged into the original (see merge_fragment), definitions it
    dropped put back (see restore_lost_definitions), and, given the data's columns, lines that make new columns
    moved up before their first use (see hoist_made_columns), and, given the workspace, imports of packages that are
    not installed and not used dropped (see drop_missing_imports); also one note per repair, for the observation."""
    notes: list[str] = []
    short = lost_lines(original, reply) or _lost_calls(original, reply)
    merged = merge_fragment(original, reply) if short is not None else None
    if merged is not None:
        notes.append(
            f"The reply held only part of the script ({short}); it was merged into the script by the names it assigns."
        )
        reply = merged
    elif lost_lines(original, reply) is not None:
        return reply, []  # an unmergeable fragment is refused whole (vetting's lost_lines), not padded out to pass
    reply, rewritten = restore_dropped_writes(original, reply)
    if rewritten:
        notes.append(
            f"The reply dropped the lines that write {', '.join(rewritten)}, which the task needs; they were put back "
            "at the end of the script."
        )
    reply, restored = restore_lost_definitions(original, reply)
    if restored:
        notes.append("Lines the new code still needs but had dropped were put back: " + "; ".join(restored))
    reply, twins = define_by_twins(reply, undefined_names(reply))
    if twins:
        notes.append("Names the script reads but never defined were defined like their twins: " + "; ".join(twins))
    if data_columns:
        reply, moved = hoist_made_columns(reply, data_columns)
        if moved:
            notes.append(
                f"The lines that make {', '.join(moved)} came after the first line that reads them; they were moved "
                "up to just before it."
            )
    if workspace is not None:
        reply, dropped, used = drop_missing_imports(reply, workspace)
        if dropped:
            notes.append(f"Imports of packages that are not installed and not used were removed: {', '.join(dropped)}.")
        if used:
            notes.append(
                f"Not installed here, but the script uses: {', '.join(used)}. Rewrite those lines with the installed "
                "packages (numpy, pandas, scikit-learn, torch) or without them."
            )
    return reply, notes


def drop_missing_imports(code: str, workspace: Path) -> tuple[str, list[str], list[str]]:
    """`code` without its top-level imports of modules that are neither installed nor files of the workspace, where
    nothing reads the names they bind (a starter's `import seaborn` left over from plotting); also the imports
    dropped, and the missing modules that are used (those need a real change, which the note asks for)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, [], []
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    lines = code.splitlines(keepends=True)
    dropped: list[str] = []
    used: list[str] = []
    for stmt in reversed(tree.body):  # bottom up, so earlier line numbers stay valid
        missing = _missing_modules(stmt, workspace) if isinstance(stmt, ast.Import | ast.ImportFrom) else []
        if not missing:
            continue
        if _bound_by(stmt) & read or any(alias.name == "*" for alias in stmt.names):
            used.extend(missing)
            continue
        start, end = _span(stmt)
        dropped.append(ast.get_source_segment(code, stmt) or ", ".join(missing))
        del lines[start:end]
    return "".join(lines), dropped[::-1], used[::-1]


def _missing_modules(stmt: ast.Import | ast.ImportFrom, workspace: Path) -> list[str]:
    """The modules an import names that resolve nowhere: not installed for this interpreter, not a file or folder of
    the workspace. Relative imports are the workspace's own."""
    if isinstance(stmt, ast.ImportFrom):
        names = [stmt.module] if stmt.module and not stmt.level else []
    else:
        names = [alias.name for alias in stmt.names]
    missing = []
    for name in names:
        top = name.split(".")[0]
        if (workspace / f"{top}.py").is_file() or (workspace / top).is_dir():
            continue
        try:
            found = importlib.util.find_spec(top) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(top)
    return missing


def hoist_made_columns(code: str, data_columns: Collection[str]) -> tuple[str, list[str]]:
    """`code` with the block that makes new columns moved up to just before the first top-level statement that reads
    one of them; also those columns, for the observation. Unchanged when nothing reads a column before it is made,
    or when the block needs something computed in between (moving it would break it) or rebinds a name read there.

    The 1.5B coder pasted the mean-per-id recipe after `model.fit` with the new columns already in FEATURES, so
    `train[FEATURES]` died on a KeyError, and three debugger attempts did not move it (movielens-rating, twice)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, []
    body, known = tree.body, set(data_columns)
    lists: dict[str, list[str]] = {}
    first_read: dict[tuple[str, str], int] = {}  # (frame, column) -> statement index
    made_at: dict[tuple[str, str], int] = {}
    for index, stmt in enumerate(body):
        for key in _columns_read(stmt, lists):
            if key[1] not in known and key not in made_at:
                first_read.setdefault(key, index)
        for key in _columns_made(stmt, lists):
            if key[1] not in known:
                made_at.setdefault(key, index)
        one_name = isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
        if one_name and isinstance(stmt.value, ast.List | ast.Tuple):
            lists[stmt.targets[0].id] = subscript_keys(stmt.value, {})
    early = sorted(key for key, index in first_read.items() if key in made_at and made_at[key] > index)
    if not early:
        return code, []
    reader, end = min(first_read[c] for c in early), max(made_at[c] for c in early)
    start, needed = end, _loaded_by(body[end])
    while start - 1 > reader:  # the statements just above that feed the block (means = ..., overall = ...)
        above = body[start - 1]
        if not (_bound_by(above) & needed or _columns_made(above, lists) & set(early)):
            break
        start -= 1
        needed |= _loaded_by(above)
    block = body[start : end + 1]
    if any(made_at[c] < start for c in early):
        return code, []
    available = set(_ALWAYS_BOUND).union(*(_bound_by(s) for s in body[:reader]))
    for stmt in block:
        if _loaded_by(stmt) - available - _bound_by(stmt):
            return code, []  # it needs something computed after the reader
        available |= _bound_by(stmt)
    rebound = set().union(*(_bound_by(s) for s in block))
    if rebound & set().union(*(_loaded_by(s) for s in body[reader:start])):
        return code, []
    lines = code.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    first, last = _span(block[0])[0], _span(block[-1])[1]
    while first > 0 and lines[first - 1].lstrip().startswith("#"):
        first -= 1  # its comment moves with it
    moved = lines[first:last]
    del lines[first:last]
    at = _span(body[reader])[0]
    while at > 0 and lines[at - 1].lstrip().startswith("#"):
        at -= 1  # above the reader's own comment
    lines[at:at] = [*moved, "\n"]
    hoisted = "".join(lines)
    try:
        ast.parse(hoisted)
    except SyntaxError:
        return code, []
    return hoisted, sorted({column for _, column in early})


def _columns_read(stmt: ast.stmt, lists: dict[str, list[str]]) -> set[tuple[str, str]]:
    """(frame, column) pairs a statement reads: train["a"], train[["a", "b"]], train[FEATURES]."""
    return {
        (node.value.id, key)
        for node in ast.walk(stmt)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
        for key in subscript_keys(node.slice, lists)
    }


def _columns_made(stmt: ast.stmt, lists: dict[str, list[str]]) -> set[tuple[str, str]]:
    """(frame, column) pairs an assignment makes: train["a"] = ..."""
    if not isinstance(stmt, ast.Assign):
        return set()
    return {
        (target.value.id, key)
        for target in stmt.targets
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
        for key in subscript_keys(target.slice, lists)
    }


def _lost_calls(original: str, reply: str) -> str | None:
    """Why a reply is only the changed lines: it drops most of the original's top-level calls (fit, print, to_csv),
    which a whole-script rewrite keeps. Catches fragments too long for lost_lines, such as a recipe's ten lines."""
    try:
        old, new = ast.parse(original), ast.parse(reply)
    except SyntaxError:
        return None
    calls, replied = _top_level_calls(old), _top_level_calls(new)
    missing = [c for c in calls if c not in replied]
    if len(calls) < 2 or len(missing) * 2 <= len(calls) or any(c not in calls for c in replied):
        return None  # a rewrite with calls of its own (a new print, a pipeline's fit) is a rewrite, not a fragment
    return f"it leaves out {len(missing)} of the script's {len(calls)} top-level calls"


def _top_level_calls(tree: ast.Module) -> list[str]:
    return [ast.unparse(s) for s in tree.body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]


def _bound_by(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds (assignments, imports, loop and with targets, definitions, handlers)."""
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _loaded_by(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement reads when it runs (not inside function or class bodies, which run later)."""
    names: set[str] = set()
    pending: list[ast.AST] = [stmt]
    while pending:
        node = pending.pop()
        if isinstance(node, _SCOPES):
            pending.extend(getattr(node, "decorator_list", []))  # decorators run now, bodies later
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


def _has_star_import(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree))


def undefined_names(code: str) -> dict[str, int]:
    """Name -> index of the first top-level statement that reads it before anything binds it. Conservative: a
    script that does not parse or star-imports reports nothing (the run will tell)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    if _has_star_import(tree):
        return {}
    bound: set[str] = set(_ALWAYS_BOUND)
    missing: dict[str, int] = {}
    for index, stmt in enumerate(tree.body):
        made = _bound_by(stmt)
        for name in _loaded_by(stmt) - bound - made:
            missing.setdefault(name, index)
        bound |= made
    return missing


# Calls that write a file named by their first argument (pandas, numpy, torch, joblib, pickle).
_WRITERS = frozenset({"to_csv", "to_parquet", "to_json", "to_pickle", "save", "savez", "savetxt", "dump"})


def written_files(stmt: ast.stmt) -> set[str]:
    """File names a top-level statement writes by a literal name: `frame.to_csv("submission.csv")`, `np.save(...)`,
    `open("out.txt", "w")`."""
    names: set[str] = set()
    for node in ast.walk(stmt):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        attr = node.func.attr if isinstance(node.func, ast.Attribute) else None
        mode = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "mode"), None)
        writes_mode = isinstance(mode, ast.Constant) and isinstance(mode.value, str) and mode.value[:1] in "wax"
        if attr in _WRITERS or (getattr(node.func, "id", "") == "open" and writes_mode):
            names.add(first.value)
    return names


def restore_dropped_writes(original: str, new: str) -> tuple[str, list[str]]:
    """`new` with the original's top-level statements that write a file it no longer names put back at its end (the
    lines they need follow from restore_lost_definitions); also the files, for the observation. A 1.5B coder asked
    to fill a skeleton's gap returned the script without its last six lines, the ones writing submission.csv: the
    run passed and the task could not be scored."""
    try:
        old_tree, new_tree = ast.parse(original), ast.parse(new)
    except SyntaxError:
        return new, []
    named = {n.value for n in ast.walk(new_tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    dropped = [stmt for stmt in old_tree.body if written_files(stmt) and not written_files(stmt) & named]
    if not dropped:
        return new, []
    texts = [ast.get_source_segment(original, stmt) or ast.unparse(stmt) for stmt in dropped]
    files = sorted(set().union(*(written_files(stmt) for stmt in dropped)))
    return new.rstrip("\n") + "\n\n" + "\n".join(texts) + "\n", files


def restore_lost_definitions(original: str, new: str) -> tuple[str, list[str]]:
    """`new` with the original's top-level assignments and imports of names it reads but never binds put back before
    their first use, together with the original lines those need (`import pandas as pd` before `train =
    pd.read_csv(...)`); also the restored lines, for the observation. A name the original cannot make whole stays
    missing, for the run and the debugger to report."""
    missing = undefined_names(new)
    if not missing:
        return new, []
    try:
        old_tree, new_tree = ast.parse(original), ast.parse(new)
    except SyntaxError:
        return new, []
    definers: dict[str, ast.stmt] = {}
    for stmt in old_tree.body:
        if isinstance(stmt, _RESTORABLE):
            for name in _bound_by(stmt):
                definers.setdefault(name, stmt)
    bound_before: list[set[str]] = []
    bound: set[str] = set(_ALWAYS_BOUND)
    for stmt in new_tree.body:
        bound_before.append(set(bound))
        bound |= _bound_by(stmt)
    insertions: dict[int, list[ast.stmt]] = {}  # statement index in `new` -> original statements to put before it
    placed: list[ast.stmt] = []  # missing names are visited in order of first use, so earlier insertions count
    for name, index in sorted(missing.items(), key=lambda item: item[1]):
        available = bound_before[index].union(*(_bound_by(s) for s in placed))
        for stmt in _definition_chain(name, available, definers, depth=0) or []:
            if stmt not in placed:
                placed.append(stmt)
                insertions.setdefault(index, []).append(stmt)
    restored = [s for index in sorted(insertions) for s in sorted(insertions[index], key=lambda s: s.lineno)]
    if not restored:
        return new, []
    lines = new.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for index in sorted(insertions, reverse=True):
        at = new_tree.body[index].lineno - 1
        decorators = getattr(new_tree.body[index], "decorator_list", [])
        at = min([at, *(d.lineno - 1 for d in decorators)])
        texts = [ast.get_source_segment(original, s) or "" for s in sorted(insertions[index], key=lambda s: s.lineno)]
        lines[at:at] = [text + "\n" for text in texts]
    return "".join(lines), [ast.get_source_segment(original, s) or "" for s in restored]


MAX_CHAIN = 6


def _definition_chain(name: str, bound: set[str], definers: dict[str, ast.stmt], depth: int) -> list[ast.stmt] | None:
    """The original statements that make `name` given what is `bound`, inputs first; None when one cannot be made."""
    stmt = definers.get(name)
    if stmt is None or depth > MAX_CHAIN:
        return None
    chain: list[ast.stmt] = []
    made = set(bound)
    for needed in sorted(_loaded_by(stmt) - bound - _bound_by(stmt)):
        if needed in made:
            continue
        inputs = _definition_chain(needed, made, definers, depth + 1)
        if inputs is None:
            return None
        for s in inputs:
            if s not in chain:
                chain.append(s)
                made |= _bound_by(s)
    return [*chain, stmt]


def _assigned(stmt: ast.stmt) -> set[str]:
    """Names an assignment or import statement binds; empty for anything else."""
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign | ast.Import | ast.ImportFrom):
        return _bound_by(stmt)
    return set()


def merge_fragment(original: str, fragment: str) -> str | None:
    """The original script with a partial reply merged in by the names it assigns, or None when it cannot be.

    Small coders often return only the lines they changed (`FEATURES = [...]` alone, or the four lines of a recipe)
    where the whole script was asked for. Each assignment in the fragment replaces the original's next assignment
    to the same names; the original's other assignments to those names go (a stale `medians = train[...].median()`
    would meet the new text columns); new imports go to the top; other new lines go just before the next replaced
    line, or after the last one. Statements the original already has word for word are kept once. New lines that
    read a name the original (re)binds at or after their place (in either case) go just after that binding
    instead: a recipe's `train["id_mean"] = ...` placed above `train = pd.read_csv(...)` would be wiped by the read.
    An assignment no top-level statement makes replaces the one statement inside a function or block that makes it
    (`model = DecisionTreeRegressor(...)` in `def fit(df):`), at that statement's indentation."""
    try:
        old_tree, new_tree = ast.parse(original), ast.parse(fragment)
    except SyntaxError:
        return None
    old = old_tree.body
    top_level_names = set().union(*(_assigned(s) for s in old)) if old else set()
    nested: dict[int, tuple[int, list[str]]] = {}  # first line of a nested statement -> (its end, the new lines)
    if not old or not new_tree.body:
        return None
    known = {ast.unparse(s) for s in old}
    text = {id(s): ast.get_source_segment(fragment, s) or ast.unparse(s) for s in new_tree.body}
    imports = [s for s in new_tree.body if isinstance(s, ast.Import | ast.ImportFrom) and ast.unparse(s) not in known]
    replaced: dict[int, str] = {}  # original statement index -> its new source
    before: dict[int, list[str]] = {}  # original statement index -> new lines to put before it
    after: dict[int, list[str]] = {}  # original statement index -> new lines to put after it
    dropped: set[int] = set()
    pending: list[ast.stmt] = []  # new lines waiting for the next replaced one
    cursor = 0
    for stmt in new_tree.body:
        if stmt in imports or ast.unparse(stmt) in known:
            continue
        names = _assigned(stmt)
        match = next((i for i in range(cursor, len(old)) if names and _assigned(old[i]) == names), None)
        if match is None:
            inner = _nested_assignment(old_tree, stmt, names) if not names & top_level_names else None
            if inner is not None:
                start, end = _span(inner)
                indent = " " * inner.col_offset
                nested[start] = (end, [indent + line for line in text[id(stmt)].splitlines()])
                continue
            pending.append(stmt)
            continue
        late = _last_binding_of_inputs(old, pending, match)
        if late is None:
            before.setdefault(match, []).extend(text[id(s)] for s in pending)
        else:
            after.setdefault(late, []).extend(text[id(s)] for s in pending)
        pending = []
        replaced[match] = text[id(stmt)]
        cursor = match + 1
    if not replaced and not imports and not nested:
        return None  # nothing to anchor the fragment to
    if pending and cursor:  # lines after the last replaced one go after it, or after the binding they read
        late = _last_binding_of_inputs(old, pending, cursor)
        after.setdefault(cursor - 1 if late is None else late, []).extend(text[id(s)] for s in pending)
    fragment_names = set().union(*(_assigned(s) for s in new_tree.body))
    for i, stmt in enumerate(old):
        if i not in replaced and _assigned(stmt) and _assigned(stmt) <= fragment_names and i < cursor:
            dropped.add(i)  # superseded by the fragment's own assignment
    slots = _with_nested_replaced(original.splitlines(), nested)

    def lines(start: int, end: int | None = None) -> list[str]:
        return [line for slot in slots[start:end] for line in slot]

    out: list[str] = []
    new_imports = [ast.get_source_segment(fragment, s) or ast.unparse(s) for s in imports]
    # New imports go first, yet after the module docstring and any `from __future__` import (which must lead).
    heading = next((i for i, stmt in enumerate(old) if not _leads_module(stmt, i)), len(old))
    position = 0
    for i, stmt in enumerate(old):
        start, end = _span(stmt)
        out.extend(lines(position, start))  # comments and blank lines between statements stay
        position = end
        if i == heading:
            out.extend(new_imports)
        out.extend(before.get(i, []))
        if i in replaced:
            out.append(replaced[i])
        elif i not in dropped:
            out.extend(lines(start, end))
        out.extend(after.get(i, []))
    out.extend(lines(position))
    if heading == len(old):
        out.extend(new_imports)
    merged = "\n".join(out) + "\n"
    try:
        ast.parse(merged)
    except SyntaxError:
        return None
    return merged


def _leads_module(stmt: ast.stmt, index: int) -> bool:
    """A statement that must stay ahead of any import added: the docstring, or a `from __future__` import."""
    docstring = index == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
    return docstring or (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__")


def _nested_assignment(tree: ast.Module, stmt: ast.stmt, names: set[str]) -> ast.stmt | None:
    """The assignment below the top level that `stmt` (binding `names`) rewrites: the only one binding exactly those
    names, or among several the one clearly closest to it in text (`model = DecisionTreeRegressor(...)` in `fit`, not
    `model = fit(train)` in `main`); None when there is none or the choice would be a guess."""
    if not names:
        return None
    top = set(map(id, tree.body))
    found = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and id(node) not in top
        and _assigned(node) == names
    ]  # fmt: skip
    if len(found) <= 1:
        return found[0] if found else None
    said = ast.unparse(stmt)
    ranked = sorted(((difflib.SequenceMatcher(None, said, ast.unparse(n)).ratio(), i) for i, n in enumerate(found)))
    (second, _), (best, index) = ranked[-2], ranked[-1]
    return found[index] if best - second >= NESTED_MATCH_MARGIN else None


def _with_nested_replaced(lines: list[str], nested: dict[int, tuple[int, list[str]]]) -> list[list[str]]:
    """The script's lines, one slot per original line (so statement spans still index them), each slot holding the
    line itself, or the new lines of a nested replacement starting there, or nothing for the rest of its span."""
    slots: list[list[str]] = [[line] for line in lines]
    for start, (end, new_lines) in nested.items():
        slots[start] = new_lines
        for i in range(start + 1, end):
            slots[i] = []
    return slots


def _last_binding_of_inputs(old: list[ast.stmt], new: list[ast.stmt], anchor: int) -> int | None:
    """The last original statement at or after `anchor` that binds a name the new lines read before binding it
    themselves (their inputs), or None when every input is bound before `anchor`."""
    bound: set[str] = set()
    inputs: set[str] = set()
    for stmt in new:
        inputs |= _loaded_by(stmt) - bound
        bound |= _bound_by(stmt)
    late = [i for i in range(anchor, len(old)) if _bound_by(old[i]) & inputs]
    return max(late) if late else None


def _span(stmt: ast.stmt) -> tuple[int, int]:
    """0-based [start, end) line range of a statement, its decorators included."""
    decorators = getattr(stmt, "decorator_list", [])
    start = min([stmt.lineno, *(d.lineno for d in decorators)]) - 1
    return start, stmt.end_lineno or stmt.lineno
