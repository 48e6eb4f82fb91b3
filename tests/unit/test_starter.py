"""The first change a starter needs: run end to end, print a hold-out metric; worded for any script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from budgetmlagent.scaffold.starter import Gap, first_change, read_gap, validation_line
from budgetmlagent.workspace.validation import recognise_validation_pattern


def test_a_starter_that_runs_and_prints_its_metric_needs_no_first_change() -> None:
    assert first_change("train.py", "MAE", runs=True, prints_validation=True) is None


def test_a_starter_that_does_not_run_is_made_to_run_and_measure_first() -> None:
    text = first_change("fit.py", "MAE", runs=False, prints_validation=False)
    assert text is not None and text.startswith("Make fit.py run end to end")
    assert "sklearn.metrics.mean_absolute_error" in text and "random_state=0" in text
    assert "'Validation MAE: <value>'" in text


def test_a_starter_that_prints_no_metric_is_made_to_print_one_the_scaffold_can_read() -> None:
    text = first_change("train.py", "RMSE", runs=True, prints_validation=False)
    assert text is not None and "print its validation metric" in text and "square root" in text
    printed = validation_line("RMSE").replace("<value>", "0.8731")
    assert recognise_validation_pattern(f"epoch 3\n{printed}\n", "RMSE") is not None


def test_an_unknown_metric_is_asked_for_by_name_only() -> None:
    text = first_change("train.py", "quality score", runs=True, prints_validation=False)
    assert text is not None and "computed with" not in text and "'Validation quality score: <value>'" in text


SKELETON = """import pandas as pd
from sklearn.model_selection import train_test_split
data = pd.read_csv('houses.csv')
X, y = data[['a', 'b']], data.price
part_X, held_X, part_y, held_y = train_test_split(X, y, random_state=1)
# write and train your model here: populate fit_error and check_error
print("Fit error: {:,.0f}".format(fit_error))
print("Valid error: {:,.0f}".format(check_error))
preds = regressor.predict(pd.read_csv('test.csv')[['a', 'b']])
"""


def test_a_skeleton_s_gap_is_read_from_its_syntax_tree_not_its_names() -> None:
    gap = read_gap(SKELETON)
    assert gap.undefined == ("fit_error", "check_error", "regressor")
    assert gap.fit_on == ("part_X", "part_y") and gap.measure_on == ("held_X", "held_y") and gap.prints_validation
    text = first_change("fit.py", "MAE", runs=False, prints_validation=False, source=SKELETON)
    assert text is not None
    assert "defining fit_error, check_error and regressor, which the script uses but never assigns" in text
    assert "fit on part_X and part_y and measure MAE" in text and "on held_X and held_y" in text
    assert "keep its prints" in text and "random_state=0" not in text  # it already splits and prints


def test_a_script_that_fails_for_another_reason_gets_the_general_wording() -> None:
    source = "import pandas as pd\n\ndef main(path):\n    return pd.read_csv(path)\n\nmain('missing.csv')\n"
    assert read_gap(source) == Gap()
    text = first_change("fit.py", "MAE", runs=False, prints_validation=False, source=source)
    assert text is not None and "define every variable it uses later" in text and "random_state=0" in text
    assert read_gap("def broken(:\n") == Gap()


FUNCTION_STARTER = """import numpy as np
from sklearn.linear_model import LogisticRegression


def main():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(120, 3))
    labels = (features[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    clf = LogisticRegression()
    clf.fit(features, labels)
    np.savetxt("submission.csv", clf.predict(features[:5]), fmt="%d")
    print("wrote submission.csv")


main()
"""


def test_the_scaffold_writes_the_hold_out_check_itself_inside_a_function(tmp_path: Path) -> None:
    # film-release-year prints nothing and fits at the top level; this starter fits inside main() and the metric is
    # accuracy: the check goes just before the fit, at its indentation, and the script's own output stays.
    from budgetmlagent.scaffold.starter import hold_out_code

    code = hold_out_code(FUNCTION_STARTER, "accuracy")
    assert code is not None and "\n    _check = _clone(clf).fit(_X_fit, _y_fit)\n" in code
    assert code.index("_check =") < code.index("    clf.fit(features, labels)")
    (tmp_path / "train.py").write_text(code)
    done = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "wrote submission.csv" in done.stdout and (tmp_path / "submission.csv").is_file()
    pattern = recognise_validation_pattern(done.stdout, "accuracy")
    assert pattern is not None and 0.5 < float(re.search(pattern, done.stdout).group(1)) <= 1.0  # type: ignore[union-attr]


def test_no_hold_out_code_without_a_fit_call_or_for_a_metric_that_needs_more_than_predictions() -> None:
    from budgetmlagent.scaffold.starter import hold_out_code

    assert hold_out_code(FUNCTION_STARTER, "F1") is None  # averaging is the models' call
    assert hold_out_code(FUNCTION_STARTER.replace("clf.fit(features, labels)", "clf.fit(features)"), "MAE") is None
    assert hold_out_code("print(", "MAE") is None
