"""Benchmark of the observation memory: model load, adding steps and top-k query latency."""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

TASKS = ["cifar10", "house-price", "titanic", "imdb", "ogbn-arxiv"]
ACTIONS = ["Execute Script", "Edit Script (AI)", "Understand File", "List Files", "Inspect Script Lines"]
IDEAS = [
    "raised the learning rate",
    "switched the optimizer to Adam",
    "added dropout before the classifier",
    "used gradient boosting on all features",
    "one-hot encoded the categorical columns",
    "increased the batch size",
    "added early stopping on validation loss",
    "trained for more epochs",
    "normalised the numeric features",
    "tuned the number of trees",
]
RESULTS = [
    "validation accuracy rose to {v:.3f}",
    "the loss diverged to NaN",
    "mean absolute error fell to {v:.1f}",
    "a shape mismatch raised a RuntimeError",
    "out of memory at batch {b}",
    "the score did not change ({v:.3f})",
]
QUERIES = [
    "learning rate too high, loss diverged",
    "which optimizer improved accuracy",
    "out of memory error, reduce batch size",
    "feature engineering for categorical columns",
]


def _timed(call: Callable[[], T]) -> tuple[T, float]:
    """Run call once and return its result and the seconds it took."""
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def _steps(n: int, seed: int) -> list[tuple[str, str, int, str, str, str]]:
    """n synthetic steps as (text, run, step, task, action, outcome), 50 steps per run."""
    rng = random.Random(seed)
    steps = []
    for i in range(n):
        run, step = f"run{i // 50}", i % 50
        result = rng.choice(RESULTS).format(v=rng.random(), b=rng.choice([64, 256, 1024]))
        action = rng.choice(ACTIONS)
        text = f"Thought: {rng.choice(IDEAS)} in train.py. Action: {action}. Observation: {result}."
        outcome = "error" if "NaN" in result or "Error" in result or "memory" in result else "ok"
        steps.append((text, run, step, TASKS[(i // 50) % len(TASKS)], action, outcome))
    return steps


def main() -> None:
    """Time the memory's operations and print them as a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=1000, help="steps to add")
    parser.add_argument("--queries", type=int, default=20, help="queries per latency median")
    parser.add_argument("-k", type=int, default=5, help="results per query")
    args = parser.parse_args()

    # Imported here so the load time below includes importing torch and sentence-transformers.
    from budgetmlagent.memory import ObservationMemory
    from budgetmlagent.memory.embeddings import load_model

    rows: list[tuple[str, str]] = []
    model, seconds = _timed(load_model)
    rows.append(("import + load all-MiniLM-L6-v2 (CPU)", f"{seconds:.2f} s"))

    steps = _steps(args.docs, seed=0)
    texts = [text for text, *_ in steps]
    _, seconds = _timed(lambda: model.encode(texts, batch_size=64, normalize_embeddings=True))
    rows.append((f"embed {len(texts):,} step texts in one batch", f"{seconds:.2f} s"))

    with tempfile.TemporaryDirectory() as folder:
        memory, seconds = _timed(lambda: ObservationMemory(Path(folder) / "chroma"))
        rows.append(("open a persistent store (client + collection)", f"{seconds:.2f} s"))

        add_times = []
        for text, run, step, task, action, outcome in steps:
            start = time.perf_counter()
            memory.add(text, run=run, task=task, step=step, action=action, outcome=outcome)
            add_times.append(time.perf_counter() - start)
        rows.append((f"add {memory.count():,} steps, one add() per step", f"{sum(add_times):.2f} s"))
        add_times.sort()
        for label, seconds in [
            ("median", statistics.median(add_times)),
            ("p95", add_times[len(add_times) * 95 // 100]),
            ("max", add_times[-1]),
        ]:
            rows.append((f"  add() {label}", f"{seconds * 1000:.1f} ms"))

        # The agent's call: the current run's task, minus the last 3 steps already in the prompt.
        _, run, step, task, *_ = steps[-1]
        for label, scope in [("task scope, before_step", "task"), ("all scope", "all")]:
            latencies = []
            for i in range(args.queries):
                start = time.perf_counter()
                memory.query(QUERIES[i % len(QUERIES)], k=args.k, scope=scope, run=run, task=task, before_step=step - 2)
                latencies.append(time.perf_counter() - start)
            median = statistics.median(latencies) * 1000
            rows.append((f"top-{args.k} query median of {args.queries} ({label})", f"{median:.1f} ms"))

    name_width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    print(f"| {'operation'.ljust(name_width)} | {'time'.rjust(value_width)} |")
    print(f"|{'-' * (name_width + 2)}|{'-' * (value_width + 1)}:|")
    for name, value in rows:
        print(f"| {name.ljust(name_width)} | {value.rjust(value_width)} |")


if __name__ == "__main__":
    main()
