import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import KFold, train_test_split

dtrain = pd.read_csv("movies_train.csv")
dtest = pd.read_csv("movies_test.csv")

# Title words date a film ("Part 2", "vs.", digits, ...): an out-of-fold ridge on title n-grams becomes
# one more feature for the trees.
tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=5, sublinear_tf=True)
T_train = tfidf.fit_transform(dtrain["title"])
T_test = tfidf.transform(dtest["title"])
title_oof = np.zeros(len(dtrain))
for fit_rows, pred_rows in KFold(5, shuffle=True, random_state=0).split(T_train):
    ridge = Ridge(alpha=3.0).fit(T_train[fit_rows], dtrain["year"].iloc[fit_rows])
    title_oof[pred_rows] = ridge.predict(T_train[pred_rows])
title_test = Ridge(alpha=3.0).fit(T_train, dtrain["year"]).predict(T_test)


def features(df, title_guess):
    X = df.drop(columns=["movie_id", "title", "year", "mpaa"], errors="ignore")
    X["log_votes"] = np.log1p(df["votes"])
    X["log_budget"] = np.log1p(df["budget"])
    X["has_budget"] = df["budget"].notna().astype(int)
    X["mpaa"] = df["mpaa"].map({"G": 1, "PG": 2, "PG-13": 3, "R": 4, "NC-17": 5})
    X["title_len"] = df["title"].str.len()
    X["title_guess"] = title_guess
    return X


X, X_test = features(dtrain, title_oof), features(dtest, title_test)
y = dtrain["year"]

params = dict(loss="absolute_error", max_iter=600, learning_rate=0.08, max_leaf_nodes=63, random_state=0)
X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.2, random_state=0)
model = HistGradientBoostingRegressor(**params).fit(X_fit, y_fit)
print(f"validation MAE: {mean_absolute_error(y_val, model.predict(X_val)):.2f} years")

model = HistGradientBoostingRegressor(**params).fit(X, y)
dtest["year"] = model.predict(X_test).round()
dtest[["movie_id", "year"]].to_csv("submission.csv", index=False)
print("done")
