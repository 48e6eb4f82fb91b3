"""Mean absolute error of env/submission.csv against the hidden sale prices."""

import os

import numpy as np
import pandas as pd


def get_score(submission_folder="../env"):
    """Mean absolute difference, in dollars, between predicted and true sale prices of the test houses."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    submission = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    missing = {"id", "Sale_Price"} - set(submission.columns)
    if missing:
        raise ValueError(f"submission.csv lacks column(s) {sorted(missing)}")
    submission = submission.drop_duplicates("id", keep="last")
    merged = answer.merge(submission, on="id", how="left", suffixes=("", "_pred"))
    predicted = pd.to_numeric(merged["Sale_Price_pred"], errors="coerce")
    bad = ~np.isfinite(predicted.to_numpy(dtype=float))
    if bad.any():
        raise ValueError(
            f"submission.csv has no finite Sale_Price for {int(bad.sum())} of {len(answer)} test ids "
            f"(e.g. id {int(merged.loc[bad, 'id'].iloc[0])})"
        )
    return float((predicted - merged["Sale_Price"]).abs().mean())


if __name__ == "__main__":
    print(get_score())
