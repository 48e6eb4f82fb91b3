import os

import numpy as np
import pandas as pd


def get_score(submission_folder="../env"):
    """Mean absolute error, in years, of the predicted release years of the test films."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    sub = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    assert {"movie_id", "year"} <= set(sub.columns), "submission.csv needs the columns movie_id,year"
    sub = sub.drop_duplicates("movie_id", keep="last").set_index("movie_id")["year"]
    pred = pd.to_numeric(answer["movie_id"].map(sub), errors="coerce").to_numpy(dtype=float)
    assert np.isfinite(pred).all(), "submission.csv lacks a year for some test films"
    return float(np.mean(np.abs(pred - answer["year"].to_numpy(dtype=float))))


if __name__ == "__main__":
    print(get_score())
