"""Long-term memory access for nodes: one Chroma store per process, retrieval without LLM calls."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.state import State

if TYPE_CHECKING:
    from budgetmlagent.memory.observations import ObservationMemory

RECENT_STEPS = 3  # shown verbatim in every prompt; retrieval covers the older ones


@cache
def _memory(path: str) -> ObservationMemory:
    from budgetmlagent.memory.observations import ObservationMemory

    return ObservationMemory(Path(path))


def memory(ctx: Context) -> ObservationMemory | None:
    """The run's observation store, or None for the retrieval ablation."""
    return _memory(ctx.memory_dir) if ctx.use_retrieval else None


def retrieve_older(state: State, ctx: Context, query: str, *, k: int | None = None) -> list[str]:
    """The k most relevant steps of this task (this run before the recent ones, and earlier runs)."""
    store = memory(ctx)
    k = ctx.retrieval_k if k is None else k
    if store is None or k <= 0 or not query.strip():
        return []
    current = len(state.get("steps", [])) + 1
    hits = store.query(
        query,
        k=k,
        scope="task",
        run=state["run_id"],
        task=state["task"]["name"],
        before_step=max(1, current - RECENT_STEPS),
    )
    out = []
    for hit in hits:
        origin = "this run" if hit.run == state["run_id"] else "an earlier run"
        out.append(f"[{origin}, step {hit.step}, {hit.outcome}] {hit.text}")
    return out
