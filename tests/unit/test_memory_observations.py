"""Unit tests of ObservationMemory's storage, scopes and filters, on a fake embedding function."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings

from budgetmlagent.memory import ObservationMemory, RetrievedStep

DIM = 128


class WordHashEmbedding(EmbeddingFunction[Documents]):
    """Deterministic bag-of-words vectors: texts sharing words are near, with no model to load."""

    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        vectors = []
        for text in input:
            vector = np.zeros(DIM, dtype=np.float32)
            for word in re.findall(r"[a-z]+", text.lower()):
                # md5, not hash(): Python salts str hashes per process.
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
            norm = float(np.linalg.norm(vector))
            vectors.append(vector / norm if norm else vector + 1.0 / np.sqrt(DIM))
        return vectors

    @staticmethod
    def name() -> str:
        return "test-word-hash"

    def get_config(self) -> dict[str, Any]:
        return {}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> WordHashEmbedding:
        return WordHashEmbedding()


def _fill(memory: ObservationMemory) -> None:
    """Two runs of task A and one run of task B, with distinct vocabulary per step."""
    steps = [
        ("r1", "A", 0, "list files train csv", "List Files", "ok", None),
        ("r1", "A", 1, "loss diverged learning rate too high", "Execute Script", "error", None),
        ("r1", "A", 2, "lowered learning rate accuracy improved", "Execute Script", "ok", 0.81),
        ("r1", "A", 3, "added dropout regularisation", "Edit Script (AI)", "ok", None),
        ("r2", "A", 0, "understand file data description", "Understand File", "ok", None),
        ("r2", "A", 7, "learning rate warmup schedule", "Edit Script (AI)", "ok", 0.84),
        ("r3", "B", 0, "learning rate search for gradient boosting", "Execute Script", "ok", 0.5),
    ]
    for run, task, step, text, action, outcome, score in steps:
        memory.add(text, run=run, task=task, step=step, action=action, outcome=outcome, score=score)


@pytest.fixture
def memory(tmp_path: Path) -> ObservationMemory:
    """A persistent memory on a fresh folder with the fake embeddings and the sample steps."""
    memory = ObservationMemory(tmp_path / "chroma", embedding_function=WordHashEmbedding())
    _fill(memory)
    return memory


def _keys(steps: list[RetrievedStep]) -> set[tuple[str, int]]:
    return {(step.run, step.step) for step in steps}


def test_add_returns_run_step_id_and_counts(tmp_path: Path) -> None:
    memory = ObservationMemory(tmp_path / "chroma", embedding_function=WordHashEmbedding())
    assert memory.count() == 0
    assert memory.add("x", run="r9", task="T", step=4, action="List Files", outcome="ok") == "r9:4"
    assert memory.count() == 1


def test_retried_step_replaces_the_earlier_one(memory: ObservationMemory) -> None:
    before = memory.count()
    memory.add("dropout failed shape mismatch", run="r1", task="A", step=3, action="Edit", outcome="error")
    assert memory.count() == before
    [hit] = memory.query("dropout", scope="run", run="r1", k=1)
    assert (hit.text, hit.outcome, hit.action) == ("dropout failed shape mismatch", "error", "Edit")


def test_nearest_step_comes_first_with_all_fields(memory: ObservationMemory) -> None:
    hits = memory.query("loss diverged", task="A", k=2)
    assert hits[0] == RetrievedStep(
        text="loss diverged learning rate too high",
        run="r1",
        task="A",
        step=1,
        action="Execute Script",
        outcome="error",
        score=None,
        distance=hits[0].distance,
    )
    assert hits[0].distance < hits[1].distance


def test_score_survives_and_missing_score_is_none(memory: ObservationMemory) -> None:
    scores = {(h.run, h.step): h.score for h in memory.query("rate", scope="all", k=10)}
    assert scores[("r1", 2)] == pytest.approx(0.81)
    assert scores[("r1", 0)] is None


def test_scope_run_task_and_all(memory: ObservationMemory) -> None:
    assert _keys(memory.query("learning rate", scope="run", run="r2", k=10)) == {("r2", 0), ("r2", 7)}
    task_a = memory.query("learning rate", scope="task", task="A", k=10)
    assert {h.task for h in task_a} == {"A"} and len(task_a) == 6
    assert len(memory.query("learning rate", scope="all", k=10)) == 7


def test_before_step_limits_only_the_current_run(memory: ObservationMemory) -> None:
    # r1 is at step 3 with steps 0-2 quoted in the prompt: only r1's step 0 is older, but every
    # step of r2 (even step 7) is another run's knowledge and stays.
    hits = memory.query("learning rate", task="A", run="r1", before_step=1, k=10)
    assert _keys(hits) == {("r1", 0), ("r2", 0), ("r2", 7)}
    in_run = memory.query("learning rate", scope="run", run="r1", before_step=2, k=10)
    assert _keys(in_run) == {("r1", 0), ("r1", 1)}
    everywhere = memory.query("learning rate", scope="all", run="r1", before_step=0, k=10)
    assert _keys(everywhere) == {("r2", 0), ("r2", 7), ("r3", 0)}


def test_k_larger_than_collection_and_empty_results(tmp_path: Path, memory: ObservationMemory) -> None:
    assert len(memory.query("anything", scope="all", k=1000)) == 7
    assert memory.query("anything", task="no-such-task") == []
    empty = ObservationMemory(tmp_path / "empty", embedding_function=WordHashEmbedding())
    assert empty.query("anything", scope="all") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "everything", "task": "A"}, "scope must be one of"),
        ({"scope": "run"}, 'scope "run" needs run'),
        ({"scope": "task"}, 'scope "task" needs task'),
        ({"task": "A", "before_step": 3}, "before_step needs run"),
        ({"task": "A", "k": 0}, "k must be at least 1"),
    ],
)
def test_invalid_queries_raise_clear_errors(memory: ObservationMemory, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        memory.query("x", **kwargs)


def test_add_needs_run_and_task(memory: ObservationMemory) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        memory.add("x", run="", task="A", step=0, action="a", outcome="ok")


def test_reopened_store_keeps_its_steps(tmp_path: Path, memory: ObservationMemory) -> None:
    again = ObservationMemory(tmp_path / "chroma", embedding_function=WordHashEmbedding())
    assert again.count() == 7
    assert again.query("loss diverged", task="A", k=1)[0].step == 1


def test_ephemeral_memories_start_empty_and_stay_apart() -> None:
    first = ObservationMemory.ephemeral(embedding_function=WordHashEmbedding())
    second = ObservationMemory.ephemeral(embedding_function=WordHashEmbedding())
    first.add("x", run="r", task="T", step=0, action="a", outcome="ok")
    assert (first.count(), second.count()) == (1, 0)
