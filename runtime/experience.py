"""Experience across runs (memory/experience.py): what a run is offered from earlier runs at its start, what it
writes after every measured change and at its end, and what its report says about both. No LLM call is spent.

The store is best effort: a missing folder is made, a damaged or unwritable one leaves the run without it, said in
the trace and the report, and a failed write is traced and skipped. The run's own part lives in
state["experience"]: the fingerprint, what was offered (changes that helped on alike tasks, warnings of ones that
broke) and the store's status."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from budgetmlagent.prompts.history import SCAFFOLD_MODEL
from budgetmlagent.prompts.planner import LEARNED_THOUGHT_PREFIX, RECIPE_THOUGHT_PREFIX
from budgetmlagent.providers.ledger import Ledger
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.run_folder import append_trace, read_trace
from budgetmlagent.runtime.state import State, Step, workspace_of
from budgetmlagent.scaffold.code_facts import unused_columns
from budgetmlagent.scaffold.data_facts import all_data_columns
from budgetmlagent.scaffold.fingerprint import task_print
from budgetmlagent.scaffold.learned_changes import (
    adapted,
    added_columns,
    changed_fragment,
    code_key,
    diff_summary,
    fitted,
)
from budgetmlagent.scaffold.model_recipes import model_kind
from budgetmlagent.scaffold.reply_checks import main_script_text
from budgetmlagent.workspace.scoring import improvement
from budgetmlagent.workspace.validation import is_better

if TYPE_CHECKING:
    from budgetmlagent.memory.experience import ExperienceStore
    from budgetmlagent.memory.experience_records import ChangeRecord, Fingerprint
    from budgetmlagent.workspace.workspace import Workspace

SUCCESS_GAIN = 0.10  # the verdict's bar, applied to the validation metric to date a run's first success
NO_GAIN = 1e-3  # a relative change this small measured nothing either way
WARNINGS_SHOWN = 3
BEST_SUFFIX = "-best"  # the id of a run's best version, recorded as one change against the starter

_stores: dict[tuple[str, int], ExperienceStore | str] = {}
_stores_lock = threading.Lock()


def open_store(ctx: Context) -> tuple[ExperienceStore | None, str]:
    """The store this run reads and writes, one per folder and process; (None, why) when off or unusable."""
    if not ctx.use_experience:
        return None, "off"
    key = (str(Path(ctx.experience_dir).expanduser()), ctx.experience_max_records)
    with _stores_lock:
        if key not in _stores:
            try:
                from budgetmlagent.memory.experience import ExperienceStore

                _stores[key] = ExperienceStore(Path(key[0]), max_records=key[1])
            except Exception as exc:  # a damaged index, a folder that cannot be made: run without, and say so
                _stores[key] = f"unavailable ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        found = _stores[key]
    return (None, found) if isinstance(found, str) else (found, "on")


def fingerprint_of(state: State) -> Fingerprint:
    """The task's fingerprint from its problem, metric, data and main script as they are now."""
    from budgetmlagent.memory.experience_records import Fingerprint

    task = state["task"]
    ws = workspace_of(state)
    main = task.get("main_script")
    script = main_script_text(ws, main) if main else None
    printed = task_print(ws, script)
    return Fingerprint(
        problem=task["problem"],
        data=printed.data,
        metric=task["metric"],
        direction=task["direction"],
        script=printed.script,
        columns=sorted(all_data_columns(ws)),
    )


# -- at the run's start: what earlier runs measured on alike tasks -----------------------------------------------------


