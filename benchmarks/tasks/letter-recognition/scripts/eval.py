"""Accuracy of env/submission.csv against the hidden letters."""

import os

import pandas as pd


def get_score(submission_folder="../env"):
    """Fraction of test images whose letter (A-Z) the submission predicts correctly."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    path = os.path.join(submission_folder, "submission.csv")
    if not os.path.isfile(path):
        raise ValueError(f"{path} does not exist; train.py must write submission.csv")
    submission = pd.read_csv(path)
    missing = {"id", "letter"} - set(submission.columns)
    if missing:
        raise ValueError(f"submission.csv lacks column(s) {sorted(missing)}")
    submission = submission.drop_duplicates("id", keep="last")
    merged = answer.merge(submission, on="id", how="left", suffixes=("", "_pred"))
    predicted = merged["letter_pred"].astype("string").str.strip().str.upper()
    # Images without a prediction count as wrong.
    return float((predicted == merged["letter"]).fillna(False).mean())


if __name__ == "__main__":
    print(get_score())
