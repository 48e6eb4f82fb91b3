import os

import numpy as np
import pandas as pd


def get_score(submission_folder="../env"):
    """MAE in dollars between submission.csv and the true sale prices of the test houses."""
    here = os.path.dirname(os.path.abspath(__file__))
    answer = pd.read_csv(os.path.join(here, "answer.csv"))
    submission = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    if "Id" not in submission.columns or "price" not in submission.columns:
        raise ValueError("submission.csv needs the columns Id,price; got %s" % list(submission.columns))
    submission = submission.drop_duplicates("Id", keep="last").set_index("Id")
    pred = pd.to_numeric(answer["Id"].map(submission["price"]), errors="coerce")
    if not np.isfinite(pred.to_numpy(dtype=float)).all():
        raise ValueError("submission.csv is missing a finite price for some test Ids")
    return float(np.mean(np.abs(pred.to_numpy(dtype=float) - answer["price"].to_numpy(dtype=float))))


if __name__ == "__main__":
    print(get_score())
