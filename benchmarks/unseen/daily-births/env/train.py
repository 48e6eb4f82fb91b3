"""Forecast US daily births for 1987-1988 from the 1969-1986 history."""

from pathlib import Path

import pandas as pd
from sklearn.metrics import mean_absolute_error
from sklearn.tree import DecisionTreeRegressor

DATA_DIR = Path("data")
TARGET = "births"


def load(name):
    return pd.read_csv(DATA_DIR / name, parse_dates=["date"])


def split_last_year(df):
    """Hold out the most recent year, since the real job is to predict the future."""
    last = df["year"].max()
    return df[df["year"] < last], df[df["year"] == last]


def fit(df):
    X = df.drop(columns=[TARGET, "date"])
    model = DecisionTreeRegressor(max_depth=6, random_state=0)
    model.fit(X, df[TARGET])
    return model


def main():
    df_train = load("births_train.csv")
    df_test = load("births_test.csv")

    df_fit, df_valid = split_last_year(df_train)
    model = fit(df_fit)
    pred = model.predict(df_valid.drop(columns=[TARGET, "date"]))
    err = mean_absolute_error(df_valid[TARGET], pred)
    print(f"[{df_valid['year'].iloc[0]} held out] mean abs error = {err:.1f} births/day")

    model = fit(df_train)
    out = pd.DataFrame({
        "date": df_test["date"].dt.strftime("%Y-%m-%d"),
        TARGET: model.predict(df_test.drop(columns=["date"])),
    })
    out.to_csv("predictions.csv", index=False)
    print(f"wrote predictions.csv ({len(out)} days)")


if __name__ == "__main__":
    main()
