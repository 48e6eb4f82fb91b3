import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

FEATURES = ["age", "education_num", "hours_per_week"]

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")

X = train[FEATURES]
y = (train["income"] == ">50K").astype(int)
X_test = test[FEATURES]

# Hold out 20 % of the training data to measure the model.
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)

model = LogisticRegression(max_iter=1000)
model.fit(X_train, y_train)
val_f1 = f1_score(y_val, model.predict(X_val))
print(f"Validation F1: {val_f1:.4f}")

income = pd.Series(model.predict(X_test)).map({1: ">50K", 0: "<=50K"})
submission = pd.DataFrame({"id": test["id"], "income": income})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
