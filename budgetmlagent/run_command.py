"""`budgetmlagent run TASK_DIR`: one agent run with live progress and a run folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="Improve one task (MLAgentBench folder form) and write a run folder.")
    run.add_argument("task_dir", type=Path, help="task folder with env/ and scripts/")
    run.add_argument("--preset", default="local", help="local (default, offline), paper, or single:<spec>")
    run.add_argument("--max-steps", type=int, default=30, help="step cap (default 30)")
    run.add_argument("--budget-usd", type=float, default=2.0, help="dollar cap (default 2.0)")
    run.add_argument("--wall-clock", type=float, default=3 * 3600, help="wall-clock cap in seconds")
    run.add_argument("--script-timeout", type=float, default=600, help="timeout of one script run (s)")
    run.add_argument("--lifelines", type=int, default=5, help="expert calls + top-tier escalations")
    run.add_argument("--out", type=Path, default=None, help="run folder (default runs/<task>-<id>)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--no-retrieval", action="store_true", help="ablation: no Chroma memory")
    run.add_argument("--no-expert", action="store_true", help="ablation: no Ask Expert")
    run.add_argument("--no-cascade", action="store_true", help="ablation: base tier only")
    run.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="any Context setting, e.g. lifelines=3"
    )
    run.add_argument(
        "--approve", action="store_true", help="ask before any script runs and before Final Answer (approve/deny/edit)"
    )
    run.add_argument("--json", action="store_true", help="print result.json instead of the summary")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from budgetmlagent.graph import Context
    from budgetmlagent.graph.context import parse_settings

    console = Console(stderr=True, soft_wrap=True)
    try:
        overrides = parse_settings(args.set)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    settings = dict(
        preset=args.preset,
        max_steps=args.max_steps,
        budget_usd=args.budget_usd,
        wall_clock_s=args.wall_clock,
        script_timeout_s=args.script_timeout,
        lifelines=args.lifelines,
        seed=args.seed,
        use_retrieval=not args.no_retrieval,
        use_expert=not args.no_expert,
        use_cascade=not args.no_cascade,
        require_approval=args.approve,
    )
    ctx = Context(**(settings | overrides))
    run_dir = Path(args.out) if args.out is not None else new_run_dir(ctx.runs_dir, args.task_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        console.print(f"[red]error:[/] {run_dir} is not empty; `budgetmlagent resume {run_dir}` continues a run there")
        return 2
    inputs: dict[str, Any] = {"task_dir": str(args.task_dir), "run_dir": str(run_dir)}
    console.print(f"[bold]budgetmlagent[/] {args.task_dir} preset={args.preset} max_steps={args.max_steps}")
    return stream_run(inputs, ctx, run_dir, console, as_json=args.json)


def stream_run(inputs: dict[str, Any] | None, ctx: Any, run_dir: Path, console: Any, *, as_json: bool) -> int:
    """Run (inputs) or resume (None) the graph with the run folder's checkpointer, printing progress."""
    from langgraph.types import Command

    from budgetmlagent.graph import build_graph, recursion_limit
    from budgetmlagent.graph.durable import open_checkpointer, thread_config

    checkpointer = open_checkpointer(run_dir)
    graph = build_graph(checkpointer=checkpointer)
    config = thread_config(recursion_limit(ctx.max_steps))
    progress = Progress(console)
    if inputs is None:  # steps done before the interruption were printed by the first process
        done = graph.get_state(config).values
        progress.steps_seen, progress.task_shown = len(done.get("steps", [])), True
        progress.escalations_seen = len(done.get("escalations", []))
    final: dict[str, Any] = {}
    payload: Any = inputs
    try:
        while True:
            for chunk in graph.stream(payload, context=ctx, stream_mode="values", config=config):
                progress.show(chunk)
                final = chunk
            pauses = graph.get_state(config).interrupts
            if not pauses:
                break
            payload = Command(resume=ask_person(console, pauses[0].value))
    finally:
        checkpointer.conn.close()
    result = final.get("result", {})
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        progress.verdict(result)
    return 0 if result.get("status") not in (None, "error") else 1


def ask_person(console: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The CLI side of --approve: show the action, read approve / deny (with a reason) / edit (new JSON input)."""
    console.print(
        f"[bold yellow]approve?[/] {request['action']} {json.dumps(request['action_input'])}\n  why: {request['why']}"
    )
    try:
        answer = input("[a]pprove, [d]eny, [e]dit: ").strip().lower()
        if answer.startswith("e"):
            text = input("new action input as JSON: ")
            return {"decision": "edit", "action_input": json.loads(text)}
        if answer.startswith("d"):
            return {"decision": "deny", "reason": input("reason (the agent reads it): ").strip()}
        if answer.startswith("a") or answer == "":
            return {"decision": "approve"}
        return {"decision": "deny", "reason": f"unrecognised answer {answer!r}"}
    except EOFError:
        return {"decision": "deny", "reason": "nobody answered (standard input closed)"}
    except json.JSONDecodeError as exc:
        return {"decision": "deny", "reason": f"the edited input was not JSON: {exc}"}


def new_run_dir(runs_dir: str, task_dir: Path) -> Path:
    """runs/<task>-<date>-<time>-<random>: the folder a new run writes everything into."""
    import time
    import uuid

    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    return Path(runs_dir) / f"{Path(task_dir).resolve().name}-{stamp}"


class Progress:
    """Prints one line per finished step, escalation and the baseline, from streamed state values."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.steps_seen = 0
        self.escalations_seen = 0
        self.task_shown = False

    def show(self, state: dict[str, Any]) -> None:
        task = state.get("task")
        if task and not self.task_shown:
            self.task_shown = True
            self.console.print(
                f"task [bold]{task['name']}[/]: {task['metric']} ({task['direction']} is better), "
                f"baseline {task['baseline']}  run folder {state.get('run_dir')}"
            )
        for event in state.get("escalations", [])[self.escalations_seen :]:
            self.console.print(
                f"  [yellow]escalate {event['role']}[/] {event['from']} -> {event['to']} ({event['reason']})"
            )
        self.escalations_seen = len(state.get("escalations", []))
        ledger = state.get("ledger")
        for step in state.get("steps", [])[self.steps_seen :]:
            mark = "[green]ok[/]" if step["ok"] else "[red]failed[/]"
            tokens = f"{ledger.input_tokens + ledger.output_tokens} tok" if ledger else ""
            cost = f"${ledger.cost_usd:.4f}" if ledger else ""
            first_line = step["observation"].strip().splitlines()[0][:90] if step["observation"].strip() else ""
            self.console.print(
                f"step {step['step']:>2} {step['action']:<26} {mark} by {step['model']} "
                f"| lifelines {state.get('lifelines')} | {tokens} {cost}\n      {first_line}"
            )
        self.steps_seen = len(state.get("steps", []))

    def verdict(self, result: dict[str, Any]) -> None:
        if not result:
            self.console.print("[red]the run ended without a result[/]")
            return
        if result.get("status") == "error" and "error" in result:
            self.console.print(f"[red]error:[/] {result['error']}")
            return
        word = "[green]SUCCESS[/]" if result["success"] else "[red]FAILURE[/]"
        improvement = result.get("improvement")
        shown = "n/a" if improvement is None else f"{improvement:+.1%}"
        self.console.print(
            f"{word} {result['task']}: score {result['score']} vs baseline {result['baseline']} ({shown}); "
            f"{result['steps']} steps, ${result['cost_usd']:.4f}, {result['wall_time_s']} s, "
            f"status {result['status']}\nrun folder: {result['run_dir']}"
        )
