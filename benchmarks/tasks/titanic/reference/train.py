import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")


def features(df):
    out = pd.DataFrame(index=df.index)
    out["pclass"] = df["pclass"]
    out["female"] = (df["sex"] == "female").astype(int)
    for col in ["age", "fare", "sibsp", "parch"]:
        out[col] = df[col]
    out["family"] = df["sibsp"] + df["parch"] + 1
    out["has_cabin"] = df["cabin"].notna().astype(int)
    title = df["name"].str.extract(r",\s*([^.]+)\.", expand=False).fillna("Other")
    title = title.replace({"Mlle": "Miss", "Ms": "Miss", "Mme": "Mrs"})
    for t in ["Mr", "Mrs", "Miss", "Master"]:
        out[f"title_{t}"] = (title == t).astype(int)
    for port in ["C", "Q", "S"]:
        out[f"embarked_{port}"] = (df["embarked"] == port).astype(int)
    return out


X, y, X_test = features(train), train["survived"], features(test)
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
params = dict(max_iter=200, learning_rate=0.05, max_depth=3, random_state=0)
model = HistGradientBoostingClassifier(**params).fit(X_train, y_train)
print(f"Validation accuracy: {accuracy_score(y_val, model.predict(X_val)):.4f}")
model = HistGradientBoostingClassifier(**params).fit(X, y)
pd.DataFrame({"passenger_id": test["passenger_id"], "survived": model.predict(X_test)}).to_csv(
    "submission.csv", index=False
)
