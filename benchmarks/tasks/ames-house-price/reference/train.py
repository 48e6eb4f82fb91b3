import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")


def features(df):
    out = df.drop(columns=["id", "Sale_Price"], errors="ignore")
    out["Total_SF"] = out["Total_Bsmt_SF"] + out["First_Flr_SF"] + out["Second_Flr_SF"]
    out["Age"] = out["Year_Sold"] - out["Year_Built"]
    out["Remod_Age"] = out["Year_Sold"] - out["Year_Remod_Add"]
    out["Baths"] = out["Full_Bath"] + 0.5 * out["Half_Bath"] + out["Bsmt_Full_Bath"] + 0.5 * out["Bsmt_Half_Bath"]
    return out


# One-hot encode the text columns over train and test together so both get the same columns.
both = pd.get_dummies(features(pd.concat([train, test], ignore_index=True)), dtype=float)
X, X_test = both.iloc[: len(train)], both.iloc[len(train):]
# Prices are skewed: fit the log price.
y = np.log(train["Sale_Price"])
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0)

params = dict(n_estimators=600, learning_rate=0.05, max_depth=4, subsample=0.8, max_features=0.5, random_state=0)
model = GradientBoostingRegressor(**params).fit(X_train, y_train)
val_mae = mean_absolute_error(np.exp(y_val), np.exp(model.predict(X_val)))
print(f"Validation MAE: {val_mae:.0f}")

model = GradientBoostingRegressor(**params).fit(X, y)
submission = pd.DataFrame({"id": test["id"], "Sale_Price": np.exp(model.predict(X_test))})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
