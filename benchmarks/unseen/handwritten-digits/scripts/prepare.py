"""env/digits.npz and scripts/answer.csv from sklearn.datasets.load_digits (UCI optical digits, 8x8,
bundled with scikit-learn; no download)."""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

HERE = Path(__file__).resolve().parent

digits = load_digits()
images = digits.images.astype(np.uint8)  # grey levels 0..16
labels = digits.target.astype(np.int64)

rng = np.random.default_rng(8 * 8)
order = rng.permutation(len(labels))
test_idx, train_idx = order[:540], order[540:]

np.savez_compressed(
    HERE.parent / "env" / "digits.npz",
    train_images=images[train_idx],
    train_labels=labels[train_idx],
    test_images=images[test_idx],
)
pd.DataFrame({"ImageId": np.arange(1, len(test_idx) + 1), "Label": labels[test_idx]}).to_csv(
    HERE / "answer.csv", index=False
)
print(f"{len(train_idx)} training images, {len(test_idx)} test images")
