"""Experience across runs (memory/experience.py, runtime/experience.py): records written after measured changes and
at the end, a second run that takes what the first learned and succeeds sooner, a damaged store that stops nothing,
safe concurrent writers, the bound on records, and `budgetmlagent memory`. Real Chroma, word-hash embeddings."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import PATTERN
from test_graph_edges import run_graph
from test_memory_observations import WordHashEmbedding

from budgetmlagent.cli import main
from budgetmlagent.memory.experience import RECORDS_DIR, ExperienceStore, read_records
from budgetmlagent.memory.experience_records import ChangeRecord, Fingerprint, RunRecord
from budgetmlagent.runtime.run_folder import read_trace
from budgetmlagent.scaffold.learned_changes import changed_fragment, fitted
from budgetmlagent.workspace.workspace import Workspace

# Its score grows with the number of features: the one-hot recipe alone lifts it +8 %, with the number column +12 %.
WIDENING = """\
import pandas as pd

FEATURES = ["size"]
train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")
X = train[FEATURES]
X_test = test[FEATURES]
score = 0.5 * (1 + 0.04 * (X.shape[1] - 1))
open("submission.csv", "w").write(f"{score}\\n")
print(f"validation score: {score}")
"""


@pytest.fixture(autouse=True)
def word_hash_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model to load: texts that share words are near (tests/unit/test_memory_observations.py)."""
    monkeypatch.setattr("budgetmlagent.memory.embeddings.MiniLMEmbeddingFunction", WordHashEmbedding)


@pytest.fixture
def widening_task(tabular_task: Path) -> Path:
    (tabular_task / "env" / "train.py").write_text(WIDENING)
    config = {"metric": "score", "direction": "higher", "validation_pattern": PATTERN}
    (tabular_task / "scripts" / "budgetmlagent.json").write_text(json.dumps(config))
    return tabular_task


def recipes_only(task: Path, tmp_path: Path, store: Path, **settings: Any) -> dict[str, Any]:
    state, models = run_graph(
        task, tmp_path, {}, recipes_only=True, use_cascade=False, use_expert=False, use_experience=True,
        experience_dir=str(store), **settings,
    )  # fmt: skip
    assert models.calls() == []
    return state


def learned_only(task: Path, tmp_path: Path, records: list[ChangeRecord], **settings: Any) -> dict[str, Any]:
    """A recipes-only run with the hand-written recipes off, on a store holding just `records`."""
    store = tmp_path / "experience"
    ExperienceStore(store).add_many(records)  # type: ignore[arg-type]
    return recipes_only(task, tmp_path / "run", store, use_recipes=False, **settings)


def learned_steps(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in state["steps"] if s["thought"].startswith("Learned change taken")]


def fingerprint(task: str = "titanic-like", data: str = "number and category columns") -> Fingerprint:
    return Fingerprint(problem=f"predict the label of {task}", data=data, metric="accuracy", direction="higher",
                       script="builds LogisticRegression", columns=["age", "sex"])  # fmt: skip


def change(record_id: str, effect: float | None, *, ran: bool = True, when: float = 0.0, **fields: Any) -> ChangeRecord:
    printed = fields.pop("fingerprint", fingerprint())
    return ChangeRecord(
        id=record_id, run="r1", task="t", fingerprint=printed, key=printed.key(), step=1,
        instruction=fields.pop("instruction", f"change {record_id}"), diff="+1 -1 lines", effect=effect, ran=ran,
        author="recipe", time=when or time.time(), **fields,
    )  # fmt: skip


# -- the second run ---------------------------------------------------------------------------------------------------


