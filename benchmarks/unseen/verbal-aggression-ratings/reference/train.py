import numpy as np
import pandas as pd

ratings = pd.read_csv("ratings_train.csv")
to_predict = pd.read_csv("ratings_test.csv")

# hold out 20% of the known ratings to check the model
rng = np.random.default_rng(0)
is_holdout = rng.random(len(ratings)) < 0.2
fit_part, holdout = ratings[~is_holdout], ratings[is_holdout]


def biased_mf_model(df, rank=3, reg=5.0, reg_bias=3.0, sweeps=15, seed=0):
    """rating ~ mean + user bias + item bias + <user factors, item factors>, fitted by alternating ridge
    regressions (each user, then each item, has a small closed-form problem)."""
    users = np.unique(np.concatenate([df["user_id"].to_numpy(), to_predict["user_id"].to_numpy()]))
    items = np.unique(np.concatenate([df["item_id"].to_numpy(), to_predict["item_id"].to_numpy()]))
    u_index = {u: i for i, u in enumerate(users)}
    i_index = {v: i for i, v in enumerate(items)}
    u = df["user_id"].map(u_index).to_numpy()
    v = df["item_id"].map(i_index).to_numpy()
    y = df["rating"].to_numpy(dtype=float)
    mu = y.mean()
    gen = np.random.default_rng(seed)
    P = gen.normal(0, 0.1, (len(users), rank))
    Q = gen.normal(0, 0.1, (len(items), rank))
    bu, bi = np.zeros(len(users)), np.zeros(len(items))
    penalty = np.diag([reg_bias] + [reg] * rank)
    rows_of_user = [np.flatnonzero(u == a) for a in range(len(users))]
    rows_of_item = [np.flatnonzero(v == b) for b in range(len(items))]
    for _ in range(sweeps):
        for a, rows in enumerate(rows_of_user):
            if len(rows):
                A = np.column_stack([np.ones(len(rows)), Q[v[rows]]])
                sol = np.linalg.solve(A.T @ A + penalty, A.T @ (y[rows] - mu - bi[v[rows]]))
                bu[a], P[a] = sol[0], sol[1:]
        for b, rows in enumerate(rows_of_item):
            if len(rows):
                A = np.column_stack([np.ones(len(rows)), P[u[rows]]])
                sol = np.linalg.solve(A.T @ A + penalty, A.T @ (y[rows] - mu - bu[u[rows]]))
                bi[b], Q[b] = sol[0], sol[1:]

    def predict(user_ids, item_ids):
        a = user_ids.map(u_index).to_numpy()
        b = item_ids.map(i_index).to_numpy()
        return np.clip(mu + bu[a] + bi[b] + (P[a] * Q[b]).sum(axis=1), 0, 2)

    return predict


predict = biased_mf_model(fit_part)
err = predict(holdout["user_id"], holdout["item_id"]) - holdout["rating"].to_numpy()
print(f"holdout RMSE: {np.sqrt(np.mean(err ** 2)):.4f}")

predict = biased_mf_model(ratings)
to_predict["rating"] = predict(to_predict["user_id"], to_predict["item_id"])
to_predict[["row_id", "rating"]].to_csv("predictions.csv", index=False)
