import os

import pandas as pd
from sklearn.metrics import f1_score

CLASSES = ["VF", "F", "M", "L"]


def get_score(submission_folder="../env"):
    """Macro-averaged F1 over the four runtime classes (each class counts equally, so the rare
    long-running jobs matter as much as the very fast ones)."""
    answer = pd.read_csv(os.path.join(os.path.dirname(os.path.abspath(__file__)), "answer.csv"))
    sub = pd.read_csv(os.path.join(submission_folder, "submission.csv"))
    if not {"job_id", "runtime_class"} <= set(sub.columns):
        raise ValueError("submission.csv must have the columns job_id,runtime_class")
    sub = sub.drop_duplicates("job_id", keep="last").set_index("job_id")["runtime_class"]
    pred = answer["job_id"].map(sub).fillna("missing").astype(str).str.strip()
    return float(f1_score(answer["runtime_class"], pred, labels=CLASSES, average="macro", zero_division=0))


if __name__ == "__main__":
    print(get_score())