def recall(state: State, ctx: Context) -> dict[str, Any]:
    """state["experience"] for a new run: the store's status, the fingerprint, and the offers (at most
    experience_k changes that measured a gain, the same task's first, then those whose code fits the script as it
    is, and a few warnings)."""
    store, status = open_store(ctx)
    if not ctx.use_experience:
        return {"status": status, "offered": [], "warnings": []}
    fingerprint = fingerprint_of(state)
    out: dict[str, Any] = {
        "status": status,
        "key": fingerprint.key(),
        "fingerprint": fingerprint.model_dump(),
        "offered": [],
        "warnings": [],
    }
    if store is None:
        append_trace(state.get("run_dir"), {"type": "experience", "status": status})
        return out
    try:
        found = _query(store, state, fingerprint, ctx.experience_k, exclude=set())
    except Exception as exc:  # a store that breaks while read: this run goes on without it
        out["status"] = f"unavailable ({type(exc).__name__}: {str(exc)[:200]})"
        append_trace(state.get("run_dir"), {"type": "experience", "status": out["status"]})
        return out
    out |= {"offered": found["offered"], "warnings": found["warnings"], "seconds": found["seconds"]}
    append_trace(state.get("run_dir"), {"type": "experience", "status": status} | _traced(found))
    return out


def requery(state: State, ctx: Context) -> dict[str, Any] | None:
    """state["experience"] with more offers when the run has stalled: the store queried again with the fingerprint
    of the script as it is now, and up to experience_k changes not offered yet added after the others (those whose
    code fits this script first). Once per best version; None when there is nothing to do or the store is gone."""
    saved = state.get("experience") or {}
    store, _ = open_store(ctx)
    if store is None or not requery_due(state):
        return None
    updated = saved | {"requeried_at": [*saved.get("requeried_at", []), _best_step(state)]}
    known = [*saved.get("offered", []), *saved.get("warnings", [])]
    exclude = {o["id"] for o in known} | {_said(o["instruction"]) for o in known}
    try:
        found = _query(store, state, fingerprint_of(state), ctx.experience_k, exclude=exclude)
    except Exception as exc:  # the run goes on with what it was offered at its start
        append_trace(state.get("run_dir"), {"type": "experience_write_failed", "step": "requery", "error": str(exc)})
        return updated
    step = len(state.get("steps", [])) + 1
    append_trace(state.get("run_dir"), {"type": "experience", "requery": True, "step": step} | _traced(found))
    return updated | {"offered": [*saved.get("offered", []), *found["offered"]]}


def requery_due(state: State) -> bool:
    """Whether the store may be asked again: this run reads one, and has not asked it since its best version."""
    saved = state.get("experience") or {}
    return "key" in saved and _best_step(state) not in saved.get("requeried_at", [])


def _best_step(state: State) -> int:
    best = state.get("best")
    return best["step"] if best is not None else 0


def _query(
    store: ExperienceStore, state: State, fingerprint: Fingerprint, k: int, *, exclude: set[str]
) -> dict[str, Any]:
    """The store's records nearest to the fingerprint, as offers (changes that measured a gain, one per instruction,
    at most k) and warnings (changes that broke or lowered the metric and never helped nearby); `exclude`: the ids
    and instructions (as _said words them) already offered."""
    started = time.perf_counter()
    hits = store.similar(fingerprint.text())
    columns = set(fingerprint.columns)
    here = _Here.of(state)
    offers = []
    for hit in hits:
        record = hit.record
        if record.run == state.get("run_id") or {record.id, _said(record.instruction)} & exclude:
            continue  # this run's own changes are in its steps already
        if not _kind_fits(record, fingerprint):
            continue
        offer = _offer(record, hit.distance, fingerprint.key())
        if not _fits_here(record, columns):  # their columns: made with ours where it can be
            offer = _adapted_offer(here, offer, record)
        if offer is not None and _said(offer["instruction"]) not in exclude:
            offers.append(offer)
    helped = [o for o in offers if o["ran"] and (o["effect"] or 0) > NO_GAIN]
    fits = _fitting_ids(here, helped)
    gained = {_said(o["instruction"]) for o in helped}
    broke = [o for o in offers if (not o["ran"] or (o["effect"] or 0) < -NO_GAIN)]
    return {
        "records_near": len(hits),
        "offered": _best_per_instruction(helped, k, fits),
        "warnings": [o for o in _best_per_instruction(broke, WARNINGS_SHOWN) if _said(o["instruction"]) not in gained],
        "seconds": round(time.perf_counter() - started, 4),
    }


