import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")


def clean(text):
    return text.str.replace("<br />", " ", regex=False)


def make_model():
    # Word uni- and bigrams with sublinear TF-IDF, fed to a lightly regularised logistic regression.
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    return make_pipeline(vectorizer, LogisticRegression(C=10, max_iter=2000))


X, y, X_test = clean(train["review"]), train["score"], clean(test["review"])
X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
model = make_model().fit(X_train, y_train)
print(f"Validation accuracy: {accuracy_score(y_val, model.predict(X_val)):.4f}")

model = make_model().fit(X, y)
pd.DataFrame({"review_id": test["review_id"], "score": model.predict(X_test)}).to_csv("submission.csv", index=False)
