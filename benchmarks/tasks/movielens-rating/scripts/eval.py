"""Root mean squared error of the ratings in env/submission.csv against the hidden ratings."""

import os

import numpy as np
import pandas as pd


def get_score(submission_folder="../env"):
    """RMSE over all test ratings (lower is better); every test id needs a finite predicted rating."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    path = os.path.join(submission_folder, "submission.csv")
    if not os.path.isfile(path):
        raise ValueError(f"{path} does not exist; train.py must write submission.csv")
    submission = pd.read_csv(path)
    missing = {"id", "rating"} - set(submission.columns)
    if missing:
        raise ValueError(f"submission.csv lacks column(s) {sorted(missing)}")
    submission = submission.drop_duplicates("id", keep="last")
    merged = answer.merge(submission, on="id", how="left", suffixes=("", "_pred"))
    predicted = pd.to_numeric(merged["rating_pred"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(predicted)
    if bad.any():
        raise ValueError(
            f"submission.csv has no finite predicted rating for {int(bad.sum())} of the {len(answer)} test ids"
        )
    return float(np.sqrt(np.mean((predicted - merged["rating"].to_numpy(dtype=float)) ** 2)))


if __name__ == "__main__":
    print(get_score())
