"""What a run shows while it runs: a line per finished step, and on a terminal a live status line.

The graph is streamed in three modes: `values` (the state after each node: steps, ledger, lifelines), `tasks`
(a node starts or ends: which role is working) and `custom` (the model a role is about to call, sent by
`runtime.llm.announce_call`). Without a terminal (CI, a log file) only the plain lines are printed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.markup import escape

from budgetmlagent.runtime.llm import MODEL_CALL_STARTED

STREAM_MODES = ["values", "tasks", "custom"]

# What the status line says a node is doing; nodes not named here are bookkeeping, shown by their name.
NODE_ACTIVITY = {
    "planner": "planning",
    "coder": "writing code",
    "debugger": "debugging",
    "expert": "asking the expert",
    "executor": "running the action",
    "workers": "reading",
}


class LiveStatus:
    """The line under the step lines: step, role, model and tier, seconds so far, tokens, dollars, lifelines."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self.clock = clock
        self.step = 0
        self.node: str | None = None
        self.model = ""
        self.tier: int | None = None
        self.since = clock()
        self.tokens = 0
        self.cost_usd = 0.0
        self.lifelines: int | None = None

    def node_started(self, name: str) -> None:
        self.node, self.model, self.tier, self.since = name, "", None, self.clock()

    def model_called(self, event: dict[str, Any]) -> None:
        self.model, self.tier = str(event.get("model", "")), event.get("tier")

    def state_seen(self, state: dict[str, Any]) -> None:
        self.step = len(state.get("steps", []))
        ledger = state.get("ledger")
        if ledger is not None:
            self.tokens, self.cost_usd = ledger.input_tokens + ledger.output_tokens, ledger.cost_usd
        self.lifelines = state.get("lifelines", self.lifelines)

    def text(self) -> str:
        if self.node is None:
            return "starting"
        activity = NODE_ACTIVITY.get(self.node, self.node)
        model = f" {self.model} (tier {self.tier})" if self.model else ""
        lifelines = "" if self.lifelines is None else f" | lifelines {self.lifelines}"
        return (
            f"step {self.step + 1}: {self.node} {activity}{model} | {self.clock() - self.since:.0f} s"
            f" | {self.tokens} tok ${self.cost_usd:.4f}{lifelines}"
        )

    def __rich__(self) -> str:  # rich re-renders this on every refresh, so the seconds move during a model call
        return f"[dim]… {escape(self.text())}[/]"


class Progress:
    """Prints one line per finished step, escalation and the baseline, and keeps the live status line."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.steps_seen = 0
        self.escalations_seen = 0
        self.task_shown = False
        self.status = LiveStatus()
        self.last_step_at = self.status.clock()  # a step's seconds: from the previous step line to its own
        self._live: Any = None

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            from rich.live import Live

            self._live = Live(self.status, console=self.console, refresh_per_second=2, transient=True)
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def event(self, mode: str, data: Any) -> None:
        """One streamed part: (mode, data) from `graph.stream(..., stream_mode=STREAM_MODES)`."""
        if mode == "values":
            self.show(data)
        elif mode == "tasks" and isinstance(data, dict) and "result" not in data and "error" not in data:
            self.status.node_started(str(data.get("name", "")))
        elif mode == "custom" and isinstance(data, dict) and data.get("type") == MODEL_CALL_STARTED:
            self.status.model_called(data)

    def show(self, state: dict[str, Any]) -> None:
        self.status.state_seen(state)
        task = state.get("task")
        if task and not self.task_shown:
            self.task_shown = True
            self.console.print(
                f"task [bold]{escape(task['name'])}[/]: {escape(task['metric'])} ({task['direction']} is better), "
                f"baseline {task['baseline']}  run folder {escape(str(state.get('run_dir')))}"
            )
        for event in state.get("escalations", [])[self.escalations_seen :]:
            self.console.print(
                f"  [yellow]escalate {event['role']}[/] {escape(str(event['from']))} -> {escape(str(event['to']))} "
                f"({escape(str(event['reason']))})"
            )
        self.escalations_seen = len(state.get("escalations", []))
        ledger = state.get("ledger")
        for step in state.get("steps", [])[self.steps_seen :]:
            mark = "[green]ok[/]" if step["ok"] else "[red]failed[/]"
            tokens = f"{ledger.input_tokens + ledger.output_tokens} tok" if ledger else ""
            cost = f"${ledger.cost_usd:.4f}" if ledger else ""
            first_line = step["observation"].strip().splitlines()[0][:90] if step["observation"].strip() else ""
            now = self.status.clock()
            seconds, self.last_step_at = f" {now - self.last_step_at:.0f} s", now
            self.console.print(
                f"step {step['step']:>2} {escape(step['action']):<26} {mark} by {escape(str(step['model']))}"
                f"{seconds} | lifelines {state.get('lifelines')} | {tokens} {cost}\n      {escape(first_line)}"
            )
        self.steps_seen = len(state.get("steps", []))

    def verdict(self, result: dict[str, Any], out: Any) -> None:
        """The run's verdict on `out` (stdout); a run that ended in error says so on the progress console."""
        from budgetmlagent.preflight import one_line

        if not result:
            self.console.print("[red]the run ended without a result[/]")
            return
        if result.get("status") == "error" and "error" in result:
            self.console.print(f"[red]error:[/] {escape(one_line(str(result['error'])))}")
            return
        word = "[green]SUCCESS[/]" if result["success"] else "[red]FAILURE[/]"
        improvement = result.get("improvement")
        shown = "n/a" if improvement is None else f"{improvement:+.1%}"
        out.print(
            f"{word} {escape(str(result['task']))}: score {result['score']} vs baseline {result['baseline']} "
            f"({shown}); "
            f"{result['steps']} steps, ${result['cost_usd']:.4f}, {result['wall_time_s']} s, "
            f"status {result['status']}\nrun folder: {escape(str(result['run_dir']))}"
        )
        run_dir = Path(str(result["run_dir"]))
        for label, name in (("report", "report.md"), ("plot", "run.png")):
            if (run_dir / name).is_file():
                out.print(f"{label}: {escape(str(run_dir / name))}")