def _traced(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "records_near": found["records_near"],
        "offered": [o["id"] for o in found["offered"]],
        "warnings": [o["id"] for o in found["warnings"]],
        "seconds": found["seconds"],
    }


@dataclass
class _Here:
    """The workspace and its main script as they are now, which offers are weighed against: read once per query or
    step, and the script's unused columns (for adapted changes) once, when first asked."""

    ws: Workspace
    script: str | None

    @classmethod
    def of(cls, state: State) -> _Here:
        main = state["task"].get("main_script")
        ws = workspace_of(state)
        return cls(ws, main_script_text(ws, main) if main else None)

    @cached_property
    def unused(self) -> dict[str, list[str]]:
        return unused_columns(self.ws, self.script) if self.script is not None else {}


def _fitting_ids(here: _Here, offers: list[dict[str, Any]]) -> set[str]:
    """The offers whose code fits the main script as it is now (scaffold/learned_changes.fitted): the scaffold can
    take them with no model, so they go before the ones a model would have to adapt."""
    if here.script is None:
        return set()
    return {o["id"] for o in offers if o.get("fragment") and fitted(here.ws, here.script, o["fragment"]) is not None}


def _offer(record: ChangeRecord | Any, distance: float, key: str) -> dict[str, Any]:
    return {
        "id": record.id,
        "run": record.run,
        "task": record.task,
        "same_task": record.key == key,
        "instruction": record.instruction,
        "fragment": record.fragment,
        "effect": record.effect,
        "ran": record.ran,
        "error": record.error,
        "author": record.author,
        "distance": round(distance, 4),
    }


def _adapted_offer(here: _Here, offer: dict[str, Any], record: Any) -> dict[str, Any] | None:
    """The offer of another task's column change made with this workspace's columns
    (scaffold/learned_changes.adapted), or None where it cannot be."""
    if here.script is None or not offer.get("fragment") or not getattr(record, "added_columns", None):
        return None
    theirs = set(record.fingerprint.columns)
    change = (offer["instruction"], offer["fragment"])
    made = adapted(here.ws, here.script, here.unused, change, record.added_columns, theirs)
    if made is None:
        return None
    return offer | {
        "instruction": made[0],
        "fragment": made[1],
        "adapted_from": offer["instruction"],
        "their_fragment": offer["fragment"],
        "added_columns": dict(record.added_columns),
        "their_columns": sorted(theirs),
    }


def _made_here(here: _Here, offer: dict[str, Any]) -> dict[str, Any] | None:
    """The offer as it is made on the script as it is now: an adapted change is adapted again (the start's column
    lists are stale once another change has added columns), None where it no longer can be."""
    if "adapted_from" not in offer:
        return offer
    if here.script is None:
        return None
    change = (offer["adapted_from"], offer["their_fragment"])
    made = adapted(here.ws, here.script, here.unused, change, offer["added_columns"], set(offer["their_columns"]))
    return None if made is None else offer | {"instruction": made[0], "fragment": made[1]}


def _fits_here(record: Any, columns: set[str]) -> bool:
    """An instruction that names a column of its own task this workspace lacks is not for this task."""
    said = record.instruction.lower()
    named = [c for c in record.fingerprint.columns if re.search(rf"(?<![\w.]){re.escape(c.lower())}(?![\w])", said)]
    return all(c in columns for c in named)


