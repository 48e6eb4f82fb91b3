"""Build env/train.csv, env/test.csv and scripts/answer.csv from mlbench's LetterRecognition data."""

import sys
from pathlib import Path

import numpy as np

RDA = Path("/usr/lib/R/site-library/mlbench/data/LetterRecognition.rda")
N_TRAIN = 16000  # the usual split of this data: the first 16000 rows train, the last 4000 test
HOW_TO_GET = (
    "The letter data needs the Debian package r-cran-mlbench (`apt-get install r-cran-mlbench`) "
    "and the Python package pyreadr (`pip install pyreadr`)"
)


def load():
    """The 20000 x 17 LetterRecognition table, with Python-friendly column names."""
    try:
        import pyreadr
    except ImportError:
        sys.exit(f"{HOW_TO_GET}; pyreadr is not installed.")
    if not RDA.is_file():
        sys.exit(f"{HOW_TO_GET}; {RDA} is missing.")
    data = pyreadr.read_r(str(RDA))["LetterRecognition"]
    data = data.rename(columns={"lettr": "letter"})
    data.columns = [c.replace(".", "_") for c in data.columns]
    data["letter"] = data["letter"].astype(str)
    features = [c for c in data.columns if c != "letter"]
    data[features] = data[features].astype(int)
    return data


def main() -> None:
    here = Path(__file__).resolve().parent
    env = here.parent / "env"
    data = load()
    data.insert(0, "id", np.arange(1, len(data) + 1))
    train, test = data.iloc[:N_TRAIN], data.iloc[N_TRAIN:]
    train.to_csv(env / "train.csv", index=False)
    test.drop(columns=["letter"]).to_csv(env / "test.csv", index=False)
    test[["id", "letter"]].to_csv(here / "answer.csv", index=False)
    print(f"train {len(train)} rows, test {len(test)} rows")


if __name__ == "__main__":
    main()
