import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")

FEATURES = [c for c in train.columns if c not in ("id", "letter")]
X = train[FEATURES]
y = train["letter"]

# Hold out 20 % of the training data to measure the model.
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)

# A linear model on standardised features: one weight per feature and letter.
model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
model.fit(X_train, y_train)
val_accuracy = accuracy_score(y_val, model.predict(X_val))
print(f"Validation accuracy: {val_accuracy:.4f}")

submission = pd.DataFrame({"id": test["id"], "letter": model.predict(test[FEATURES])})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
