import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")


class BiasedMF:
    """rating ~ mean + user bias + movie bias + user factors . movie factors, fitted by regularised ALS.

    Biases are fitted first (alternating shrunken means), then low-rank factors on what they leave.
    Users or movies unseen in training get zero bias and zero factors.
    """

    def __init__(self, n_factors=20, reg_user_bias=5.0, reg_movie_bias=3.0, reg_factors=20.0, n_iter=10, seed=0):
        self.n_factors, self.n_iter, self.seed = n_factors, n_iter, seed
        self.reg_user_bias, self.reg_movie_bias, self.reg_factors = reg_user_bias, reg_movie_bias, reg_factors

    def fit(self, users, movies, ratings):
        self.user_index = {u: i for i, u in enumerate(pd.unique(users))}
        self.movie_index = {m: i for i, m in enumerate(pd.unique(movies))}
        u = users.map(self.user_index).to_numpy()
        m = movies.map(self.movie_index).to_numpy()
        r = ratings.to_numpy(dtype=float)
        n_u, n_m = len(self.user_index), len(self.movie_index)

        self.mean = r.mean()
        self.bu, self.bm = np.zeros(n_u), np.zeros(n_m)
        count_u, count_m = np.bincount(u, minlength=n_u), np.bincount(m, minlength=n_m)
        for _ in range(self.n_iter):
            self.bm = np.bincount(m, r - self.mean - self.bu[u], n_m) / (count_m + self.reg_movie_bias)
            self.bu = np.bincount(u, r - self.mean - self.bm[m], n_u) / (count_u + self.reg_user_bias)
        residual = r - self.mean - self.bu[u] - self.bm[m]

        rng = np.random.RandomState(self.seed)
        self.P = rng.normal(0, 0.1, (n_u, self.n_factors))
        self.Q = rng.normal(0, 0.1, (n_m, self.n_factors))
        rows_of_user = np.split(np.argsort(u, kind="stable"), np.cumsum(count_u)[:-1])
        rows_of_movie = np.split(np.argsort(m, kind="stable"), np.cumsum(count_m)[:-1])
        ridge = self.reg_factors * np.eye(self.n_factors)
        for _ in range(self.n_iter):
            for i, rows in enumerate(rows_of_user):
                A = self.Q[m[rows]]
                self.P[i] = np.linalg.solve(A.T @ A + ridge, A.T @ residual[rows])
            for j, rows in enumerate(rows_of_movie):
                A = self.P[u[rows]]
                self.Q[j] = np.linalg.solve(A.T @ A + ridge, A.T @ residual[rows])
        return self

    def predict(self, users, movies):
        u = users.map(self.user_index).to_numpy(dtype=float)
        m = movies.map(self.movie_index).to_numpy(dtype=float)
        known_u, known_m = ~np.isnan(u), ~np.isnan(m)
        u, m = np.nan_to_num(u).astype(int), np.nan_to_num(m).astype(int)
        pred = self.mean + np.where(known_u, self.bu[u], 0.0) + np.where(known_m, self.bm[m], 0.0)
        pred += np.where(known_u & known_m, (self.P[u] * self.Q[m]).sum(axis=1), 0.0)
        return np.clip(pred, 0.5, 5.0)


fit_part, val_part = train_test_split(train, test_size=0.2, random_state=0)
model = BiasedMF().fit(fit_part["userId"], fit_part["movieId"], fit_part["rating"])
val_pred = model.predict(val_part["userId"], val_part["movieId"])
print(f"Validation RMSE: {np.sqrt(np.mean((val_pred - val_part['rating'].to_numpy()) ** 2)):.4f}")

model = BiasedMF().fit(train["userId"], train["movieId"], train["rating"])
pd.DataFrame({"id": test["id"], "rating": model.predict(test["userId"], test["movieId"])}).to_csv(
    "submission.csv", index=False
)
