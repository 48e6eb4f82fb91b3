"""Accuracy of env/submission.csv against the hidden answers."""

import os

import pandas as pd


def get_score(submission_folder="../env"):
    """Fraction of test passengers whose survival the submission predicts correctly."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    submission = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    missing = {"passenger_id", "survived"} - set(submission.columns)
    if missing:
        raise ValueError(f"submission.csv lacks column(s) {sorted(missing)}")
    submission = submission.drop_duplicates("passenger_id", keep="last")
    merged = answer.merge(submission, on="passenger_id", how="left", suffixes=("", "_pred"))
    predicted = pd.to_numeric(merged["survived_pred"], errors="coerce").round()
    # Passengers without a prediction count as wrong.
    return float((predicted == merged["survived"]).mean())


if __name__ == "__main__":
    print(get_score())
