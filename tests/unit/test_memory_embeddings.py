"""Unit tests of the MiniLM embedding function's Chroma contract, lazy imports and offline switches."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from chromadb.utils.embedding_functions import known_embedding_functions

from budgetmlagent.memory import embeddings
from budgetmlagent.memory.embeddings import MODEL_NAME, MiniLMEmbeddingFunction
from budgetmlagent.memory.offline import force_offline


class _StubModel:
    """Stands in for SentenceTransformer: encodes each text as a constant row, noting torch's threads."""

    def __init__(self) -> None:
        self.threads_seen: list[int] = []

    def encode(self, texts: list[str], **kwargs: object) -> np.ndarray:
        import torch

        assert kwargs["normalize_embeddings"] is True
        self.threads_seen.append(torch.get_num_threads())
        return np.ones((len(texts), embeddings.DIMENSION), dtype=np.float64)


def _no_model() -> None:
    raise AssertionError("the model must not load here")


def test_registered_under_its_name() -> None:
    assert known_embedding_functions[MiniLMEmbeddingFunction.name()] is MiniLMEmbeddingFunction


def test_config_round_trip_without_loading_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chroma builds and compares instances on every get_collection; none of that may load torch.
    monkeypatch.setattr(embeddings, "load_model", _no_model)
    function = MiniLMEmbeddingFunction(batch_size=16)
    rebuilt = MiniLMEmbeddingFunction.build_from_config(json.loads(json.dumps(function.get_config())))
    assert rebuilt.get_config() == {"model": MODEL_NAME, "batch_size": 16}
    assert not function.is_legacy()
    assert function.default_space() == "cosine"


def test_other_models_are_refused() -> None:
    with pytest.raises(ValueError, match="embedded with"):
        MiniLMEmbeddingFunction.build_from_config({"model": "gtr-t5-large"})
    function = MiniLMEmbeddingFunction()
    with pytest.raises(ValueError, match="cannot change"):
        function.validate_config_update(function.get_config(), {"model": "gtr-t5-large"})


def test_call_returns_float32_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "load_model", _StubModel)
    vectors = MiniLMEmbeddingFunction()(["a", "b"])
    assert len(vectors) == 2
    assert all(v.dtype == np.float32 and v.shape == (embeddings.DIMENSION,) for v in vectors)


def test_small_inputs_run_on_one_thread_and_restore_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    model = _StubModel()
    monkeypatch.setattr(embeddings, "load_model", lambda: model)
    previous = torch.get_num_threads()
    function = MiniLMEmbeddingFunction()
    function(["one step"])
    function(["text"] * (embeddings.SINGLE_THREAD_MAX + 1))
    assert model.threads_seen == [1, previous]
    assert torch.get_num_threads() == previous


def test_force_offline_overrides_the_callers_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    # A private environment, so the test leaves the real one as it found it.
    environ = {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0", "ANONYMIZED_TELEMETRY": "True"}
    monkeypatch.setattr(os, "environ", environ)
    force_offline()
    assert environ["HF_HUB_OFFLINE"] == "1"
    assert environ["TRANSFORMERS_OFFLINE"] == "1"
    assert environ["ANONYMIZED_TELEMETRY"] == "False"


def test_importing_the_package_loads_no_heavy_modules() -> None:
    code = (
        "import sys, json, budgetmlagent.memory, budgetmlagent.memory.observations;"
        "print(json.dumps(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'chromadb')"
        " if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == []
