import numpy as np
import pandas as pd
import torch
from torch import nn

torch.manual_seed(0)
# One thread: for batches this small, more threads only wait on each other (and on a busy machine, a lot).
torch.set_num_threads(1)

train = np.load("train.npz")
test = np.load("test.npz")

# Pixels scaled to [0, 1], one flat vector of 784 values per image.
X = torch.tensor(train["images"], dtype=torch.float32).reshape(-1, 28 * 28) / 255.0
y = torch.tensor(train["labels"], dtype=torch.long)
X_test = torch.tensor(test["images"], dtype=torch.float32).reshape(-1, 28 * 28) / 255.0

# Hold out 20 % of the training images to measure the model.
perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
n_val = len(X) // 5
val_idx, train_idx = perm[:n_val], perm[n_val:]
X_train, y_train, X_val, y_val = X[train_idx], y[train_idx], X[val_idx], y[val_idx]

model = nn.Sequential(nn.Linear(28 * 28, 32), nn.ReLU(), nn.Linear(32, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

EPOCHS = 5
BATCH_SIZE = 64
for epoch in range(EPOCHS):
    model.train()
    order = torch.randperm(len(X_train))
    for start in range(0, len(X_train), BATCH_SIZE):
        batch = order[start : start + BATCH_SIZE]
        optimizer.zero_grad()
        loss = loss_fn(model(X_train[batch]), y_train[batch])
        loss.backward()
        optimizer.step()

model.eval()
with torch.no_grad():
    val_accuracy = (model(X_val).argmax(dim=1) == y_val).float().mean().item()
    test_pred = model(X_test).argmax(dim=1).numpy()
print(f"Validation accuracy: {val_accuracy:.4f}")

pd.DataFrame({"id": test["ids"], "label": test_pred}).to_csv("submission.csv", index=False)
print("Wrote submission.csv")
