import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

FEATURES = ["Lot_Area", "Year_Built", "Gr_Liv_Area", "Full_Bath", "Bedroom_AbvGr", "TotRms_AbvGrd", "MS_SubClass", "MS_Zoning", "Street", "Alley", "Lot_Shape", "Land_Contour", "Utilities", "Lot_Config"]
TEXT_COLUMNS = ["MS_SubClass", "MS_Zoning", "Street", "Alley", "Lot_Shape", "Land_Contour", "Utilities", "Lot_Config"]  # the text categories among FEATURES

# One-hot encode the text columns (the test frame gets the training frame's columns), then fill gaps.
train = pd.read_csv("train.csv")
X = pd.get_dummies(train[FEATURES], columns=TEXT_COLUMNS, dtype=float)
test = pd.read_csv("test.csv")
X_test = pd.get_dummies(test[FEATURES], columns=TEXT_COLUMNS, dtype=float).reindex(columns=X.columns, fill_value=0)
medians = X.median()
X = X.fillna(medians)
X_test = X_test.fillna(medians)

# Hold out 20 % of the training data to measure the model.
y = train["Sale_Price"]
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0)

model = RandomForestRegressor(n_estimators=50, max_depth=8, random_state=0)
model.fit(X_train, y_train)
val_mae = mean_absolute_error(y_val, model.predict(X_val))
print(f"Validation MAE: {val_mae:.0f}")

submission = pd.DataFrame({"id": test["id"], "Sale_Price": model.predict(X_test)})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
