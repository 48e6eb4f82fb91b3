"""How past steps read in prompts: diffs the script listing already shows are left out, others kept."""

from __future__ import annotations

from budgetmlagent.prompts.history import DIFF_SHOWN_ABOVE, without_shown_diffs
from budgetmlagent.workspace.actions import bounded_diff

OLD = "import pandas as pd\nframe = pd.read_parquet('in/houses.parquet')\nmodel = Ridge()\nmodel.fit(frame, y)\n"
NEW = OLD.replace("model = Ridge()", "model = HistGradientBoostingRegressor(max_iter=300)")


def observation(diff: str) -> str:
    return f"Saved fit.py. Here is the diff:\n{diff}\nRan fit.py:\nrmse 3.2\n-- done --"


def test_a_diff_whose_lines_the_listing_holds_becomes_one_note_and_the_output_stays() -> None:
    text = without_shown_diffs(observation(bounded_diff(OLD, NEW, "fit.py")), NEW)
    assert DIFF_SHOWN_ABOVE in text and "HistGradientBoosting" not in text
    assert text.startswith("Saved fit.py.") and text.endswith("Ran fit.py:\nrmse 3.2\n-- done --")


def test_a_diff_with_a_line_the_listing_lacks_is_kept_whole() -> None:
    shown = observation(bounded_diff(OLD, NEW, "fit.py"))
    assert without_shown_diffs(shown, OLD) == shown


def test_a_diff_cut_in_the_middle_is_one_block() -> None:
    long_new = NEW + "".join(f"frame['f{i}'] = frame['x'] ** {i}\n" for i in range(80))
    diff = bounded_diff(OLD, long_new, "fit.py", limit=600)
    assert "characters omitted" in diff
    text = without_shown_diffs(observation(diff), long_new)
    assert "frame['f" not in text and text.count(DIFF_SHOWN_ABOVE) == 1