def test_a_second_recipes_only_run_takes_what_the_first_learned_and_succeeds_sooner(
    widening_task: Path, tmp_path: Path
) -> None:
    store = tmp_path / "experience"
    first = recipes_only(widening_task, tmp_path / "first", store)
    second = recipes_only(widening_task, tmp_path / "second", store)
    one, two = first["result"], second["result"]
    assert one["first_success_step"] == 2 and one["experience"]["offered"] == []
    assert two["first_success_step"] == 1 < one["first_success_step"]
    assert second["steps"][0]["thought"].startswith("Learned change taken without a model")
    assert two["experience"]["used"] and two["experience"]["used"][0].endswith("-best")
    assert two["score"] >= one["score"]
    # Each change measured, and each run's outcome, is a plain JSON record.
    records = read_records(store)
    changes = [r for r in records if isinstance(r, ChangeRecord)]
    runs = [r for r in records if isinstance(r, RunRecord)]
    assert [r.first_success_step for r in runs] == [2, 1]
    assert runs[1].used == two["experience"]["used"]
    by_step = {(r.run, r.step): r for r in changes}
    one_hot = by_step[(first["run_id"], 1)]
    assert one_hot.author == "recipe" and one_hot.effect == pytest.approx(0.08) and one_hot.fragment
    assert by_step[(first["run_id"], 2)].effect == pytest.approx(0.56 / 0.54 - 1)
    assert by_step[(first["run_id"], 0)].effect == pytest.approx(0.12)  # the best version against the starter
    text = (store / RECORDS_DIR / f"{one_hot.id}.json").read_text()
    assert "red" not in text and "blue" not in text.replace("color_blue", "")  # no data values
    # Both reports say when the run first beat the bar, and the second which experiences it was offered and used.
    report_one = (Path(one["run_dir"]) / "report.md").read_text()
    report_two = (Path(two["run_dir"]) / "report.md").read_text()
    assert "first reached +10 % on the validation metric at step 2" in report_one
    assert "first reached +10 % on the validation metric at step 1" in report_two
    assert "| learned (no model) |" in report_two and "Offered 3 learned change(s), used 1" in report_two


def test_hand_written_recipes_off_the_store_alone_carries_the_second_run(widening_task: Path, tmp_path: Path) -> None:
    store = tmp_path / "experience"
    recipes_only(widening_task, tmp_path / "first", store)
    state = recipes_only(widening_task, tmp_path / "second", store, use_recipes=False)
    assert state["result"]["first_success_step"] == 1
    assert all(not s["thought"].startswith("Recipe taken") for s in state["steps"])


def test_another_task_s_learned_changes_come_after_the_hand_written_recipes(
    widening_task: Path, tmp_path: Path
) -> None:
    # Leave-one-out on titanic: other tasks' changes taken first cost two steps before its first recipe win.
    store = tmp_path / "experience"
    recipes_only(widening_task, tmp_path / "first", store)
    (widening_task / "scripts" / "research_problem.txt").write_text("Predict the label of another table.")
    state = recipes_only(widening_task, tmp_path / "second", store)
    offered = state["result"]["experience"]["offered"]
    assert offered and not any(o.get("same_task") for o in offered if isinstance(o, dict))
    thoughts = [s["thought"] for s in state["steps"] if s["action"] == "Edit Script (AI)"]
    assert thoughts[0].startswith("Recipe taken without a model")
    learned = [i for i, t in enumerate(thoughts) if t.startswith("Learned change taken without a model")]
    recipes = [i for i, t in enumerate(thoughts) if t.startswith("Recipe taken without a model")]
    assert not learned or min(learned) > max(recipes)


def test_code_that_fits_is_offered_first_and_a_stalled_run_asks_the_store_again(
    widening_task: Path, tmp_path: Path
) -> None:
    # One offer at a time: the bigger gain's code reads a name this script lacks, so the change that fits goes first;
    # once it is made and nothing is left, the store is asked again with the script as it is now.
    state = learned_only(
        widening_task,
        tmp_path,
        [
            change("booster", 0.5, instruction="Use a booster", fragment="model = Booster(depth)"),
            change("second", 0.04, instruction="Add a second feature", fragment='FEATURES = ["size", "age"]'),
            change("third", 0.02, instruction="Add a third feature", fragment='FEATURES = ["size", "age", "id"]'),
        ],
        experience_k=1,
    )
    learned = [s["thought"] for s in learned_steps(state)]
    assert len(learned) == 2 and "second" in learned[0] and "third" in learned[1]
    assert [o["id"] for o in state["result"]["experience"]["offered"]] == ["second", "third", "booster"]
    requeries = [r for r in read_trace(Path(state["run_dir"])) if r["type"] == "experience" and r.get("requery")]
    assert [r["offered"] for r in requeries] == [["third"], ["booster"]]
    assert state["result"]["first_success_step"] is None and state["best"]["validation"] == pytest.approx(0.54)


