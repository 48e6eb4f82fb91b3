"""Forecast US daily births for 1987-1988 from the 1969-1986 history.

A log-linear model (local trend, day of week, smooth yearly season, holidays) and gradient boosting on
its residuals for what the smooth terms miss (days around holidays, the 13th, ...).
"""

from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.holiday import USFederalHolidayCalendar
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error

DATA_DIR = Path("data")
TARGET = "births"
HISTORY_YEARS = 4  # the trend changes over decades: fit the recent years only (4 was best on 1986)
HOLIDAYS = USFederalHolidayCalendar().holidays("1960-01-01", "1995-12-31")


def load(name):
    return pd.read_csv(DATA_DIR / name, parse_dates=["date"])


def split_last_year(df):
    last = df["year"].max()
    return df[df["year"] < last], df[df["year"] == last]


def smooth_features(df):
    f = pd.DataFrame(index=df.index)
    t = (df["date"] - pd.Timestamp("1980-01-01")).dt.days / 365.25
    f["t"] = t
    angle = 2 * np.pi * df["day_of_year"] / 365.25
    for k in range(1, 6):
        f[f"sin{k}"] = np.sin(k * angle)
        f[f"cos{k}"] = np.cos(k * angle)
    for d in range(1, 8):
        f[f"dow{d}"] = (df["day_of_week"] == d).astype(float)
    holiday = df["date"].isin(HOLIDAYS)
    f["holiday"] = holiday.astype(float)
    f["holiday_weekday"] = (holiday & (df["day_of_week"].between(2, 6))).astype(float)
    for shift in (-1, 1):
        f[f"holiday{shift:+d}"] = (df["date"] + pd.Timedelta(days=shift)).isin(HOLIDAYS).astype(float)
    md = df["date"].dt.strftime("%m-%d")
    for day in ("01-01", "12-24", "12-25", "12-26", "12-31", "07-04"):
        f[f"day_{day}"] = (md == day).astype(float)
    return f


def residual_features(df):
    return df[["month", "day_of_month", "day_of_year", "day_of_week"]]


class Forecaster:
    def fit(self, df):
        recent = df[df["year"] > df["year"].max() - HISTORY_YEARS]
        y = np.log(recent[TARGET])
        self.linear = Ridge(alpha=1.0).fit(smooth_features(recent), y)
        resid = y - self.linear.predict(smooth_features(recent))
        self.boost = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, max_leaf_nodes=15,
                                                   random_state=0)
        self.boost.fit(residual_features(recent), resid)
        return self

    def predict(self, df):
        log_pred = self.linear.predict(smooth_features(df)) + self.boost.predict(residual_features(df))
        return np.exp(log_pred)


def main():
    df_train = load("births_train.csv")
    df_test = load("births_test.csv")

    df_fit, df_valid = split_last_year(df_train)
    model = Forecaster().fit(df_fit)
    err = mean_absolute_error(df_valid[TARGET], model.predict(df_valid))
    print(f"[{df_valid['year'].iloc[0]} held out] mean abs error = {err:.1f} births/day")

    model = Forecaster().fit(df_train)
    out = pd.DataFrame({"date": df_test["date"].dt.strftime("%Y-%m-%d"), TARGET: model.predict(df_test)})
    out.to_csv("predictions.csv", index=False)
    print(f"wrote predictions.csv ({len(out)} days)")


if __name__ == "__main__":
    main()
