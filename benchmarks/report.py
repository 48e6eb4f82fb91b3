"""Aggregating a sweep: success rate with spread and Wilson interval, cost, tokens per model; tables (the paper's
Table 2 among them), plots, report.md."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from statistics import mean, median, pstdev
from typing import Any

from budgetmlagent.benchmarks.harness import RESULTS_FILE, SWEEP_FILE, load_results

REPORT_FILE = "report.md"
SUCCESS_PLOT = "success_vs_cost.png"
TASK_PLOT = "success_by_task.png"
STEP_BUCKET = 3  # planner prompt tokens are reported per 3-step bucket


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95 % at z=1.96), as fractions.

    Wilson rather than the normal approximation: a handful of runs at 0 % or 100 % still gets an honest width, and
    the bounds never leave [0, 1]. No runs says nothing: (0, 1)."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n} runs")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # Exact at the ends, where rounding would leave a -1e-17 or a 0.9999999.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def short_model(spec: str) -> str:
    return spec.split(":", 1)[1] if spec.startswith(("local:", "openai:", "google_genai:")) else spec


def _tokens(record: dict[str, Any]) -> dict[str, int]:
    per_model = record.get("tokens_per_model") or {}
    out: dict[str, int] = {}
    for model, totals in per_model.items():
        if isinstance(totals, dict):
            out[model] = int(totals.get("input_tokens", 0)) + int(totals.get("output_tokens", 0))
    return out


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean over runs of a group, with the spread of success over seeds (population std)."""
    by_seed: dict[int, list[bool]] = defaultdict(list)
    for r in records:
        by_seed[int(r.get("seed", 0))].append(bool(r.get("success")))
    seed_rates = [mean(v) for v in by_seed.values()]
    tokens: dict[str, float] = defaultdict(float)
    for r in records:
        for model, count in _tokens(r).items():
            tokens[model] += count / len(records)
    improvements = [r["improvement"] for r in records if r.get("improvement") is not None]
    successes = sum(bool(r.get("success")) for r in records)
    return {
        "runs": len(records),
        "successes": successes,
        "success_rate": mean(bool(r.get("success")) for r in records) if records else 0.0,
        "success_spread": pstdev(seed_rates) if len(seed_rates) > 1 else None,
        "success_ci": wilson_interval(successes, len(records)),
        "cost_usd": mean(float(r.get("cost_usd") or 0.0) for r in records) if records else 0.0,
        "tokens_per_model": dict(sorted(tokens.items())),
        "expert_calls": mean(float(r.get("expert_calls") or 0) for r in records) if records else 0.0,
        "escalations": mean(float(r.get("escalations") or 0) for r in records) if records else 0.0,
        "llm_calls": mean(float(r.get("llm_calls") or 0) for r in records) if records else 0.0,
        "wall_time_s": mean(float(r.get("wall_time_s") or 0.0) for r in records) if records else 0.0,
        "median_improvement": median(improvements) if improvements else None,
        # MLAgentBench's rule (score the last state), for runs that ended on a restored best version
        "last_state_success_rate": mean(bool((r.get("last") or r).get("success")) for r in records) if records else 0.0,
        "no_score": sum(r.get("score") is None for r in records),
        "crashed": sum(r.get("status") == "crashed" for r in records),
    }


