"""Observation memory: every agent step as a Chroma document, retrieved by meaning."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from budgetmlagent.memory.offline import force_offline

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Documents, EmbeddingFunction, Where

Scope = Literal["run", "task", "all"]
SCOPES: tuple[Scope, ...] = get_args(Scope)


@dataclass(frozen=True, slots=True)
class RetrievedStep:
    """One stored step returned by a query, nearest first; distance is cosine distance (0 = same)."""

    text: str
    run: str
    task: str
    step: int
    action: str
    outcome: str
    score: float | None
    distance: float


class ObservationMemory:
    """A persistent (or in-memory) Chroma collection of agent steps, shared by runs and tasks."""

    def __init__(
        self,
        path: Path,
        collection: str = "observations",
        *,
        embedding_function: EmbeddingFunction[Documents] | None = None,
    ) -> None:
        self._collection = _open_collection(_client(path), collection, embedding_function)

    @classmethod
    def ephemeral(
        cls,
        collection: str | None = None,
        *,
        embedding_function: EmbeddingFunction[Documents] | None = None,
    ) -> ObservationMemory:
        """An in-memory store that starts empty and vanishes with the process (ablation, tests)."""
        # Every in-memory client in a process shares one store, so a fresh name is what makes it empty.
        name = collection or f"observations-{uuid.uuid4().hex}"
        memory = cls.__new__(cls)
        memory._collection = _open_collection(_client(None), name, embedding_function)
        return memory

    def add(
        self,
        text: str,
        *,
        run: str,
        task: str,
        step: int,
        action: str,
        outcome: str,
        score: float | None = None,
    ) -> str:
        """Store one step and return its id; storing the same run and step again replaces it."""
        if not run or not task:
            raise ValueError("run and task must be non-empty")
        step_id = f"{run}:{step}"
        metadata: dict[str, str | int | float] = {
            "run": run,
            "task": task,
            "step": step,
            "action": action,
            "outcome": outcome,
        }
        # Chroma metadata cannot hold None: a step without a score simply has no score key.
        if score is not None:
            metadata["score"] = float(score)
        self._collection.upsert(ids=[step_id], documents=[text], metadatas=[metadata])
        return step_id

    def query(
        self,
        text: str,
        *,
        k: int = 4,
        scope: Scope = "task",
        run: str | None = None,
        task: str | None = None,
        before_step: int | None = None,
    ) -> list[RetrievedStep]:
        """Return up to k stored steps nearest to text, within scope.

        scope "run" needs run, "task" needs task. before_step keeps only steps < before_step of the
        current run (so the steps already quoted in the prompt are not repeated) and needs run;
        steps of other runs are unaffected by it.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        where = _where(scope, run=run, task=task, before_step=before_step)
        result = self._collection.query(
            query_texts=[text],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        documents = (result["documents"] or [[]])[0]
        metadatas = (result["metadatas"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        return [
            _retrieved(document or "", metadata, distance)
            for document, metadata, distance in zip(documents, metadatas, distances, strict=True)
        ]

    def count(self) -> int:
        """Number of stored steps."""
        return self._collection.count()


def _client(path: Path | None) -> ClientAPI:
    """A Chroma client on path, or in memory when path is None, with telemetry off."""
    # chromadb is imported here, not at module level, so that importing the package (and the CLI's
    # --help) stays instant.
    force_offline()
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if path is None:
        return chromadb.EphemeralClient(settings=settings)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def _open_collection(
    client: ClientAPI, name: str, embedding_function: EmbeddingFunction[Documents] | None
) -> Collection:
    """Get or create the collection with our embedding function and cosine distance."""
    if embedding_function is None:
        from budgetmlagent.memory.embeddings import MiniLMEmbeddingFunction

        embedding_function = MiniLMEmbeddingFunction()
    # Passing the function explicitly (rather than relying on Chroma rebuilding it from the stored
    # config) means a reopened store can never fall back to Chroma's downloadable ONNX default.
    return client.get_or_create_collection(
        name,
        embedding_function=embedding_function,
        configuration={"hnsw": {"space": "cosine"}},
    )


def _where(scope: Scope, *, run: str | None, task: str | None, before_step: int | None) -> Where | None:
    """Build the Chroma metadata filter for a scope, checking that its required keys were given."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    if scope == "run" and not run:
        raise ValueError('scope "run" needs run')
    if scope == "task" and not task:
        raise ValueError('scope "task" needs task')
    if before_step is not None and not run:
        raise ValueError("before_step needs run (it limits the current run's steps)")

    clauses: list[Where] = []
    if scope == "run":
        clauses.append({"run": run})
    elif scope == "task":
        clauses.append({"task": task})
    if before_step is not None:
        if scope == "run":
            clauses.append({"step": {"$lt": before_step}})
        else:
            clauses.append({"$or": [{"run": {"$ne": run}}, {"step": {"$lt": before_step}}]})
    if not clauses:
        return None
    # Chroma rejects an $and with a single operand.
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _retrieved(document: str, metadata: Any, distance: float) -> RetrievedStep:
    """Turn one Chroma hit into a RetrievedStep."""
    score = metadata.get("score")
    return RetrievedStep(
        text=document,
        run=str(metadata["run"]),
        task=str(metadata["task"]),
        step=int(metadata["step"]),
        action=str(metadata["action"]),
        outcome=str(metadata["outcome"]),
        score=None if score is None else float(score),
        distance=float(distance),
    )