def test_the_planner_is_offered_learned_changes_and_warned_of_ones_that_broke(
    widening_task: Path, tmp_path: Path
) -> None:
    from test_graph_edges import BASE, LIST, TOP

    store = tmp_path / "experience"
    recipes_only(widening_task, tmp_path / "first", store)
    printed = read_records(store)[0].fingerprint
    with_store = ExperienceStore(store)
    with_store.add(change("broke-1", None, ran=False, fingerprint=printed, instruction="Scale every column by ten",
                          error="NameError: name 'np' is not defined"))  # fmt: skip
    _, models = run_graph(
        widening_task, tmp_path / "second", {BASE: [LIST] * 4, TOP: [LIST] * 4}, max_steps=2, use_experience=True,
        experience_dir=str(store), recipes_first=False,
    )  # fmt: skip
    prompt = models.calls(BASE)[0]["messages"][-1].content
    assert (
        "Changes that lifted the validation metric in earlier runs" in prompt
        and "(measured +12.0% on this task)" in prompt
    )
    assert "Scale every column by ten (failed: NameError" in prompt


def test_a_record_is_written_after_a_measured_change_by_a_model(tabular_task: Path, tmp_path: Path) -> None:
    from test_graph_edges import BASE, FINAL, code, edit

    improved = WIDENING.replace('FEATURES = ["size"]', 'FEATURES = ["size", "age", "id"]')
    (tabular_task / "env" / "train.py").write_text(WIDENING)
    store = tmp_path / "experience"
    state, _ = run_graph(
        tabular_task, tmp_path, {BASE: [edit(), code(improved), FINAL]}, use_experience=True,
        experience_dir=str(store), recipes_first=False, use_recipes=False,
    )  # fmt: skip
    changes = [r for r in read_records(store) if isinstance(r, ChangeRecord) and r.step > 0]
    assert len(changes) == 1
    record = changes[0]
    assert record.ran and record.effect == pytest.approx(0.08) and record.author == BASE
    assert record.fragment is not None and "age" in record.fragment and record.diff.startswith("+1 -1 lines")
    assert record.fingerprint.metric == "score" and record.key == state["experience"]["key"]


# -- reliability ------------------------------------------------------------------------------------------------------


def test_a_damaged_store_does_not_stop_a_run(widening_task: Path, tmp_path: Path) -> None:
    store = tmp_path / "experience"
    (store / "chroma").mkdir(parents=True)
    (store / "chroma" / "chroma.sqlite3").write_bytes(b"not a database" * 100)
    state = recipes_only(widening_task, tmp_path / "run", store)
    result = state["result"]
    assert result["status"] == "final_answer" and result["first_success_step"] == 2
    assert result["experience"]["status"].startswith("unavailable")
    traced = next(r for r in read_trace(result["run_dir"]) if r["type"] == "experience")
    assert traced["status"].startswith("unavailable")
    assert "Experience store: unavailable" in (Path(result["run_dir"]) / "report.md").read_text()


