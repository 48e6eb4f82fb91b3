import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

FEATURES = ["account_length", "total_day_minutes", "total_eve_minutes", "total_night_minutes"]

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")

X = train[FEATURES]
y = (train["churn"] == "yes").astype(int)
X_test = test[FEATURES]

# Hold out 20 % of the training data to measure the model.
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)

model = LogisticRegression(max_iter=1000)
model.fit(X_train, y_train)
val_auc = roc_auc_score(y_val, model.predict_proba(X_val)[:, 1])
print(f"Validation ROC-AUC: {val_auc:.4f}")

submission = pd.DataFrame({"id": test["id"], "churn": model.predict_proba(X_test)[:, 1]})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
