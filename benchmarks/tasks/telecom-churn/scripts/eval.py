"""ROC-AUC of the churn probabilities in env/submission.csv against the hidden answers."""

import os

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def get_score(submission_folder="../env"):
    """Area under the ROC curve of the predicted churn scores over the test customers."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    submission = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    missing = {"id", "churn"} - set(submission.columns)
    if missing:
        raise ValueError(f"submission.csv lacks column(s) {sorted(missing)}")
    submission = submission.drop_duplicates("id", keep="last")
    merged = answer.merge(submission, on="id", how="left", suffixes=("", "_pred"))
    predicted = pd.to_numeric(merged["churn_pred"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(predicted)
    if bad.any():
        raise ValueError(
            f"submission.csv needs a numeric churn probability for every test id; {int(bad.sum())} of "
            f"{len(answer)} are missing or not numbers (e.g. id {int(merged.loc[bad, 'id'].iloc[0])})"
        )
    return float(roc_auc_score(merged["churn"] == "yes", predicted))


if __name__ == "__main__":
    print(get_score())