def test_a_store_folder_that_cannot_be_made_does_not_stop_a_run(widening_task: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the folder would go")
    state = recipes_only(widening_task, tmp_path / "run", tmp_path / "file" / "experience")
    assert state["result"]["experience"]["status"].startswith("unavailable")
    assert state["result"]["first_success_step"] == 2


def test_threads_write_to_one_store_safely(tmp_path: Path) -> None:
    store = ExperienceStore(tmp_path / "store")
    errors: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for i in range(10):
                store.add(change(f"t{thread}-{i}", 0.01 * i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert store.count() == 60 and len(read_records(tmp_path / "store")) == 60


WRITER = """
import sys, time
sys.path[:0] = [{tests!r}, {tests_root!r}]
import budgetmlagent.memory.embeddings as embeddings
from test_memory_observations import WordHashEmbedding
embeddings.MiniLMEmbeddingFunction = WordHashEmbedding
from test_experience import change
from budgetmlagent.memory.experience import ExperienceStore
store = ExperienceStore(__import__("pathlib").Path({path!r}))
for i in range(15):
    store.add(change(f"{{sys.argv[1]}}-{{i}}", 0.02))
"""


def test_processes_write_to_one_store_safely(tmp_path: Path) -> None:
    path = tmp_path / "store"
    here = Path(__file__).parent
    script = WRITER.format(tests=str(here), tests_root=str(here.parent), path=str(path))
    writers = [subprocess.Popen([sys.executable, "-c", script, f"p{n}"]) for n in range(2)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    store = ExperienceStore(path)
    assert store.count() == 30 and len(read_records(path)) == 30
    assert len(store.similar(fingerprint().text(), n=100)) == 30  # every vector is in the index


def test_pruning_keeps_the_bound_and_the_useful_records(tmp_path: Path) -> None:
    store = ExperienceStore(tmp_path / "store", max_records=20)
    for i in range(12):
        store.add(change(f"helped-{i}", 0.05, when=1000.0 + i))
    for i in range(12):
        store.add(change(f"neutral-{i}", 0.0, when=2000.0 + i))
    assert store.count() <= 20
    kept = {r.id for r in read_records(tmp_path / "store")}
    assert len(kept) == store.count()
    assert {f"helped-{i}" for i in range(12)} <= kept  # the neutral ones went first, although newer


def test_nearest_task_first_and_a_broken_record_file_is_skipped(tmp_path: Path) -> None:
    store = ExperienceStore(tmp_path / "store")
    near, far = fingerprint("titanic-like"), fingerprint("images", data="arrays of pixels and labels")
    store.add(change("far", 0.3, fingerprint=far))
    store.add(change("near", 0.1, fingerprint=near))
    hits = store.similar(near.text())
    assert [h.record.id for h in hits] == ["near", "far"] and hits[0].distance == pytest.approx(0, abs=1e-5)
    (tmp_path / "store" / RECORDS_DIR / "torn.json").write_text('{"kind": "change", "id": ')
    assert {r.id for r in read_records(tmp_path / "store")} == {"near", "far"}


# -- learned code: general, never keyed to a task's names -------------------------------------------------------------


def test_a_fragment_fits_only_where_every_name_it_reads_exists(tmp_path: Path) -> None:
    (tmp_path / "train.csv").write_text("size,weight,label\n1,2,0\n")
    ws = Workspace(tmp_path)
    before = 'import pandas as pd\ntrain = pd.read_csv("train.csv")\nFEATURES = ["size"]\nX = train[FEATURES]\n'
    after = before.replace('["size"]', '["size", "weight"]')
    fragment = changed_fragment(before, after)
    assert fragment == 'FEATURES = ["size", "weight"]'
    assert fitted(ws, before, fragment) == after
    assert fitted(ws, before, 'FEATURES = ["size", "height"]') is None  # a column this data lacks
    assert fitted(ws, before, "model = Booster(depth)") is None  # reads names nothing defines
    assert fitted(ws, after, fragment) is None  # changes nothing
    swap = "from sklearn.ensemble import HistGradientBoostingClassifier\nclf = HistGradientBoostingClassifier()"
    assert fitted(ws, before, swap) is None  # its model has another name here: it would add an import and no more


# -- the CLI ----------------------------------------------------------------------------------------------------------


def test_memory_list_show_export_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "store"
    store = ExperienceStore(path)
    store.add(change("c1", 0.12, instruction="Add the number columns to FEATURES"))
    store.add(change("c2", None, ran=False, error="KeyError: 'x'"))
    assert main(["memory", "list", "--dir", str(path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["count"] == 2 and {r["id"] for r in listed["records"]} == {"c1", "c2"}
    assert main(["memory", "list", "--dir", str(path)]) == 0
    out = capsys.readouterr().out
    assert "+12.0% by recipe: Add the number columns" in out and "failed" in out
    assert main(["memory", "show", "c1", "--dir", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["effect"] == pytest.approx(0.12)
    assert main(["memory", "show", "nope", "--dir", str(path)]) == 1
    assert capsys.readouterr().err.startswith("error: no record 'nope'")
    assert main(["memory", "export", "--dir", str(path), "--out", str(tmp_path / "x.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] == 2
    assert len(json.loads((tmp_path / "x.json").read_text())["records"]) == 2
    assert main(["memory", "clear", "--dir", str(path)]) == 2  # nothing removed without --yes
    capsys.readouterr()
    assert main(["memory", "clear", "--dir", str(path), "--yes", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"dir": str(path), "removed": 2}
    assert read_records(path) == [] and not (path / "chroma").exists()


def test_memory_commands_use_the_setting_when_no_dir_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUDGETMLAGENT_EXPERIENCE_DIR", str(tmp_path / "mine"))
    assert main(["memory", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"dir": str(tmp_path / "mine"), "count": 0, "records": []}


def test_first_success_of_a_resumed_run_whose_checkpoint_gave_its_pairs_back_as_lists(tmp_path: Path) -> None:
    from budgetmlagent.runtime.experience import first_success
    from budgetmlagent.runtime.run_folder import append_trace

    append_trace(str(tmp_path), {"type": "step", "step": 2, "time": 110.0})
    state: Any = {
        "task": {"validation_baseline": 0.5, "direction": "higher"},
        "measured": [[1, 0.52], (2, 0.6)],  # the first pair from the checkpoint, the second measured after resuming
        "run_dir": str(tmp_path),
        "started_at": 100.0,
    }
    assert first_success(state) == (2, 10.0)


def test_a_learned_change_that_makes_a_script_already_measured_is_not_measured_again(
    widening_task: Path, tmp_path: Path
) -> None:
    state = learned_only(
        widening_task,
        tmp_path,
        [
            change("drop", 0.05, instruction="Drop every feature", fragment="FEATURES = []"),
            change("twin", 0.04, instruction="Use no features at all", fragment="FEATURES = []  # none"),
            change("age", 0.02, instruction="Add a second feature", fragment='FEATURES = ["size", "age"]'),
        ],
    )
    learned = [s["thought"] for s in learned_steps(state)]
    assert len(learned) == 2 and "drop" in learned[0] and "age" in learned[1]  # the twin is the same program


def test_a_model_measured_on_a_target_of_another_kind_is_not_offered_but_a_column_change_is() -> None:
    from budgetmlagent.runtime.experience import _kind_fits

    classes = fingerprint(data="training table with 3 columns; target label (class)")
    numbers = fingerprint(data="training table with 3 columns; target price (number)")
    unknown = fingerprint(data="arrays of pixels and labels").model_copy(update={"script": "builds Sequential"})
    digits = fingerprint(data="arrays of pixels and labels")  # builds LogisticRegression: a classifier
    swap = change("swap", 0.2, fingerprint=numbers, fragment="model = HistGradientBoostingRegressor()")
    assert _kind_fits(swap, numbers) and not _kind_fits(swap, classes) and _kind_fits(swap, unknown)
    columns = change("columns", 0.2, fingerprint=classes, fragment='FEATURES = ["size", "age"]')
    assert _kind_fits(columns, numbers)  # an encoding carries across kinds
    said_only = change("said", 0.2, fingerprint=digits)  # no code: the kind its task's script says
    assert _kind_fits(said_only, classes) and not _kind_fits(said_only, numbers)


def test_another_task_s_column_change_is_made_with_this_task_s_columns(widening_task: Path, tmp_path: Path) -> None:
    store = tmp_path / "experience"
    recipes_only(widening_task, tmp_path / "first", store)
    one_hot = next(r for r in read_records(store) if isinstance(r, ChangeRecord) and r.step == 1)
    assert one_hot.added_columns == {"color": "category"}
    # Another task: the same shape of table under other names, and another problem.
    env = widening_task / "env"
    for table in ("train.csv", "test.csv"):
        text = (env / table).read_text()
        (env / table).write_text(text.replace("color", "shade").replace("age", "years"))
    (widening_task / "scripts" / "research_problem.txt").write_text("Predict the label of another table.")
    state = recipes_only(widening_task, tmp_path / "second", store, use_recipes=False)
    offered = state["result"]["experience"]["offered"]
    assert offered and all(not o["same_task"] for o in offered)
    assert any("shade" in o["instruction"] and "color" not in o["instruction"] for o in offered)
    assert state["result"]["first_success_step"] == 1  # the first run's best version, made with shade and years
    script = (Path(state["run_dir"]) / "best" / "train.py").read_text()
    assert "shade" in script and "years" in script and "color" not in script


def test_a_column_change_is_adapted_by_kind_and_not_where_it_names_their_target(tmp_path: Path) -> None:
    from budgetmlagent.scaffold.code_facts import unused_columns
    from budgetmlagent.scaffold.learned_changes import adapted

    rows = "".join(f"{i},{i * 2},{'ab'[i % 2]},{i % 2}\n" for i in range(40))
    (tmp_path / "train.csv").write_text("id,width,tone,y\n" + rows)
    (tmp_path / "test.csv").write_text("id,width,tone\n1,2,a\n")
    ws = Workspace(tmp_path)
    script = (
        'import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\ntrain = pd.read_csv("train.csv")\n'
        'FEATURES = ["width"]\nX = train[FEATURES]\ny = train["y"]\nmodel = LogisticRegression().fit(X, y)\n'
    )
    theirs = {"pclass", "age", "sex", "embarked", "survived"}
    added = {"sex": "category", "embarked": "category"}
    fragment = (
        'FEATURES = ["pclass", "age", "sex", "embarked"]\nTEXT_COLUMNS = ["sex", "embarked"]\n'
        "X = pd.get_dummies(train[FEATURES], columns=TEXT_COLUMNS, dtype=float)"
    )
    said = "Add the text columns sex, embarked to FEATURES and one-hot encode them"
    unused = unused_columns(ws, script)
    made = adapted(ws, script, unused, (said, fragment), added, theirs)
    assert made is not None
    words, code = made
    # one category column here: embarked has no partner and is left out
    assert words == "Add the text columns tone to FEATURES and one-hot encode them"
    assert "FEATURES = ['width', 'tone']" in code and "TEXT_COLUMNS = ['tone']" in code
    assert fitted(ws, script, code) is not None
    naming_their_target = (said, fragment + '\nprior = train["survived"].mean()')
    assert adapted(ws, script, unused, naming_their_target, added, theirs) is None


def test_an_adapted_column_change_is_adapted_again_to_the_script_as_it_is_now(
    widening_task: Path, tmp_path: Path
) -> None:
    first = tmp_path / "experience"
    recipes_only(widening_task, tmp_path / "first", first)
    singles = [r for r in read_records(first) if isinstance(r, ChangeRecord) and r.step > 0]
    store = tmp_path / "singles"
    ExperienceStore(store).add_many(singles)  # type: ignore[arg-type]
    env = widening_task / "env"
    for table in ("train.csv", "test.csv"):
        (env / table).write_text((env / table).read_text().replace("color", "shade").replace("age", "years"))
    (widening_task / "scripts" / "research_problem.txt").write_text("Predict the label of another table.")
    state = recipes_only(widening_task, tmp_path / "second", store, use_recipes=False)
    learned = learned_steps(state)
    assert len(learned) == 2
    # The number column joins the list as it is after the one-hot change, not as it was at the start.
    assert state["best"]["step"] == learned[1]["step"] and state["best"]["validation"] == pytest.approx(0.56)
