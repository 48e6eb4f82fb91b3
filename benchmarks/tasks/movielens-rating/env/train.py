import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split

FEATURES = ["year"]

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")

# Fill missing release years with the training median.
medians = train[FEATURES].median()
X = train[FEATURES].fillna(medians)
y = train["rating"]
X_test = test[FEATURES].fillna(medians)

# Hold out 20 % of the training data to measure the model.
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0)

# Predict the rating from the movie's release year alone.
model = LinearRegression()
model.fit(X_train, y_train)
val_rmse = np.sqrt(mean_squared_error(y_val, model.predict(X_val)))
print(f"Validation RMSE: {val_rmse:.4f}")

submission = pd.DataFrame({"id": test["id"], "rating": model.predict(X_test)})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
