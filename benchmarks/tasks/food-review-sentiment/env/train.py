import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import BernoulliNB

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")

# Hold out 20 % of the training data to measure the model.
text_train, text_val, y_train, y_val = train_test_split(
    train["review"], train["score"], test_size=0.2, random_state=0, stratify=train["score"]
)

# Which of the 100 most frequent words each review contains.
vectorizer = CountVectorizer(max_features=100, binary=True)
X_train = vectorizer.fit_transform(text_train)

model = BernoulliNB()
model.fit(X_train, y_train)
val_accuracy = accuracy_score(y_val, model.predict(vectorizer.transform(text_val)))
print(f"Validation accuracy: {val_accuracy:.4f}")

predictions = model.predict(vectorizer.transform(test["review"]))
submission = pd.DataFrame({"review_id": test["review_id"], "score": predictions})
submission.to_csv("submission.csv", index=False)
print("Wrote submission.csv")
