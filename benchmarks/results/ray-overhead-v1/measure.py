"""What `bench --ray` costs a cell: the same 8 scripted-model cells in one process (the thread path, --jobs 1)
and on a two-node Ray cluster on loopback (one CPU a node, one a cell, so two cells at once), alternating
A B A B so that load from anything else on the machine falls on both. Run from the repository root:

    .venv/bin/python benchmarks/results/ray-overhead-v1/measure.py [--rounds 2]

Writes results.json next to this file. The scripted models and the loopback cluster are the tests' own
(tests/fakes.py, tests/ray_cluster.py); the task is the tests' tiny task (a script that prints its score).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import BASELINE_TRAIN, EVAL, IMPROVED_TRAIN  # noqa: E402
from fakes import ScriptedModels  # noqa: E402
from ray_cluster import LoopbackCluster  # noqa: E402

from budgetmlagent.benchmarks.harness import RayOptions, Sweep, SweepSettings, machine_facts  # noqa: E402

BASE = "openai_compatible:base@http://127.0.0.1:9/v1"
CELLS = 8  # 1 task x 2 configurations x 4 seeds
SLOTS = 2  # cells the cluster runs at once (two nodes, one CPU each, one CPU a cell)


def plan(name: str, **action_input: str) -> dict[str, Any]:
    return {"reflection": "-", "research_plan_and_status": "-", "fact_check": "-", "thought": name,
            "action": {"name": name, "input": action_input}}  # fmt: skip


REPLIES = [
    plan("Edit Script (AI)", script_name="train.py", edit_instruction="raise the score", save_name="train.py"),
    {"summary": "raised", "code": IMPROVED_TRAIN},
    plan("Final Answer", final_answer="done"),
]


def tiny_task(root: Path) -> Path:
    task = root / "tiny-task"
    (task / "env").mkdir(parents=True)
    (task / "scripts").mkdir()
    (task / "env" / "train.py").write_text(BASELINE_TRAIN)
    (task / "scripts" / "eval.py").write_text(EVAL)
    (task / "scripts" / "research_problem.txt").write_text("Improve the score that train.py writes.")
    (task / "scripts" / "budgetmlagent.json").write_text('{"metric": "score", "direction": "higher"}')
    return task


def sweep(task: Path, out: Path, ray: RayOptions | None) -> dict[str, Any]:
    settings = SweepSettings(
        tasks=[task], configs=["single-base", "cascade"], seeds=CELLS // 2, out=out, preset=f"single:{BASE}",
        max_steps=5, ray=ray,
        context_overrides={"chat_model_factory": ScriptedModels({BASE: REPLIES * CELLS}),
                           "cache_dir": str(out / "cache"), "keep_improving": False},
    )  # fmt: skip
    arrivals: list[float] = []  # seconds from the start at which each record reached the driver
    started = time.monotonic()
    records = Sweep(settings, log=lambda _: None, on_cell=lambda t: arrivals.append(time.monotonic() - started)).run()
    wall = time.monotonic() - started
    assert len(records) == CELLS and all(r["success"] for r in records), records
    first = arrivals[1]  # arrivals[0] is the tally before any cell
    return {
        "wall_s": round(wall, 2),
        "cell_wall_s_median": round(statistics.median(r["wall_time_s"] for r in records), 2),
        # Start-up: joining the cluster and the first workers importing the project, before the first record.
        "start_up_s": round(first - min(r["wall_time_s"] for r in records), 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    task = tiny_task(work)
    cluster = LoopbackCluster(work).start()
    runs: dict[str, list[dict[str, Any]]] = {"one_process": [], "ray_two_nodes": []}
    try:
        for round_ in range(args.rounds):
            runs["one_process"].append(sweep(task, work / f"local-{round_}", None))
            options = RayOptions(cluster.address, cpus_per_cell=1)
            runs["ray_two_nodes"].append(sweep(task, work / f"ray-{round_}", options))
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    local_per_cell = statistics.median(r["wall_s"] for r in runs["one_process"]) / CELLS
    # The cluster runs SLOTS cells at once: a cell holds a slot for wall x SLOTS / CELLS seconds.
    ray_per_cell = statistics.median(r["wall_s"] for r in runs["ray_two_nodes"]) * SLOTS / CELLS
    ray_start_up = statistics.median(r["start_up_s"] for r in runs["ray_two_nodes"])
    steady = (statistics.median(r["wall_s"] for r in runs["ray_two_nodes"]) - ray_start_up) * SLOTS / CELLS
    summary = {
        "cells": CELLS,
        "one_process_s_per_cell": round(local_per_cell, 2),
        "ray_slot_s_per_cell": round(ray_per_cell, 2),
        "overhead_s_per_cell": round(ray_per_cell - local_per_cell, 2),
        "ray_start_up_s": ray_start_up,
        "overhead_s_per_cell_after_start_up": round(steady - local_per_cell, 2),
        "one_process_cell_wall_s_median": statistics.median(r["cell_wall_s_median"] for r in runs["one_process"]),
        "ray_cell_wall_s_median": statistics.median(r["cell_wall_s_median"] for r in runs["ray_two_nodes"]),
        "speed_up_wall": round(
            statistics.median(r["wall_s"] for r in runs["one_process"])
            / statistics.median(r["wall_s"] for r in runs["ray_two_nodes"]),
            2,
        ),
    }
    result = {"summary": summary, "runs": runs, "machine": machine_facts(), "measured": time.strftime("%Y-%m-%d")}
    path = Path(__file__).with_name("results.json")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
