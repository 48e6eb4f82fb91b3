"""Predicts disease progression one year after baseline from a patient's measurements."""

import pandas as pd
from sklearn.linear_model import LinearRegression

train = pd.read_csv("data/train.csv")
holdout = pd.read_csv("data/holdout.csv")

features = ["age", "sex"]
model = LinearRegression()
model.fit(train[features], train["progression"])

pd.DataFrame({"progression": model.predict(holdout[features])}).to_csv("predictions.csv", index=False)
print("wrote predictions.csv")
