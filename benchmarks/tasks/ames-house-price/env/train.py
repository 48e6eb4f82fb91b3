import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split

FEATURES = ["Lot_Area", "Year_Built", "Gr_Liv_Area", "Full_Bath", "Bedroom_AbvGr", "TotRms_AbvGrd"]

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")

X = train[FEATURES]
y = train["Sale_Price"]
X_test = test[FEATURES]

# Hold out 20 % of the training data to measure the model.
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0)

model = RandomForestRegressor(n_estimators=50, max_depth=8, random_state=0)
model.fit(X_train, y_train)
val_mae = mean_absolute_error(y_val, model.predict(X_val))
print(f"Validation MAE: {val_mae:.0f}")

submission = pd.DataFrame({"id": test["id"], "Sale_Price": model.predict(X_test)})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
