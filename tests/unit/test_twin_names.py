"""A name a script reads but never makes is defined like its twin (train_mae like valid_mae), when that is exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from budgetmlagent.scaffold.script_repair import repair_reply
from budgetmlagent.scaffold.twin_names import define_by_twins, words

HALF_FILLED = """from statistics import mean
fit_rows, check_rows, fit_target, check_target = [1, 2], [3, 4], [1.0, 2.0], [3.5, 4.5]
def error(truth, guess):
    return mean(abs(t - g) for t, g in zip(truth, guess))
check_error = error(check_target, check_rows)
print("Fit error:", fit_error)
print("Check error:", check_error)
"""


def test_the_missing_twin_is_defined_with_its_word_swapped_and_the_script_runs(tmp_path: Path) -> None:
    fixed, added = define_by_twins(HALF_FILLED, ["fit_error"])
    assert added == ["fit_error = error(fit_target, fit_rows)"]
    script = tmp_path / "train.py"
    script.write_text(fixed)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["Fit error: 0.0", "Check error: 0.5"]


def test_camel_case_twins_and_separators_are_kept() -> None:
    code = "trainX, valX, trainY, valY = 1, 2, 3, 4\nvalAcc = score(valY, valX)\nprint(trainAcc)\n"
    fixed, added = define_by_twins(code, ["trainAcc"])
    assert added == ["trainAcc = score(trainY, trainX)"] and fixed.index("trainAcc =") < fixed.index("print")
    assert words("valid_mae") == ["valid", "mae"] and words("validAcc") == ["valid", "Acc"]


def test_no_twin_is_guessed_when_it_would_read_names_that_do_not_exist_yet_or_swap_nothing() -> None:
    later = "valAcc = score(valY)\ntrainY = 1\nvalY = 2\nprint(trainAcc)\n"
    assert define_by_twins(later, ["trainAcc"]) == (later, [])  # trainY is made after the twin
    constant = "valid_mae = 0.0\nprint(train_mae)\n"
    assert define_by_twins(constant, ["train_mae"]) == (constant, [])  # nothing to swap: no evidence
    unrelated = "valid_mae = err(valid_y)\ntrain_y = 1\nprint(test_rmse)\n"
    assert define_by_twins(unrelated, ["test_rmse"]) == (unrelated, [])  # two words differ


def test_the_coder_s_reply_is_completed_before_it_runs() -> None:
    original = HALF_FILLED.replace("check_error = error(check_target, check_rows)\n", "# your model here\n")
    fixed, notes = repair_reply(original, HALF_FILLED)
    assert "fit_error = error(fit_target, fit_rows)" in fixed
    assert any("defined like their twins: fit_error = error(fit_target, fit_rows)" in note for note in notes)
