import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

FEATURES = ["pclass", "age", "fare"]

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")

# Fill missing values with the training medians.
medians = train[FEATURES].median()
X = train[FEATURES].fillna(medians)
y = train["survived"]
X_test = test[FEATURES].fillna(medians)

# Hold out 20 % of the training data to measure the model.
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)

model = LogisticRegression(max_iter=1000)
model.fit(X_train, y_train)
val_accuracy = accuracy_score(y_val, model.predict(X_val))
print(f"Validation accuracy: {val_accuracy:.4f}")

submission = pd.DataFrame({"passenger_id": test["passenger_id"], "survived": model.predict(X_test)})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
