import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

dtrain = pd.read_csv("jobs_train.csv")
dtest = pd.read_csv("jobs_test.csv")

numeric = ["compounds", "input_fields"]
categorical = ["protocol"]

preprocess = ColumnTransformer(
    [
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
    ]
)
clf = Pipeline([("prep", preprocess), ("model", LogisticRegression(max_iter=1000))])

dtrain, dvalid = train_test_split(dtrain, test_size=0.2, random_state=42, stratify=dtrain["runtime_class"])
clf.fit(dtrain, dtrain["runtime_class"])
score = f1_score(dvalid["runtime_class"], clf.predict(dvalid), average="macro")
print(f"macro-F1 on dvalid = {score:.4f}")

dtest["runtime_class"] = clf.predict(dtest)
dtest[["job_id", "runtime_class"]].to_csv("submission.csv", index=False)
