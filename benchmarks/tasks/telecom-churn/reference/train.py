import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")

USAGE = ["day", "eve", "night", "intl"]


def features(df):
    out = df.drop(columns=["id", "churn", "state", "area_code"], errors="ignore")
    out["international_plan"] = (df["international_plan"] == "yes").astype(int)
    out["voice_mail_plan"] = (df["voice_mail_plan"] == "yes").astype(int)
    out["total_minutes"] = sum(df[f"total_{part}_minutes"] for part in USAGE)
    out["total_charge"] = sum(df[f"total_{part}_charge"] for part in USAGE)
    out["total_calls"] = sum(df[f"total_{part}_calls"] for part in USAGE)
    return out


X, X_test = features(train), features(test)
y = (train["churn"] == "yes").astype(int)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)

params = dict(n_estimators=300, learning_rate=0.05, max_depth=4, subsample=0.8, random_state=0)
model = GradientBoostingClassifier(**params).fit(X_train, y_train)
print(f"Validation ROC-AUC: {roc_auc_score(y_val, model.predict_proba(X_val)[:, 1]):.4f}")

model = GradientBoostingClassifier(**params).fit(X, y)
pd.DataFrame({"id": test["id"], "churn": model.predict_proba(X_test)[:, 1]}).to_csv("submission.csv", index=False)
print("Wrote submission.csv")
