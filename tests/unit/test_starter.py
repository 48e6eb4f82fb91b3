"""The first change a starter needs: run end to end, print a hold-out metric; worded for any script."""

from __future__ import annotations

from budgetmlagent.scaffold.starter import first_change, validation_line
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
