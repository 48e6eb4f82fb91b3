"""Experience across runs, measured with no model (`recipes_only`): a second run of each task, and leave-one-out.

For every task: (1) a first run with an empty store of its own (the hand-written recipes alone); (2) a second run
on that store (what the first run learned, then the recipes); then, leaving the task out, a store filled with the
first runs' records of every other task, and (3) a run with the hand-written recipes off (`learned-only`: what the
store learned by itself) and (4) one with both. Each row: success (the hidden score's verdict), the step and the
seconds at which the validation metric first beat the baseline's by more than 10 %, steps and wall time.

    .venv/bin/python benchmarks/experience_loo.py --out /tmp/loo titanic adult-income daily-births
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from budgetmlagent.graph import Context, build_graph, recursion_limit
from budgetmlagent.memory.experience import ExperienceStore, read_records
from budgetmlagent.workspace.task_check import resolve_task

CONFIGS = ("first run (recipes)", "second run (store + recipes)", "learned-only (LOO)", "store + recipes (LOO)")
KEPT = ("success", "improvement", "steps", "first_success_step", "first_success_s", "wall_time_s", "status")


def run(task: Path, out: Path, name: str, store: Path, **settings: Any) -> dict[str, Any]:
    """One recipes-only run of task with the store at `store`; the result.json fields this table keeps."""
    ctx = Context(
        recipes_only=True,
        use_cascade=False,
        use_expert=False,
        use_retrieval=False,
        use_experience=True,
        experience_dir=str(store),
        runs_dir=str(out / "runs" / name.split(" ")[0]),
        max_steps=12,
        **settings,
    )
    state = build_graph().invoke(
        {"task_dir": str(task)}, context=ctx, config={"recursion_limit": recursion_limit(ctx.max_steps)}
    )
    result = state["result"]
    used = result.get("experience", {}).get("used", [])
    return {k: result.get(k) for k in KEPT} | {
        "offered": len(result.get("experience", {}).get("offered", [])),
        "used": len(used),
        "run_dir": result.get("run_dir"),
    }


def summary(rows: list[dict[str, Any]]) -> str:
    """Markdown: per configuration, successes, mean step and seconds to the first +10 %, mean steps and wall time;
    then every task's step to the first +10 % in each configuration."""
    lines = [
        "| configuration | success | reached +10 % (validation) | mean step to first +10 % | mean s to first +10 % "
        "| mean steps | mean wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for config in CONFIGS:
        mine = [r for r in rows if r["config"] == config]
        if not mine:
            continue
        reached = [r for r in mine if r["first_success_step"] is not None]
        lines.append(
            f"| {config} | {sum(bool(r['success']) for r in mine)}/{len(mine)} | {len(reached)}/{len(mine)} "
            f"| {_mean([r['first_success_step'] for r in reached])} | {_mean([r['first_success_s'] for r in reached])} "
            f"| {_mean([r['steps'] for r in mine])} | {_mean([r['wall_time_s'] for r in mine])} |"
        )
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    lines += ["", "Step (seconds) of the first +10 % on the validation metric; `-`: never; S: the run succeeded.", ""]
    lines += ["| task | " + " | ".join(CONFIGS) + " |", "|---|" + "---|" * len(CONFIGS)]
    for task in tasks:
        cells = []
        for config in CONFIGS:
            row = next((r for r in rows if r["task"] == task and r["config"] == config), None)
            if row is None:
                cells.append("")
                continue
            first = (
                "-"
                if row["first_success_step"] is None
                else f"{row['first_success_step']} ({row['first_success_s']} s)"
            )
            cells.append(f"{first}{' S' if row['success'] else ''}, used {row['used']}/{row['offered']}")
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _mean(values: list[Any]) -> str:
    numbers = [float(v) for v in values if v is not None]
    return f"{sum(numbers) / len(numbers):.1f}" if numbers else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", help="task names (bundled or unseen) or folders")
    parser.add_argument("--out", type=Path, required=True, help="a folder for the stores, runs and results.jsonl")
    parser.add_argument("--summary", action="store_true", help="only print the table of out/results.jsonl")
    args = parser.parse_args()
    if args.summary:
        lines = (args.out / "results.jsonl").read_text(encoding="utf-8").splitlines()
        print(summary([json.loads(line) for line in lines if line.strip()]), end="")
        return
    tasks = {Path(resolve_task(t)).name: Path(resolve_task(t)) for t in args.tasks}
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    # Rows already in results.jsonl are kept and not run again (a killed measurement continues).
    saved = out / "results.jsonl"
    rows: list[dict[str, Any]] = (
        [json.loads(x) for x in saved.read_text().splitlines() if x.strip()] if saved.exists() else []
    )
    done = {(r["task"], r["config"]) for r in rows}

    def add(task: str, config: str, row: dict[str, Any]) -> None:
        rows.append({"task": task, "config": config} | row)
        print(json.dumps(rows[-1]), flush=True)
        with (out / "results.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rows[-1]) + "\n")

    first = out / "stores" / "first"
    for name, path in tasks.items():
        if (name, CONFIGS[0]) not in done:
            shutil.rmtree(first / name, ignore_errors=True)
            add(name, CONFIGS[0], run(path, out, "first", first / name))
    for name, path in tasks.items():
        if (name, CONFIGS[1]) in done:
            continue
        second = out / "stores" / "second" / name
        shutil.rmtree(second, ignore_errors=True)
        shutil.copytree(first / name, second)
        add(name, CONFIGS[1], run(path, out, "second", second))
    for name, path in tasks.items():
        if (name, CONFIGS[3]) in done:
            continue
        # One store for each of the two runs: a run writes its own records, which the other must not read.
        loo = {kind: out / "stores" / "loo" / name / kind for kind in ("learned-only", "both")}
        started = time.perf_counter()
        others = [r for other in tasks if other != name for r in read_records(first / other)]
        for store in loo.values():
            shutil.rmtree(store, ignore_errors=True)
            ExperienceStore(store).add_many(others)  # type: ignore[arg-type]
        print(f"{name}: left-out stores of {len(others)} records in {time.perf_counter() - started:.1f} s", flush=True)
        add(name, CONFIGS[2], run(path, out, "learned-only", loo["learned-only"], use_recipes=False))
        add(name, CONFIGS[3], run(path, out, "both", loo["both"]))


if __name__ == "__main__":
    main()
