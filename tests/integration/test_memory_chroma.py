"""Integration tests of the observation memory on real MiniLM embeddings and a persisted Chroma store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from budgetmlagent.memory import ObservationMemory, RetrievedStep

pytestmark = pytest.mark.integration

# (run, task, step, action, outcome, score, text): two runs of a CIFAR-like task, one of a house-price task.
STEPS = [
    ("r1", "cifar", 0, "List Files", "ok", None, "Listed the workspace: train.py, data/, submission.csv."),
    (
        "r1",
        "cifar",
        1,
        "Execute Script",
        "error",
        None,
        "Raised the learning rate to 1.0 for speed. The training loss exploded to NaN after the first epoch.",
    ),
    (
        "r1",
        "cifar",
        2,
        "Edit Script (AI)",
        "ok",
        None,
        "Added data augmentation with random crops and horizontal flips to the transform pipeline.",
    ),
    (
        "r1",
        "cifar",
        3,
        "Execute Script",
        "error",
        None,
        "CUDA out of memory while allocating a tensor; reduced batch size from 512 to 128.",
    ),
    (
        "r2",
        "cifar",
        0,
        "Understand File",
        "ok",
        None,
        "train.py builds a small CNN with two conv layers and trains it for 5 epochs with SGD.",
    ),
    (
        "r2",
        "cifar",
        4,
        "Execute Script",
        "ok",
        0.71,
        "Switched the optimizer to Adam; validation accuracy 0.71.",
    ),
    ("r2", "cifar", 5, "Final Answer", "ok", 0.71, "Submitted predictions; the score beats the baseline."),
    (
        "r3",
        "house-price",
        0,
        "Execute Script",
        "ok",
        0.42,
        "Gradient boosting on all features lowers the mean absolute error to 15,000 dollars.",
    ),
    (
        "r3",
        "house-price",
        1,
        "Execute Script",
        "error",
        None,
        "Learning rate 2.0 for the gradient boosting made the validation loss diverge.",
    ),
]
DIVERGENCE_QUERY = "learning rate too high, loss diverged"

# Run in a fresh interpreter: reopen the store, query it, and record every network attempt.
REOPEN_SCRIPT = textwrap.dedent(
    """
    import json, socket, sys
    from pathlib import Path

    attempts = []
    def refuse(self, address, *args, **kwargs):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(repr(address))
            raise OSError("network disabled by the test")
        return real_connect(self, address, *args, **kwargs)
    real_connect = socket.socket.connect
    socket.socket.connect = refuse

    from budgetmlagent.memory import ObservationMemory
    memory = ObservationMemory(Path(sys.argv[1]))
    hits = memory.query(sys.argv[2], task="cifar", k=3)

    import chromadb
    from chromadb.config import Settings
    client = chromadb.PersistentClient(sys.argv[1], settings=Settings(anonymized_telemetry=False))
    # The trap: a collection opened without its function must rebuild ours from the stored config.
    raw = client.get_collection("observations")
    print(json.dumps({
        "count": memory.count(),
        "hits": [[h.run, h.step, h.distance] for h in hits],
        "raw_function": type(raw.configuration["embedding_function"]).__name__,
        "raw_first": raw.query(query_texts=[sys.argv[2]], n_results=1)["ids"][0],
        "onnx_loaded": "onnxruntime" in sys.modules,
        "attempts": attempts,
    }))
    """
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A persisted store holding STEPS."""
    path = tmp_path_factory.mktemp("memory") / "chroma"
    memory = ObservationMemory(path)
    for run, task, step, action, outcome, score, text in STEPS:
        memory.add(text, run=run, task=task, step=step, action=action, outcome=outcome, score=score)
    return path


@pytest.fixture(scope="module")
def memory(store: Path) -> ObservationMemory:
    return ObservationMemory(store)


def _key(hit: RetrievedStep) -> tuple[str, int]:
    return hit.run, hit.step


def test_relevant_step_comes_first(memory: ObservationMemory) -> None:
    hits = memory.query(DIVERGENCE_QUERY, task="cifar", k=4)
    assert _key(hits[0]) == ("r1", 1)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert _key(memory.query("GPU ran out of memory, batch too large", task="cifar", k=1)[0]) == ("r1", 3)
    assert _key(memory.query("which optimizer worked best?", task="cifar", k=1)[0]) == ("r2", 4)


def test_scopes_on_real_embeddings(memory: ObservationMemory) -> None:
    everywhere = memory.query(DIVERGENCE_QUERY, scope="all", k=2)
    assert {_key(h) for h in everywhere} == {("r1", 1), ("r3", 1)}
    assert {h.task for h in memory.query(DIVERGENCE_QUERY, task="cifar", k=20)} == {"cifar"}
    assert {h.run for h in memory.query(DIVERGENCE_QUERY, scope="run", run="r2", k=20)} == {"r2"}
    # r1 at step 4 with steps 1-3 in the prompt: its divergence is excluded, r2 and step 0 remain.
    recalled = memory.query(DIVERGENCE_QUERY, task="cifar", run="r1", before_step=1, k=20)
    assert {_key(h) for h in recalled} == {("r1", 0), ("r2", 0), ("r2", 4), ("r2", 5)}
    assert memory.query(DIVERGENCE_QUERY, task="cifar", k=20)[0].score is None
    assert memory.query("Adam validation accuracy", task="cifar", k=1)[0].score == pytest.approx(0.71)


def test_reopened_in_another_process_offline(store: Path, memory: ObservationMemory) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "ANONYMIZED_TELEMETRY"}
    }
    # Any download attempt would go through a dead proxy; the socket guard in the script counts them.
    env |= {proxy: "http://127.0.0.1:9" for proxy in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")}
    out = subprocess.run(
        [sys.executable, "-c", REOPEN_SCRIPT, str(store), DIVERGENCE_QUERY],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["attempts"] == []
    assert seen["count"] == len(STEPS)
    assert seen["raw_function"] == "MiniLMEmbeddingFunction"
    assert seen["raw_first"] == ["r1:1"]
    assert not seen["onnx_loaded"]
    here = memory.query(DIVERGENCE_QUERY, task="cifar", k=3)
    assert [[run, step] for run, step, _ in seen["hits"]] == [[h.run, h.step] for h in here]
    assert [d for *_, d in seen["hits"]] == pytest.approx([h.distance for h in here], abs=1e-5)
