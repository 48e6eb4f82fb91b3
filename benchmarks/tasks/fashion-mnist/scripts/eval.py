"""Accuracy of env/submission.csv against the hidden test labels."""

import os

import numpy as np
import pandas as pd


def get_score(submission_folder="../env"):
    """Fraction of test images whose class the submission predicts correctly."""
    answer = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.npz"))
    answer = pd.DataFrame({"id": answer["ids"], "label": answer["labels"]})
    submission = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    missing = {"id", "label"} - set(submission.columns)
    if missing:
        raise ValueError(f"submission.csv lacks column(s) {sorted(missing)}; expected the columns id,label")
    submission = submission.drop_duplicates("id", keep="last")
    merged = answer.merge(submission[["id", "label"]], on="id", how="left", suffixes=("", "_pred"))
    predicted = pd.to_numeric(merged["label_pred"], errors="coerce").round()
    # Images without a prediction count as wrong.
    return float((predicted == merged["label"]).mean())


if __name__ == "__main__":
    print(get_score())
