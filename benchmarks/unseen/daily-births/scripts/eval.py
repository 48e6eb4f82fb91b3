"""Scores predictions.csv (date, births) against the true daily births of 1987-1988."""

import os

import numpy as np
import pandas as pd


def get_score(submission_folder="../env"):
    """Mean absolute error in births per day over the 731 forecast days."""
    truth = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    path = os.path.join(submission_folder, "predictions.csv")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: train.py writes predictions.csv")
    pred = pd.read_csv(path)
    for col in ("date", "births"):
        if col not in pred.columns:
            raise ValueError(f"predictions.csv has no '{col}' column")
    pred["date"] = pd.to_datetime(pred["date"]).dt.strftime("%Y-%m-%d")
    pred = pred.drop_duplicates("date", keep="last").set_index("date")["births"]
    guess = pd.to_numeric(truth["date"].map(pred), errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(guess)):
        missing = truth.loc[~np.isfinite(guess), "date"].tolist()
        raise ValueError(f"no prediction for {len(missing)} day(s), e.g. {missing[0]}")
    return float(np.abs(guess - truth["births"].to_numpy(dtype=float)).mean())


if __name__ == "__main__":
    print(get_score())