def aggregate(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per configuration (all tasks) and per (task, configuration)."""
    configs = list(dict.fromkeys(r["config"] for r in records))
    tasks = list(dict.fromkeys(r["task"] for r in records))
    per_config = {c: summarize([r for r in records if r["config"] == c]) for c in configs}
    per_task = {
        t: {
            c: summarize(group)
            for c in configs
            if (group := [r for r in records if r["task"] == t and r["config"] == c])
        }
        for t in tasks
    }
    return {"configs": configs, "tasks": tasks, "per_config": per_config, "per_task": per_task}


def prompt_tokens_by_step(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Median planner prompt tokens per step bucket, per configuration (compare X with X+R)."""
    buckets: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        for index, tokens in enumerate((r.get("stats") or {}).get("planner_prompt_tokens") or []):
            if tokens:
                buckets[str(r["config"])][index // STEP_BUCKET].append(tokens)
    return {
        config: {_bucket_name(b): int(median(v)) for b, v in sorted(by_bucket.items())}
        for config, by_bucket in buckets.items()
    }


def _bucket_name(bucket: int) -> str:
    return f"steps {bucket * STEP_BUCKET + 1}-{(bucket + 1) * STEP_BUCKET}"


def overhead_summary(records: Sequence[dict[str, Any]]) -> dict[str, float | int] | None:
    """Framework seconds per step (step wall time minus model and script time) over all runs."""
    values = sorted(x for r in records for x in (r.get("stats") or {}).get("overhead_s_per_step") or [])
    if not values:
        return None
    return {
        "steps": len(values),
        "median_s": round(median(values), 3),
        "p90_s": round(values[min(len(values) - 1, int(0.9 * len(values)))], 3),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _tokens_text(tokens: dict[str, float]) -> str:
    return ", ".join(f"{short_model(m)} {t / 1000:.1f}k" for m, t in tokens.items()) or "-"


def _ci(summary: dict[str, Any]) -> tuple[float, float]:
    """The summary's Wilson interval; summaries made before it existed (an old summary.json) get it here."""
    if "success_ci" in summary:
        low, high = summary["success_ci"]
        return float(low), float(high)
    runs = int(summary.get("runs") or 0)
    return wilson_interval(round(float(summary.get("success_rate") or 0.0) * runs), runs)


def _ci_text(summary: dict[str, Any]) -> str:
    low, high = _ci(summary)
    return f"{low:.0%}-{high:.0%}"


def config_table(agg: dict[str, Any]) -> str:
    # The interval comes after the columns readers (and tests) already match on, so old rows keep their prefix.
    lines = [
        "| configuration | runs | success | spread | last-state success | success 95% CI | cost/run "
        "| tokens/run by model | expert calls | escalations | wall time | no score |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in agg["configs"]:
        s = agg["per_config"][c]
        spread = "-" if s["success_spread"] is None else f"±{s['success_spread']:.0%}"
        lines.append(
            f"| {c} | {s['runs']} | {_pct(s['success_rate'])} | {spread} | {_pct(s['last_state_success_rate'])} | "
            f"{_ci_text(s)} | ${s['cost_usd']:.4f} | "
            f"{_tokens_text(s['tokens_per_model'])} | {s['expert_calls']:.1f} | {s['escalations']:.1f} | "
            f"{s['wall_time_s'] / 60:.1f} min | {s['no_score']} |"
        )
    return "\n".join(lines)


def table2(agg: dict[str, Any]) -> str:
    """The BudgetMLAgent paper's Table 2 for this sweep: per configuration, success rate with its 95 % interval,
    average cost per run, and what the cascade is meant to trade: tokens of the cheapest and of the strongest model,
    expert calls and model calls per run. With a single model, cheapest and strongest are the same one."""
    lines = [
        "| configuration | runs | success rate % (95% CI) | avg cost/run ($) | cheapest-model tokens/run "
        "| strongest-model tokens/run | expert calls/run | LLM calls/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in agg["configs"]:
        s = agg["per_config"][c]
        low, high = _ci(s)
        tokens = s.get("tokens_per_model") or {}
        cheap = f"{_low_tokens(tokens) / 1000:.1f}k" if tokens else "-"
        top = f"{_top_tokens(tokens) / 1000:.1f}k" if tokens else "-"
        calls = s.get("llm_calls")
        lines.append(
            f"| {c} | {s['runs']} | {s['success_rate'] * 100:.1f} ({low * 100:.1f}-{high * 100:.1f}) | "
            f"{s['cost_usd']:.4f} | {cheap} | {top} | {s.get('expert_calls', 0.0):.2f} | "
            f"{'-' if calls is None else f'{calls:.1f}'} |"
        )
    return "\n".join(lines)


def task_table(agg: dict[str, Any]) -> str:
    configs = agg["configs"]
    lines = ["| task | " + " | ".join(configs) + " |", "|---|" + "---|" * len(configs)]
    for t in agg["tasks"]:
        cells = []
        for c in configs:
            s = agg["per_task"][t].get(c)
            if s is None:
                cells.append("-")
                continue
            gain = s["median_improvement"]
            cells.append(f"{_pct(s['success_rate'])} ({'no score' if gain is None else f'{gain:+.1%}'})")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(agg: dict[str, Any], out: Path) -> list[str]:
    """success_vs_cost.png and success_by_task.png; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = agg["configs"]
    per_config = agg["per_config"]
    priced = any(per_config[c]["cost_usd"] > 0 for c in configs)
    fig, ax = plt.subplots(figsize=(6, 4))
    for c in configs:
        s = per_config[c]
        # Local models cost $0: then the x axis shows the strongest model's tokens, the scarce resource.
        x = s["cost_usd"] if priced else _top_tokens(s["tokens_per_model"]) / 1000
        y = s["success_rate"] * 100
        ax.errorbar([x], [y], yerr=_yerr([s]), fmt="o", markersize=7, capsize=4)
        ax.annotate(c, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlabel("mean cost per run (USD)" if priced else "strongest model's tokens per run (thousands)")
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(-5, 105)
    ax.set_title("Success vs cost per configuration (95% Wilson intervals)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / SUCCESS_PLOT, dpi=110)
    plt.close(fig)

    tasks = agg["tasks"]
    width = 0.8 / max(1, len(configs))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(tasks) + 2), 4))
    for i, c in enumerate(configs):
        cells = [agg["per_task"][t].get(c) for t in tasks]
        rates = [cell["success_rate"] * 100 if cell else 0.0 for cell in cells]
        # A missing cell gets no bar and no whisker rather than a [0, 100] one.
        yerr = _yerr([cell or {"runs": 0, "success_rate": 0.0, "success_ci": (0.0, 0.0)} for cell in cells])
        ax.bar([k + i * width for k in range(len(tasks))], rates, width=width, label=c, yerr=yerr, capsize=2)
    ax.set_xticks([k + width * (len(configs) - 1) / 2 for k in range(len(tasks))])
    ax.set_xticklabels(tasks, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("success rate (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Success per task (95% Wilson intervals)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / TASK_PLOT, dpi=110)
    plt.close(fig)
    return [SUCCESS_PLOT, TASK_PLOT]


def _yerr(summaries: Sequence[dict[str, Any]]) -> list[list[float]]:
    """Matplotlib's asymmetric error bars, in percent: distances from each rate down to and up to its interval."""
    below, above = [], []
    for s in summaries:
        low, high = _ci(s)
        rate = s["success_rate"]
        below.append(max(0.0, rate - low) * 100)
        above.append(max(0.0, high - rate) * 100)
    return [below, above]


def _low_tokens(tokens: dict[str, float]) -> float:
    """Tokens of the smallest model by its size hint (the cascade's cheap tier)."""
    if not tokens:
        return 0.0
    return tokens[min(tokens, key=_size_hint)]


def _top_tokens(tokens: dict[str, float]) -> float:
    """Tokens of the model that appears last in sort order of size hints (largest parameter count)."""
    if not tokens:
        return 0.0
    return tokens[max(tokens, key=_size_hint)]


def _size_hint(model: str) -> float:
    found = re.findall(r"(\d+(?:\.\d+)?)b\b", model.lower())
    return float(found[-1]) if found else 0.0


def write_report(out: Path) -> Path:
    """report.md (and its plots) from the sweep folder's results.jsonl."""
    records = list(load_results(out).values())
    if not records:
        raise ValueError(f"{out / RESULTS_FILE} has no finished cells yet")
    sweep = json.loads((out / SWEEP_FILE).read_text(encoding="utf-8")) if (out / SWEEP_FILE).exists() else {}
    agg = aggregate(records)
    plots = plot(agg, out)
    (out / "summary.json").write_text(
        json.dumps(
            {"aggregate": agg, "prompt_tokens": prompt_tokens_by_step(records), "overhead": overhead_summary(records)},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    (out / REPORT_FILE).write_text(render_markdown(agg, records, sweep, plots), encoding="utf-8")
    return out / REPORT_FILE


def render_markdown(
    agg: dict[str, Any], records: Sequence[dict[str, Any]], sweep: dict[str, Any], plots: Sequence[str]
) -> str:
    machine = sweep.get("machine", {})
    lines = [
        "# Benchmark sweep",
        "",
        f"Command: `{sweep.get('command', '?')}`  ",
        f"Preset {sweep.get('preset', '?')}, step cap {sweep.get('max_steps', '?')}, wall-clock cap "
        f"{sweep.get('wall_clock_s', '?')} s per run, {sweep.get('seeds', '?')} seed(s), started "
        f"{sweep.get('started', '?')}.  ",
        f"Machine: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, {machine.get('memory_gib', '?')} GiB, "
        f"GPU {'visible' if machine.get('gpu_visible') else 'none'}.",
        "",
        "## Per configuration (all tasks)",
        "",
        config_table(agg),
        "",
        "Success = the final workspace beats the task's baseline by more than 10 % in the metric's direction "
        "(hidden test score). Spread = standard deviation of the success rate over seeds. Last-state success "
        "scores the workspace as the agent left it (MLAgentBench's rule) rather than its best validated version.",
        "",
        "## Table 2: success and cost per configuration",
        "",
        table2(agg),
        "",
        "As in the BudgetMLAgent paper's Table 2 (Gandhi et al., 2024): success rate over all runs of a "
        "configuration with its 95 % Wilson interval, and the average cost of a run. Local models cost $0, so "
        "the tokens of the cheapest and the strongest model and the expert calls per run show what was spent.",
        "",
        "## Per task: success rate (median improvement)",
        "",
        task_table(agg),
        "",
    ]
    lines += [f"![{name}]({name})" for name in plots] + [""]
    tokens = prompt_tokens_by_step(records)
    if tokens:
        buckets = list(dict.fromkeys(b for side in tokens.values() for b in side))
        lines += [
            "## Planner prompt tokens per step (median)",
            "",
            "| configuration | " + " | ".join(buckets) + " |",
            "|---|" + "---|" * len(buckets),
        ]
        lines += [f"| {side} | " + " | ".join(str(v.get(b, "-")) for b in buckets) + " |" for side, v in tokens.items()]
        lines.append("")
    overhead = overhead_summary(records)
    if overhead:
        lines += [
            "## Framework overhead per step",
            "",
            f"Median {overhead['median_s']} s, p90 {overhead['p90_s']} s over {overhead['steps']} steps "
            "(step wall time minus model calls and script runs: routing, prompts, Chroma, file work).",
            "",
        ]
    failed = [r for r in records if r.get("score") is None]
    if failed:
        lines += ["## Runs without a score", ""]
        for r in failed:
            why = str(r.get("error") or r.get("score_error") or r.get("status") or "?")
            reason = [line.strip() for line in why.splitlines() if line.strip()]  # a traceback's last line says why
            lines.append(f"- {r['key']} ({r.get('status')}): {reason[-1][:200] if reason else '?'}")
        lines.append("")
    return "\n".join(lines)
