"""World facts and recipes on scripts not written from the bundled template: snake_case ids, lowercase or no feature
list (X = df.drop(...)), sklearn Pipelines and ColumnTransformers, code inside functions, other frame names, data in
subfolders and parquet, and recipes that fit the target's kind or are not offered. Synthetic data and scripts only."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from budgetmlagent.scaffold.code_facts import unknown_references, unused_columns
from budgetmlagent.scaffold.data_facts import data_schema, held_out_table, id_roles, training_table
from budgetmlagent.scaffold.recipes import Recipe, recipes_for
from budgetmlagent.scaffold.script_shape import read_shape
from budgetmlagent.workspace.workspace import Workspace


def run(root: Path, name: str, script: str) -> str:
    (root / name).write_text(script)
    done = subprocess.run([sys.executable, name], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, script + "\n" + done.stderr
    return done.stdout


def by_name(recipes: list[Recipe]) -> dict[str, Recipe]:
    return {r.name: r for r in recipes}


def replace_lines(script: str, first: str, pattern: str, drop: tuple[str, ...] = ()) -> str:
    """The script with the line starting `first` (after its indent) replaced by the pattern, at that indent."""
    out = []
    for line in script.splitlines():
        body = line.lstrip()
        indent = line[: len(line) - len(body)]
        if body.startswith(first):
            out.append(textwrap.indent(pattern, indent))
        elif not body.startswith(drop) or not drop:
            out.append(line)
    return "\n".join(out) + "\n"


# -- snake_case ids, code inside main(), frames named df_train / df_test, data in a subfolder ------------------------

RATINGS_IN_MAIN = textwrap.dedent(
    """\
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LinearRegression


    def main():
        features = ["vintage"]
        df_train = pd.read_csv("data/train.csv")
        df_test = pd.read_csv("data/test.csv")
        X = df_train[features].fillna(2000)
        y = df_train["rating"]
        model = LinearRegression().fit(X, y)
        print(f"Validation RMSE: {np.sqrt(np.mean((model.predict(X) - y) ** 2)):.4f}")
        print(list(model.predict(df_test[features].fillna(2000))))


    if __name__ == "__main__":
        main()
    """
)


def ratings(root: Path, user_ids: list[int]) -> Workspace:
    """Users rate items; a user's and an item's ratings sit apart from the rest, so their means carry the signal."""
    (root / "data").mkdir()
    rows = [f"{i},{u},{i % 7},{2000 + i % 9},{1 + u % 12 // 3 + i % 7 // 4}" for i, u in enumerate(user_ids)]
    (root / "data" / "train.csv").write_text("row_id,user_id,item_id,vintage,rating\n" + "\n".join(rows) + "\n")
    (root / "data" / "test.csv").write_text("row_id,user_id,item_id,vintage\n500,3,2,2004\n501,99,1,2003\n")
    return Workspace(root, [])


def test_snake_case_ids_that_repeat_get_the_mean_per_id_recipe_and_it_runs(tmp_path: Path) -> None:
    ws = ratings(tmp_path, [i % 12 for i in range(120)])
    assert unused_columns(ws, RATINGS_IN_MAIN) == {"number": ["user_id", "item_id"]}  # row_id: a row key
    means = recipes_for(ws, RATINGS_IN_MAIN)[0]
    assert means.instruction.startswith(
        "After reading the data, add the mean rating of each user_id and of each item_id as new columns "
        "user_id_mean, item_id_mean of both tables"
    )
    assert means.instruction.endswith("and add them to features.")
    assert 'df_train.groupby("user_id")["rating"]' in means.pattern
    assert 'df_test["item_id_mean"] = df_test["item_id"].map(means).fillna(overall)' in means.pattern
    assert means.pattern.endswith('features = ["vintage", "user_id_mean", "item_id_mean"]')
    read = 'df_test = pd.read_csv("data/test.csv")'
    script = replace_lines(RATINGS_IN_MAIN, read, f"{read}\n{means.pattern}")  # after the reads, in main()
    assert unknown_references(script, ws) is None
    rmse = [
        float(run(tmp_path, n, s).split("RMSE: ")[1].split()[0])
        for n, s in (("a.py", RATINGS_IN_MAIN), ("b.py", script))
    ]
    assert rmse[1] < 0.8 * rmse[0]


def test_a_row_key_is_told_from_a_repeated_id_by_the_data_not_the_spelling(tmp_path: Path) -> None:
    ws = ratings(tmp_path, list(range(120)))  # every user_id once: a table of users, user_id its row key
    assert id_roles(tmp_path / "data" / "train.csv", ["row_id", "user_id", "item_id"]) == {
        "row_id": "row key",
        "user_id": "row key",
        "item_id": "repeated id",
    }
    means = recipes_for(ws, RATINGS_IN_MAIN)[0]
    assert means.columns == ("item_id",)
    assert "user_id" not in unused_columns(ws, RATINGS_IN_MAIN)["number"]


# -- no feature list: X = df.drop(columns=[...]) -----------------------------------------------------------------------

DROP_SCRIPT = textwrap.dedent(
    """\
    import pandas as pd
    from sklearn.linear_model import Ridge

    TARGET = "price"
    train_df = pd.read_csv("data/train.csv")
    test_df = pd.read_csv("data/test.csv")
    X = train_df.drop(columns=[TARGET, "id", "size", "city"])
    y = train_df[TARGET]
    X_test = test_df.drop(columns=["id", "size", "city"])
    model = Ridge().fit(X, y)
    print(f"Validation MAE: {(model.predict(X) - y).abs().mean():.4f}")
    print(list(model.predict(X_test)))
    """
)


@pytest.fixture
def houses(tmp_path: Path) -> Workspace:
    (tmp_path / "data").mkdir()
    cities = ["oslo", "rome", "lima"]
    rows = [
        f"{i},{20 + i % 40},{'' if i % 9 == 0 else 30 + i % 17},{cities[i % 3]},{i % 4},{100 + 3 * (i % 40)}.5"
        for i in range(90)
    ]
    header = "id,age,size,city,rooms,price\n"
    (tmp_path / "data" / "train.csv").write_text(header + "\n".join(rows) + "\n")
    (tmp_path / "data" / "valid.csv").write_text(header + "\n".join(rows[:5]) + "\n")  # has the target: not test
    (tmp_path / "data" / "test.csv").write_text("id,age,size,city,rooms\n900,33,31,rome,2\n901,41,,paris,1\n")
    return Workspace(tmp_path, [])


def test_a_drop_script_uses_every_column_it_does_not_drop(houses: Workspace) -> None:
    assert unused_columns(houses, DROP_SCRIPT) == {"number": ["size"], "category": ["city"]}  # not id, not price
    every = DROP_SCRIPT.replace('drop(columns=[TARGET, "id", "size", "city"])', 'drop("price", axis=1)')
    assert unused_columns(houses, every) == {}
    numbers = DROP_SCRIPT.replace('drop(columns=[TARGET, "id", "size", "city"])', "drop(columns=[TARGET])")
    numbers = numbers.replace(")\ny =", ').select_dtypes("number")\ny =', 1)
    assert unused_columns(houses, numbers) == {"category": ["city"]}  # select_dtypes passes the numbers on
    shape = read_shape(houses, DROP_SCRIPT)
    assert shape and (shape.mode, shape.train, shape.test, shape.target) == ("drop", "train_df", "test_df", "price")


def test_the_add_columns_and_encode_recipes_on_a_drop_script_run(houses: Workspace) -> None:
    recipes = by_name(recipes_for(houses, DROP_SCRIPT))
    add, encode = recipes["add number columns"], recipes["encode text categories"]
    assert add.instruction == (
        "Stop dropping the number columns size in X = train_df.drop(...); fill their missing values with the "
        "training medians."
    )
    assert "X = train_df.drop(columns=[TARGET, 'id', 'city'])" in add.pattern
    assert "X_test = test_df.drop(columns=['id', 'city'])" in add.pattern
    assert encode.instruction.startswith("Stop dropping the text columns city in X = train_df.drop(...)")
    assert recipes["gradient boosting"].instruction.startswith("Replace Ridge with HistGradientBoostingRegressor(")
    root = houses.root
    before = float(run(root, "before.py", DROP_SCRIPT).split("MAE: ")[1].split()[0])
    for recipe in (add, encode):
        script = replace_lines(DROP_SCRIPT, "X = train_df.drop", recipe.pattern, drop=("X_test = test_df.drop",))
        out = run(root, "after.py", script)
        assert "nan" not in out and float(out.split("MAE: ")[1].split()[0]) <= before + 1e-6


def test_drops_from_a_copy_and_inside_a_call_are_all_undone(houses: Workspace) -> None:
    script = textwrap.dedent(
        """\
        import pandas as pd
        from sklearn.linear_model import Ridge

        train = pd.read_csv("data/train.csv")
        test = pd.read_csv("data/test.csv")
        df = train.copy()
        X = df.drop(["price", "id", "rooms", "city"], axis=1).fillna(0)
        y = df["price"]
        model = Ridge().fit(X, y)
        print(f"Validation MAE: {(model.predict(X) - y).abs().mean():.4f}")
        print(list(model.predict(test.drop(columns=["id", "rooms", "city"]).fillna(0))))
        """
    )
    add = by_name(recipes_for(houses, script))["add number columns"]
    assert add.instruction == "Stop dropping the number columns rooms in X = df.drop(...); keep the rest as it is."
    edited = script
    for line in add.pattern.splitlines():  # each rewritten statement in place of the one it rewrites
        edited = replace_lines(edited, line.split(".drop(")[0], line)
    assert "rooms" not in edited
    assert "Validation MAE: " in run(houses.root, "undropped.py", edited)


# -- sklearn Pipeline and ColumnTransformer ----------------------------------------------------------------------------

PIPELINE_SCRIPT = textwrap.dedent(
    """\
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num_cols = ["age"]
    data = pd.read_csv("train.csv")
    holdout = pd.read_csv("test.csv")
    pre = ColumnTransformer([("num", StandardScaler(), num_cols), ("cat", OneHotEncoder(), ["city"])])
    model = Pipeline([("prep", pre), ("clf", LogisticRegression(max_iter=500))])
    model.fit(data.drop(columns=["bought"]), data["bought"])
    print(f"Validation accuracy: {model.score(data.drop(columns=['bought']), data['bought']):.4f}")
    print(list(model.predict(holdout)))
    """
)


@pytest.fixture
def shoppers(tmp_path: Path) -> Workspace:
    cities, colors = ["oslo", "rome", "lima"], ["red", "blue"]
    rows = [
        f"{i},{20 + i % 30},{'' if i % 8 == 0 else i % 5},{i % 4},{cities[i % 3]},{colors[i % 2]},"
        f"{'yes' if (i % 4 + i % 2) > 2 else 'no'}"
        for i in range(80)
    ]
    (tmp_path / "train.csv").write_text("id,age,size,rooms,city,color,bought\n" + "\n".join(rows) + "\n")
    (tmp_path / "test.csv").write_text("id,age,size,rooms,city,color\n900,33,2,3,rome,green\n")
    return Workspace(tmp_path, [])


def test_pipeline_columns_are_read_and_each_recipe_runs(shoppers: Workspace) -> None:
    assert unused_columns(shoppers, PIPELINE_SCRIPT) == {"number": ["size", "rooms"], "category": ["color"]}
    recipes = by_name(recipes_for(shoppers, PIPELINE_SCRIPT))
    encode, add, boost = (recipes[n] for n in ("encode text categories", "add number columns", "gradient boosting"))
    assert encode.instruction.startswith('Add the text columns color to the ColumnTransformer\'s "cat" columns')
    assert "OneHotEncoder(handle_unknown='ignore'), ['city', 'color'])" in encode.pattern
    assert add.instruction == "Add the number columns rooms to num_cols; keep the rest as it is."  # size has gaps
    assert add.pattern == 'num_cols = ["age", "rooms"]'
    assert boost.instruction.startswith(
        "In the pipeline, replace the LogisticRegression step with HistGradientBoostingClassifier("
    )
    assert "not a second model" in boost.instruction and "LogisticRegression" not in boost.pattern
    assert "('clf', HistGradientBoostingClassifier(" in boost.pattern
    assert "OneHotEncoder(sparse_output=False)" in boost.pattern
    root = shoppers.root
    edits = {
        "encode": replace_lines(PIPELINE_SCRIPT, "pre = ColumnTransformer", encode.pattern),
        "add": replace_lines(PIPELINE_SCRIPT, "num_cols = ", add.pattern),
        "boost": replace_lines(PIPELINE_SCRIPT, "pre = ColumnTransformer", boost.pattern, drop=("model = Pipeline",)),
    }
    for name, script in edits.items():
        assert "Validation accuracy: " in run(root, f"{name}.py", script), name


def test_a_transformer_without_a_list_of_a_kind_gets_a_new_step(shoppers: Workspace) -> None:
    only_numbers = PIPELINE_SCRIPT.replace(', ("cat", OneHotEncoder(), ["city"])', "")
    encode = by_name(recipes_for(shoppers, only_numbers))["encode text categories"]
    assert encode.instruction.startswith(
        'Add the text columns city, color to a new "text" step of the ColumnTransformer'
    )
    script = replace_lines(only_numbers, "pre = ColumnTransformer", encode.pattern)
    assert "Validation accuracy: " in run(shoppers.root, "new_step.py", script)
    passthrough = PIPELINE_SCRIPT.replace("])])\nmodel", '])], remainder="passthrough")\nmodel')
    assert unused_columns(shoppers, passthrough) == {}  # every other column goes on


# -- other frame names and lowercase lists -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frames", [("df_train", "df_test"), ("dtrain", "dtest"), ("train_df", "test_df"), ("data", "new")]
)
def test_frame_names_are_read_from_the_read_calls(shoppers: Workspace, frames: tuple[str, str]) -> None:
    train, test = frames
    script = textwrap.dedent(
        f"""\
        import pandas as pd
        from sklearn.linear_model import LogisticRegression

        cols = ["age", "rooms"]
        {train} = pd.read_csv("train.csv")
        {test} = pd.read_csv("test.csv")
        X = {train}[cols]
        y = {train}["bought"]
        model = LogisticRegression(max_iter=500).fit(X, y)
        print(f"Validation accuracy: {{model.score(X, y):.4f}}")
        print(list(model.predict({test}[cols])))
        """
    )
    encode = recipes_for(shoppers, script)[0]
    assert encode.instruction.startswith("Add the text columns city, color to cols and one-hot encode them")
    assert f"X = pd.get_dummies({train}[cols]" in encode.pattern and f"pd.get_dummies({test}[cols]" in encode.pattern
    kept = [ln for ln in script.splitlines() if not ln.startswith(("cols", "X = "))]
    at = kept.index(f'y = {train}["bought"]')
    kept[-1] = "print(list(model.predict(X_test)))"
    edited = "\n".join([*kept[:at], encode.pattern, *kept[at:]]) + "\n"
    assert "Validation accuracy: " in run(shoppers.root, "frames.py", edited)


def test_a_copy_of_the_training_frame_that_the_features_come_from_is_written_to(shoppers: Workspace) -> None:
    script = textwrap.dedent(
        """\
        import pandas as pd
        from sklearn.linear_model import LogisticRegression

        features = ["age", "rooms"]
        raw = pd.read_csv("train.csv")
        test = pd.read_csv("test.csv")
        df = raw.sample(frac=0.5, random_state=0)
        X = df[features]
        y = df["bought"]
        X_test = test[features]
        model = LogisticRegression(max_iter=500).fit(X, y)
        print(f"Validation accuracy: {model.score(X, y):.4f}")
        print(list(model.predict(X_test)))
        """
    )
    encode = recipes_for(shoppers, script)[0]
    assert "X = pd.get_dummies(df[features]" in encode.pattern and "pd.get_dummies(test[features]" in encode.pattern
    edited = replace_lines(script, "X = df[features]", encode.pattern, drop=("X_test = test", "features = "))
    assert "Validation accuracy: " in run(shoppers.root, "sampled.py", edited)


# -- tables: subfolders, validation files, parquet ---------------------------------------------------------------


def test_the_train_and_test_tables_are_found_in_subfolders_and_a_validation_file_is_not_test() -> None:
    assert training_table(["data/test.csv", "data/train.csv", "data/valid.csv"]) == "data/train.csv"
    assert held_out_table(["data/train.csv", "data/valid.csv", "data/validation.csv"]) is None
    assert held_out_table(["latest.csv", "data/test_set.csv", "train.csv"]) == "data/test_set.csv"
    assert held_out_table(["train.csv", "val_test.csv"]) is None
    assert training_table(["train.py", "notes.txt"]) is None
    assert training_table(["sub/dtrain.parquet"]) == "sub/dtrain.parquet"
    assert training_table(["emb/pretrained.csv", "training_data.csv"]) == "training_data.csv"
    folders = ["test/part.csv", "train/part.csv", "validation/part.csv"]
    assert (training_table(folders), held_out_table(folders)) == ("train/part.csv", "test/part.csv")


def test_the_schema_finds_the_target_in_a_subfolder(houses: Workspace) -> None:
    schema = data_schema(houses)  # data/valid.csv holds the target: not the test table
    assert "data/test.csv: the training file's columns without the target" in schema
    assert "Target (in the training file but not the test file): price" in schema


def _parquet_engine() -> bool:
    return any(importlib.util.find_spec(name) for name in ("pyarrow", "fastparquet"))


def test_parquet_tables_are_skipped_gracefully_without_an_engine(tmp_path: Path) -> None:
    if _parquet_engine():
        pytest.skip("a parquet engine is installed here")
    (tmp_path / "train.parquet").write_bytes(b"PAR1 not readable here PAR1")
    ws = Workspace(tmp_path, [])
    assert "train.parquet: (a parquet file; no parquet engine" in data_schema(ws)
    assert unused_columns(ws, 'import pandas as pd\ndf = pd.read_parquet("train.parquet")\n') == {}
    assert recipes_for(ws, 'FEATURES = ["age"]\n') == []


def test_parquet_tables_are_read_where_pandas_can(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = {
        "train.parquet": pd.DataFrame(
            {"id": range(6), "age": [1, 2, 3, 4, 5, 6], "city": list("abcabc"), "y": [0, 1] * 3}
        ),
        "test.parquet": pd.DataFrame({"id": [9], "age": [2], "city": ["a"]}),
    }
    for name, frame in frames.items():
        if _parquet_engine():
            frame.to_parquet(tmp_path / name)
        else:  # no engine here: pandas' reader is stood in for, the plumbing above it is what is tested
            (tmp_path / name).write_bytes(b"PAR1")
    if not _parquet_engine():
        fake = lambda path, columns=None: frames[Path(path).name][columns or list(frames[Path(path).name])]  # noqa: E731
        monkeypatch.setattr(pd, "read_parquet", fake)
    ws = Workspace(tmp_path, [])
    assert "train.parquet: columns id (int64), age (int64), city" in data_schema(ws)
    assert "Target (in the training file but not the test file): y" in data_schema(ws)
    script = 'import pandas as pd\nfeatures = ["age"]\ntr = pd.read_parquet("train.parquet")\nX = tr[features]\n'
    assert unused_columns(ws, script) == {"category": ["city"]}
    assert recipes_for(ws, script)[0].pattern.splitlines()[0] == 'features = ["age", "city"]'


# -- a recipe fits the target's kind --------------------------------------------------------------------------------

TEXT_SCRIPT = textwrap.dedent(
    """\
    import pandas as pd
    from sklearn.feature_extraction.text import CountVectorizer

    songs = pd.read_csv("train.csv")
    vectorizer = CountVectorizer(max_features=50)
    X = vectorizer.fit_transform(songs["text"])
    """
)


def text_table(root: Path, target: str, values: list[str]) -> Workspace:
    words = ["red apple", "green tea", "old song", "new film"]
    rows = [f"{i},{words[i % 4]} {i},{values[i % len(values)]}" for i in range(80)]
    (root / "train.csv").write_text(f"id,text,{target}\n" + "\n".join(rows) + "\n")
    (root / "test.csv").write_text("id,text\n900,red tea\n")
    return Workspace(root, [])


def test_a_year_target_never_gets_a_classifier(tmp_path: Path) -> None:
    ws = text_table(tmp_path, "vintage", [str(1950 + i) for i in range(80)])
    (text,) = recipes_for(ws, TEXT_SCRIPT)
    assert "Ridge(alpha=1.0)" in text.instruction and "LogisticRegression" not in text.instruction + text.pattern
    script = "from sklearn.linear_model import LogisticRegression\nmodel = LogisticRegression()\n"
    assert "HistGradientBoostingRegressor(" in recipes_for(ws, script)[0].instruction


def test_a_class_target_never_gets_a_regressor(tmp_path: Path) -> None:
    ws = text_table(tmp_path, "genre", ["pop", "rock", "jazz"])
    (text,) = recipes_for(ws, TEXT_SCRIPT)
    assert "LogisticRegression(max_iter=1000, C=4.0)" in text.instruction and "Ridge" not in text.instruction
    script = "from sklearn.linear_model import LinearRegression\nmodel = LinearRegression()\n"
    assert "HistGradientBoostingClassifier(" in recipes_for(ws, script)[0].instruction


def test_a_target_of_unknown_kind_keeps_its_model(tmp_path: Path) -> None:
    ws = text_table(tmp_path, "stars", ["1", "2", "3", "4", "5"])  # labels or a rating: the data cannot tell
    (text,) = recipes_for(ws, TEXT_SCRIPT)
    assert text.instruction.endswith("with no max_features cap; keep the model as it is.")
    assert "LogisticRegression" not in text.pattern and "Ridge" not in text.pattern


# -- where a recipe cannot be fitted safely, none is offered -------------------------------------------------------


@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("frames read from a path the script is given", ('pd.read_csv("train.csv")', "pd.read_csv(sys.argv[1])")),
        ("a feature list naming columns the data lacks", ('num_cols = ["age"]', 'num_cols = ["age", "weight"]')),
        ("two lists picking the transformer's input", ("model.fit(data.drop", 'model.fit(data[["age"] + num_cols]')),
        (
            "the test table read from a path the script is given",
            ('pd.read_csv("test.csv")', "pd.read_csv(sys.argv[2])"),
        ),
        ("columns picked by a selector", ("num_cols)", 'make_column_selector(dtype_include="number"))')),
    ],
)
def test_no_column_recipe_where_the_shape_cannot_be_read(
    shoppers: Workspace, why: str, change: tuple[str, str]
) -> None:
    script = "import sys\n" + PIPELINE_SCRIPT.replace(*change)
    names = [r.name for r in recipes_for(shoppers, script)]
    assert "encode text categories" not in names and "add number columns" not in names, why
    assert "gradient boosting" in names  # the model is still known


def test_two_lists_of_mixed_kinds_get_no_column_recipe(shoppers: Workspace) -> None:
    script = textwrap.dedent(
        """\
        import pandas as pd
        A = ["age", "city"]
        B = ["rooms"]
        train = pd.read_csv("train.csv")
        X = train[A + B]
        """
    )
    assert recipes_for(shoppers, script) == []


# -- Adam inside a function ---------------------------------------------------------------------------------------


def test_the_adam_recipe_reads_the_optimizer_inside_a_function(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """\
        import torch


        def fit(net):
            EPOCHS = 2
            opt = torch.optim.SGD(params=net.parameters(), lr=0.1)
            for _ in range(EPOCHS):
                opt.step()


        if __name__ == "__main__":
            fit(torch.nn.Linear(2, 1))
        """
    )
    (adam,) = recipes_for(Workspace(tmp_path, []), script)
    assert adam.pattern == "opt = torch.optim.Adam(net.parameters(), lr=1e-3)\nEPOCHS = 5"
