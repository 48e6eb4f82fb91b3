import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

data = np.load("digits.npz")
images, labels = data["train_images"], data["train_labels"]
test_images = data["test_images"]

# flatten the 8x8 images into 64 pixel features
# and scale the grey levels (0..16) to [0, 1] for the RBF kernel
X = images.reshape(len(images), -1) / 16.0
X_test = test_images.reshape(len(test_images), -1) / 16.0


def make_clf():
    return SVC(C=10, gamma=0.05)


X_tr, X_val, y_tr, y_val = train_test_split(X, labels, test_size=0.25, random_state=0)
clf = make_clf().fit(X_tr, y_tr)
acc = (clf.predict(X_val) == y_val).mean()
print(f"Accuracy on held-out images: {100 * acc:.1f}%")

clf = make_clf().fit(X, labels)
pred = clf.predict(X_test)
with open("submission.csv", "w") as f:
    f.write("ImageId,Label\n")
    for i, p in enumerate(pred, start=1):
        f.write(f"{i},{p}\n")
