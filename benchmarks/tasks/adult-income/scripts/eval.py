"""F1 score of the >50K class of env/submission.csv against the hidden incomes."""

import os

import pandas as pd

LABELS = {">50K", "<=50K"}


def get_score(submission_folder="../env"):
    """F1 of the positive class ">50K" over the test people (harmonic mean of precision and recall)."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    submission = pd.read_csv(os.path.join(submission_folder, "submission.csv"), dtype={"income": str})
    missing = {"id", "income"} - set(submission.columns)
    if missing:
        raise ValueError(f"submission.csv lacks column(s) {sorted(missing)}")
    submission = submission.drop_duplicates("id", keep="last")
    merged = answer.merge(submission, on="id", how="left", suffixes=("", "_pred"))
    predicted = merged["income_pred"].str.strip()
    bad = ~predicted.isin(LABELS)
    if bad.any():
        example = merged.loc[bad].iloc[0]
        raise ValueError(
            f"submission.csv needs income '>50K' or '<=50K' for every test id; {int(bad.sum())} of "
            f"{len(answer)} are missing or other (e.g. id {int(example['id'])}: {example['income_pred']!r})"
        )
    truth = merged["income"] == ">50K"
    guess = predicted == ">50K"
    true_pos = int((truth & guess).sum())
    denominator = int(truth.sum()) + int(guess.sum())
    return 2.0 * true_pos / denominator if denominator else 0.0


if __name__ == "__main__":
    print(get_score())
