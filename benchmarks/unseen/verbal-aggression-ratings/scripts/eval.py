import os

import numpy as np
import pandas as pd


def get_score(submission_folder="../env"):
    """Root mean squared error of predictions.csv (row_id, rating) on the held-out answers (0, 1 or 2)."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    pred = pd.read_csv(os.path.join(submission_folder, "predictions.csv"))
    if "row_id" not in pred or "rating" not in pred:
        raise ValueError("predictions.csv needs the columns row_id,rating")
    pred = pred.drop_duplicates("row_id", keep="last").set_index("row_id")["rating"]
    guess = pd.to_numeric(answer["row_id"].map(pred), errors="coerce").to_numpy(dtype=float)
    if np.isnan(guess).any() or np.isinf(guess).any():
        raise ValueError(f"{int((~np.isfinite(guess)).sum())} rows of ratings_test.csv have no finite prediction")
    return float(np.sqrt(np.mean((guess - answer["rating"].to_numpy(dtype=float)) ** 2)))


if __name__ == "__main__":
    print(get_score())