def _kind_fits(record: Any, ours: Fingerprint) -> bool:
    """A model measured on a target of another kind (a class, a number) is for another problem: a regressor swapped
    into a classifier's script broke it in titanic's leave-one-out. Changes that build no model (columns, encodings)
    carry across kinds; unknown kinds pass."""
    here = _target_kind(ours)
    if here is None:
        return True
    built = {model_kind(name) for name in re.findall(r"[A-Za-z_]\w*", record.fragment or "")} - {None}
    if built:
        return here in built
    return record.fragment is not None or _target_kind(record.fingerprint) in (None, here)


def _target_kind(fingerprint: Fingerprint) -> str | None:
    """The target's kind as the data says it (scaffold/fingerprint.data_print's words), else as the one kind of
    model the script builds says it (arrays have no target column: a digits task builds a classifier)."""
    found = re.search(r"\btarget \S+ \(([^)]*)\)", fingerprint.data)
    if found is not None and "unknown" not in found.group(1):
        return found.group(1)
    kinds = {model_kind(name) for name in re.findall(r"[A-Za-z_]\w*", fingerprint.script)} - {None}
    return kinds.pop() if len(kinds) == 1 else None


def _said(instruction: str) -> str:
    return " ".join(instruction.split()).lower()


def _best_per_instruction(
    offers: list[dict[str, Any]], k: int, fits: set[str] | frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """One offer per instruction, the same task's first, then those in `fits`, then by effect weighted by likeness;
    at most k."""

    def rank(o: dict[str, Any]) -> tuple[int, int, float]:
        weight = abs(o["effect"]) if o["effect"] is not None else 0.01
        return (0 if o["same_task"] else 1, 0 if o["id"] in fits else 1, -weight * (1.0 - o["distance"]))

    chosen: dict[str, dict[str, Any]] = {}
    for offer in sorted(offers, key=rank):
        chosen.setdefault(_said(offer["instruction"]), offer)
    return list(chosen.values())[:k]


# -- during the run: learned changes the scaffold takes, and the planner is offered ------------------------------------


def learned_offers(state: State) -> list[dict[str, Any]]:
    return list((state.get("experience") or {}).get("offered", []))


def learned_warnings(state: State) -> list[dict[str, Any]]:
    return list((state.get("experience") or {}).get("warnings", []))


def learned_thought(offer: dict[str, Any]) -> str:
    where = "this task" if offer["same_task"] else offer["task"]
    return f"{LEARNED_THOUGHT_PREFIX}{offer['id']} ({offer['effect']:+.1%} on {where})"


def next_learned_change(state: State, script: str, *, same_task: bool | None = None) -> dict[str, Any] | None:
    """The next learned change the scaffold takes as its own code: one that measured a gain, not tried yet in this
    run, whose fragment fits this script (it merges, changes something, and reads only names that exist); with
    `same_task`, only this task's own (True) or only other tasks' (False)."""
    tried = {s["thought"] for s in state.get("steps", [])}
    offers = learned_offers(state)
    if same_task is not None:
        offers = [o for o in offers if o["same_task"] == same_task]
    # A run's best version holds its own changes: once taken, they are not taken one by one again.
    covered = {o["run"] for o in offers if o["id"].endswith(BEST_SUFFIX) and learned_thought(o) in tried}
    here = _Here(workspace_of(state), script)
    # Several tasks learned the same swap (`model = HistGradientBoostingClassifier(...)`): once one was measured
    # here, another that makes the same script is not measured again (titanic's leave-one-out measured it 4 times).
    made = set()
    for done in learned_offers(state):
        made_here = _made_here(here, done) if learned_thought(done) in tried else None
        merged = fitted(here.ws, script, made_here["fragment"]) if made_here and made_here.get("fragment") else None
        if merged is not None:
            made.add(code_key(merged))
    asked = {_said(str(s["action_input"].get("edit_instruction", ""))) for s in state.get("steps", [])}
    for offer in offers:
        if offer["run"] in covered or learned_thought(offer) in tried or not offer.get("fragment"):
            continue
        if _said(offer["instruction"]) in asked:  # a hand-written recipe this run tried already, word for word
            continue
        made_here = _made_here(here, offer)
        merged = fitted(here.ws, script, made_here["fragment"]) if made_here is not None else None
        if merged is not None and code_key(merged) not in made:
            return made_here
    return None


# -- after every measured change, and at the end: what the store is told ---------------------------------------------


def record_change(state: State, ctx: Context, step: Step, before: str | None, after: str | None) -> None:
    """A change record for an edit of the main script: its effect on the validation metric against the best before
    it, or that it broke (did not run, or its code was refused). An edit whose run printed no metric is not one."""
    store, _ = open_store(ctx)
    task = state["task"]
    if store is None or step["action_input"].get("save_name", task.get("main_script")) != task.get("main_script"):
        return
    value = dict(state.get("measured", [])).get(step["step"])
    if step["ok"] and value is None:
        return
    try:
        from budgetmlagent.memory.experience_records import ChangeRecord

        best = best_before(state, step["step"])
        effect = None if value is None or best is None else improvement(value, best, task["direction"])
        ran = bool(step["ok"])
        code = before is not None and after is not None and ran
        fragment = changed_fragment(before, after) if code else None  # type: ignore[arg-type]
        record = ChangeRecord(
            **_about(state, f"-s{step['step']}"),
            step=step["step"],
            instruction=str(step["action_input"].get("edit_instruction", "")),
            diff=diff_summary(before, after) if code else "",  # type: ignore[arg-type]
            fragment=fragment,
            added_columns=added_columns(workspace_of(state), before, fragment) if code else {},  # type: ignore[arg-type]
            effect=effect,
            ran=ran,
            error=None if ran else _last_line(step["observation"]),
            author=author_of(state, step),
            time=time.time(),
        )
        store.add(record)
    except Exception as exc:  # the run never stops for its experience
        append_trace(state.get("run_dir"), {"type": "experience_write_failed", "step": step["step"], "error": str(exc)})


def record_run(
    state: State, ctx: Context, result: dict[str, Any], instructions: list[str], starter: str | None
) -> None:
    """At the end: the run's best version as one change against the starter script (what a second run of the task
    takes first; `instructions` are the changes that made it), and the run's outcome with what it was offered and
    used."""
    store, _ = open_store(ctx)
    if store is None or not state.get("task") or "key" not in (state.get("experience") or {}):
        return
    from budgetmlagent.memory.experience_records import ChangeRecord, RunRecord

    task = state["task"]
    try:
        best = state.get("best")
        baseline = task.get("validation_baseline")
        gain = None
        if best is not None and best["validation"] is not None and baseline is not None:
            gain = improvement(best["validation"], baseline, task["direction"])
        main = task.get("main_script")
        if best is not None and best["step"] > 0 and gain is not None and gain > NO_GAIN and main and instructions:
            after = _read(Path(best["snapshot"]) / main)
            if starter is not None and after is not None:
                fragment = changed_fragment(starter, after)
                store.add(
                    ChangeRecord(
                        **_about(state, BEST_SUFFIX),
                        step=0,
                        instruction="The best version of an earlier run: " + "; then ".join(instructions),
                        diff=diff_summary(starter, after),
                        fragment=fragment,
                        added_columns=added_columns(workspace_of(state), starter, fragment),
                        effect=gain,
                        ran=True,
                        author="run",
                        time=time.time(),
                    )
                )
        store.add(
            RunRecord(
                **_about(state, "-run"),
                success=bool(result.get("success")),
                improvement=result.get("improvement"),
                validation_gain=gain,
                steps=int(result.get("steps", 0)),
                first_success_step=result.get("first_success_step"),
                first_success_s=result.get("first_success_s"),
                offered=[o["id"] for o in learned_offers(state)],
                used=used_offers(state),
                time=time.time(),
            )
        )
    except Exception as exc:
        append_trace(state.get("run_dir"), {"type": "experience_write_failed", "step": "end", "error": str(exc)})


def _about(state: State, suffix: str) -> dict[str, Any]:
    """The fields every record of this run shares: its id (the run's, with a suffix), run, task and fingerprint."""
    fingerprint = _run_fingerprint(state)
    return {
        "id": f"{state['run_id']}{suffix}",
        "run": state["run_id"],
        "task": state["task"]["name"],
        "fingerprint": fingerprint,
        "key": fingerprint.key(),
    }


def _run_fingerprint(state: State) -> Fingerprint:
    """The fingerprint taken at the run's start (the script changes during the run; the task does not)."""
    from budgetmlagent.memory.experience_records import Fingerprint

    saved = (state.get("experience") or {}).get("fingerprint")
    return Fingerprint.model_validate(saved) if saved else fingerprint_of(state)


def best_before(state: State, step: int) -> float | None:
    """The best validation metric measured before `step` (the baseline's at first)."""
    task = state["task"]
    value = task.get("validation_baseline")
    for measured_step, measured in state.get("measured", []):
        if measured_step < step and is_better(measured, value, task["direction"]):
            value = measured
    return value


def author_of(state: State, step: Step) -> str:
    """Who wrote the change: a recipe's or a learned change's own code, the scaffold, or the coder's model."""
    if step["model"] == SCAFFOLD_MODEL:
        if step["thought"].startswith(RECIPE_THOUGHT_PREFIX):
            return "recipe"
        if step["thought"].startswith(LEARNED_THOUGHT_PREFIX):
            return "learned"
    ledger: Ledger = state.get("ledger") or Ledger()
    coder = next((c.model for c in reversed(ledger.calls) if c.role in ("coder", "debugger")), None)
    return coder or step["model"]


def used_offers(state: State) -> list[str]:
    """The offered changes this run made: taken by the scaffold, or asked for word for word by the planner."""
    asked = {_said(str(s["action_input"].get("edit_instruction", ""))) for s in state.get("steps", [])}
    thoughts = {s["thought"] for s in state.get("steps", [])}
    return [
        o["id"] for o in learned_offers(state) if learned_thought(o) in thoughts or _said(o["instruction"]) in asked
    ]


def first_success(state: State) -> tuple[int | None, float | None]:
    """The first step whose validation metric beat the baseline's by more than the verdict's 10 %, and the seconds
    from the run's start to the end of that step (from the trace)."""
    task = state.get("task") or {}
    baseline = task.get("validation_baseline")
    if baseline is None:
        return None, None
    # By step alone: a resumed run's checkpoint gives its earlier pairs back as lists, the new ones are tuples.
    measured = sorted(state.get("measured", []), key=lambda pair: pair[0])
    step = next((s for s, v in measured if improvement(v, baseline, task["direction"]) > SUCCESS_GAIN), None)
    if step is None:
        return None, None
    ended = next(
        (r["time"] for r in read_trace(state["run_dir"]) if r.get("type") == "step" and r.get("step") == step), None
    )
    started = state.get("started_at")
    return step, (round(ended - started, 1) if ended is not None and started is not None else None)


def experience_summary(state: State) -> dict[str, Any]:
    """result.json's account: the store's status, what was offered and warned of, what was used."""
    saved = state.get("experience") or {}
    return {
        "status": saved.get("status", "off"),
        "offered": [_brief(o) for o in saved.get("offered", [])],
        "warnings": [_brief(o) for o in saved.get("warnings", [])],
        "used": used_offers(state),
    }


def _brief(offer: dict[str, Any]) -> dict[str, Any]:
    return {k: offer[k] for k in ("id", "task", "same_task", "instruction", "effect", "author", "distance")} | {
        "code": bool(offer.get("fragment"))
    }


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _last_line(text: str) -> str:
    return next((line.strip()[:200] for line in reversed(text.splitlines()) if line.strip()), "")
