"""The team's own evaluation: RMSE of predictions.csv against the held-out labels (lower is better)."""

import numpy as np
import pandas as pd

labels = pd.read_csv("data/holdout_labels.csv")["progression"].to_numpy()
predicted = pd.read_csv("predictions.csv")["progression"].to_numpy()
print(f"RMSE: {np.sqrt(np.mean((predicted - labels) ** 2)):.3f}")
