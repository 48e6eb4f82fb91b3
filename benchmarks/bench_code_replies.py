"""How often the real coder returns a usable whole script: code in a JSON string vs code in a fenced block.

For each bundled task, each recipe the task's baseline script is offered (scaffold/recipes.py) is sent as an edit
instruction through the coder's own prompt (`edit_messages`), once at the coder's temperature and once at the
retry temperature, in both reply forms. A reply is usable when it parses, keeps the script whole (`lost_lines`)
and changes it; whether the edit then scores well is the sweep's business. Usage:

    .venv/bin/python benchmarks/bench_code_replies.py [--tasks titanic ...] [--temperatures 0.01] [--out DIR]
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from budgetmlagent.nodes.coder import edit_messages
from budgetmlagent.prompts.replies import CodeReply
from budgetmlagent.providers.chat import invoke_fenced, invoke_structured, load_chat_model
from budgetmlagent.providers.local_server import stop_all
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import code_reply_tokens
from budgetmlagent.runtime.presets import LOCAL_TOP
from budgetmlagent.runtime.vetting import strip_fences
from budgetmlagent.scaffold.recipes import recipes_for
from budgetmlagent.scaffold.script_repair import lost_lines
from budgetmlagent.workspace.workspace import Workspace

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
DEFAULT_TASKS = (
    "titanic", "adult-income", "telecom-churn", "food-review-sentiment", "ames-house-price", "letter-recognition",
)  # fmt: skip


def verdict(original: str, code: str) -> str:
    """usable, or why not: no-code, cut (does not parse), fragment (lost_lines), unchanged."""
    if not code.strip():
        return "no-code"
    try:
        ast.parse(code)
    except SyntaxError:
        return "cut"
    if lost_lines(original, code) is not None:
        return "fragment"
    return "unchanged" if code.strip() == original.strip() else "usable"


def ask(spec: str, ctx: Context, task: str, instruction: str, fenced: bool, temperature: float) -> dict[str, Any]:
    """One coder call on a fresh copy of the task's env; the reply's verdict, tokens and seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(TASKS_DIR / task / "env", root)
        ws = Workspace(root, [])
        original = (root / "train.py").read_text()
        settings = replace(ctx, use_fenced_code=fenced)
        messages = edit_messages(settings, ws, "train.py", original, instruction)
        model = load_chat_model(spec, temperature=temperature, max_tokens=code_reply_tokens(ctx, original))
        reply = (invoke_fenced if fenced else invoke_structured)(model, CodeReply, messages, model_label=spec)
    code = strip_fences(reply.parsed.code) if reply.parsed is not None else ""
    return {
        "task": task,
        "instruction": instruction,
        "form": "fenced" if fenced else "json",
        "temperature": temperature,
        "verdict": verdict(original, code) if reply.parsed is not None else "no-code",
        "error": reply.error,
        "output_tokens": reply.output_tokens,
        "seconds": round(reply.seconds, 2),
        "last_line": code.strip().splitlines()[-1][:80] if code.strip() else "",
    }


def instructions(task: str) -> list[str]:
    root = TASKS_DIR / task / "env"
    return [r.instruction for r in recipes_for(Workspace(root, []), (root / "train.py").read_text())]


def summary(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for form in ("json", "fenced"):
        mine = [r for r in rows if r["form"] == form]
        if not mine:
            continue
        verdicts = [r["verdict"] for r in mine]
        out[form] = {
            "calls": len(mine),
            "usable": verdicts.count("usable"),
            "verdicts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
            "median_seconds": statistics.median(r["seconds"] for r in mine),
            "median_output_tokens": statistics.median(r["output_tokens"] for r in mine),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    ap.add_argument("--model", default=LOCAL_TOP)
    ap.add_argument("--temperatures", nargs="+", type=float, default=None, help="default: the coder's and the retry's")
    ap.add_argument("--out", type=Path, default=None, help="write calls.jsonl and summary.json here")
    args = ap.parse_args(argv)
    ctx = Context()
    temperatures = args.temperatures or [ctx.worker_temperature, ctx.retry_temperature]
    rows: list[dict[str, Any]] = []
    try:
        for task in args.tasks:
            for instruction in instructions(task):
                for temperature in temperatures:
                    for fenced in (False, True):
                        row = ask(args.model, ctx, task, instruction, fenced, temperature)
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    finally:
        stop_all()
    result = summary(rows)
    for form, s in result.items():
        print(
            f"{form:7s} usable {s['usable']}/{s['calls']}  {s['verdicts']}  median {s['median_seconds']:.1f} s, "
            f"{s['median_output_tokens']:.0f} output tokens"
        )
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "calls.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (args.out / "summary.json").write_text(json.dumps({"model": args.model, "forms": result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
