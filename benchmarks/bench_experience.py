"""Benchmark of the experience store: retrieval time against the number of records (the bound's reason).

Fills a store in a temporary folder with synthetic change records (real MiniLM embeddings of distinct task
fingerprints, real Chroma), then times `similar()` -- what a run does at its start -- at each size: with the query's
fingerprint already embedded (a run embeds its own once) and with a fresh one. Prints a Markdown table.

    .venv/bin/python benchmarks/bench_experience.py --sizes 1000 10000 20000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from budgetmlagent.memory.experience import ExperienceStore
from budgetmlagent.memory.experience_records import ChangeRecord, Fingerprint

KINDS = ["number", "category", "free text"]
MODELS = ["LogisticRegression", "RandomForestClassifier", "Ridge", "LinearRegression", "MLP", "TfidfVectorizer"]
METRICS = [("accuracy", "higher"), ("rmse", "lower"), ("mae", "lower"), ("f1", "higher")]
CHANGES_PER_TASK = 20
BATCH = 500


def fingerprint(rng: random.Random, n: int) -> Fingerprint:
    """A synthetic task: its own columns, metric and script shape."""
    columns = [f"col{n}_{i}" for i in range(rng.randint(4, 30))]
    kinds = {kind: [c for c in columns if rng.choice(KINDS) == kind] for kind in KINDS}
    metric, direction = rng.choice(METRICS)
    data = "; ".join(f"{len(names)} {kind} ({', '.join(names)})" for kind, names in kinds.items())
    return Fingerprint(
        problem=f"Task {n}: predict the target of table {n} from its columns; a {metric} baseline is given.",
        data=f"training table with {len(columns)} columns: {data}; target y{n}",
        metric=metric,
        direction=direction,
        script=f"reads 2 table(s), features by list; builds {rng.choice(MODELS)}, {rng.choice(MODELS)}",
        columns=columns,
    )


def records(rng: random.Random, start: int, count: int) -> list[ChangeRecord]:
    out = []
    printed = fingerprint(rng, start // CHANGES_PER_TASK)
    for i in range(start, start + count):
        if i % CHANGES_PER_TASK == 0:
            printed = fingerprint(rng, i // CHANGES_PER_TASK)
        effect = rng.uniform(-0.2, 0.3) if rng.random() < 0.8 else None
        out.append(
            ChangeRecord(
                id=f"bench-{i}",
                run=f"run{i // CHANGES_PER_TASK}",
                task=f"task{i // CHANGES_PER_TASK}",
                fingerprint=printed,
                key=printed.key(),
                step=i % CHANGES_PER_TASK + 1,
                instruction=f"Change number {i}: add the columns and tune the model",
                diff="+2 -1 lines",
                effect=effect,
                ran=effect is not None,
                author="recipe",
                time=time.time(),
            )
        )
    return out


def timed_queries(store: ExperienceStore, texts: list[str], fresh: bool) -> list[float]:
    """Milliseconds per `similar()`; fresh: the query's embedding is computed inside the timing."""
    times = []
    for text in texts:
        if not fresh:
            store.vector(text)
        started = time.perf_counter()
        store.similar(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 20_000], help="records per row")
    parser.add_argument("--queries", type=int, default=200, help="queries timed at each size")
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        store = ExperienceStore(Path(tmp) / "store", max_records=max(args.sizes) + 1)
        started = time.perf_counter()
        store.vector("warm the model")
        print(f"model load and first embedding: {time.perf_counter() - started:.1f} s\n")
        print(f"{os.cpu_count()} cores; load average: the 1-minute load when the row was timed\n")
        print("| records | fill s | p50 ms (embedded once) | p95 ms | p50 ms (fresh query) | p95 ms | load |")
        print("|---|---|---|---|---|---|---|")
        filled = 0
        for size in sorted(args.sizes):
            started = time.perf_counter()
            while filled < size:
                batch = records(rng, filled, min(BATCH, size - filled))
                store.add_many(batch)  # type: ignore[arg-type]
                filled += len(batch)
            fill = time.perf_counter() - started
            queries = [fingerprint(rng, 10**6 + size * 10 + q).text() for q in range(args.queries)]
            cached = timed_queries(store, queries, fresh=False)
            fresh = timed_queries(store, [q + " (fresh)" for q in queries], fresh=True)
            print(
                f"| {store.count()} | {fill:.0f} | {statistics.median(cached):.1f} | {_p95(cached):.1f} "
                f"| {statistics.median(fresh):.1f} | {_p95(fresh):.1f} | {os.getloadavg()[0]:.1f} |"
            )


def _p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


if __name__ == "__main__":
    main()
