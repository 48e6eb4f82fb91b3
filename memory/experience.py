"""The experience store: what runs measured, kept across runs, found again by how alike two tasks are.

One folder (by default one per user): `records/<id>.json` holds every record as plain JSON, the truth a user reads
(`budgetmlagent memory`), and `chroma/` the index: one entry per record, its vector the embedding of the task's
fingerprint, its document the record's JSON. Writes are serialised by a lock file (processes) and a lock (threads);
the index is bounded, the least useful and oldest records pruned first."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from budgetmlagent.memory.experience_records import ChangeRecord, Record, RunRecord
from budgetmlagent.memory.observations import _client, _open_collection

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Documents, EmbeddingFunction

RECORDS_DIR = "records"
INDEX_DIR = "chroma"
LOCK_FILE = ".lock"
COLLECTION = "experience"
MAX_RECORDS = 10_000
PRUNE_TO = 0.9  # pruning goes below the bound, so it runs once per many writes, not on every one
NEIGHBOURS = 100  # index entries read per query: the few tasks nearest, each with its changes

_RECORD: TypeAdapter[Record] = TypeAdapter(Record)


@dataclass(frozen=True)
class Hit:
    """A stored record near the query; distance is cosine distance (0: the same fingerprint text)."""

    record: ChangeRecord | RunRecord
    distance: float


def parse_record(text: str) -> ChangeRecord | RunRecord | None:
    """A record from its JSON; None for a file that is not one (torn, edited by hand, another version)."""
    try:
        return _RECORD.validate_json(text)
    except (ValidationError, ValueError):
        return None


def read_records(path: Path) -> list[ChangeRecord | RunRecord]:
    """Every readable record of a store folder, oldest first, from its JSON files alone (no index, no model)."""
    folder = Path(path) / RECORDS_DIR
    found = []
    for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = parse_record(file.read_text(encoding="utf-8"))
        except OSError:
            continue
        if record is not None:
            found.append(record)
    return sorted(found, key=lambda r: r.time)


def clear_store(path: Path) -> int:
    """Remove every record and the index; returns how many records there were."""
    path = Path(path)
    with _file_lock(path):
        count = len(list((path / RECORDS_DIR).glob("*.json"))) if (path / RECORDS_DIR).is_dir() else 0
        shutil.rmtree(path / RECORDS_DIR, ignore_errors=True)
        shutil.rmtree(path / INDEX_DIR, ignore_errors=True)
    return count


class ExperienceStore:
    """A persistent store of change and run records at `path`, safe to share between threads and processes."""

    def __init__(
        self,
        path: Path,
        *,
        max_records: int = MAX_RECORDS,
        embedding_function: EmbeddingFunction[Documents] | None = None,
    ) -> None:
        self.path = Path(path)
        self.max_records = max_records
        (self.path / RECORDS_DIR).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        if embedding_function is None:
            from budgetmlagent.memory.embeddings import MiniLMEmbeddingFunction

            embedding_function = MiniLMEmbeddingFunction()
        self._embed = embedding_function
        with self._locked():
            self._collection: Collection = _open_collection(
                _client(self.path / INDEX_DIR), COLLECTION, embedding_function
            )
            self._collection.count()  # a damaged index fails here, at opening, not in the middle of a run
        self._vectors: dict[str, Any] = {}

    def vector(self, text: str) -> Any:
        """The embedding of a fingerprint text, computed once per process (every change of a run shares it)."""
        if text not in self._vectors:
            self._vectors[text] = self._embed([text])[0]
        return self._vectors[text]

    def add(self, record: ChangeRecord | RunRecord) -> None:
        """Store a record (the same id again replaces it), then prune past the bound."""
        self.add_many([record])

    def add_many(self, records: list[ChangeRecord | RunRecord]) -> None:
        """Store records in one write of the index (an import, a benchmark's fill), then prune past the bound."""
        if not records:
            return
        vectors = [self.vector(r.fingerprint.text()) for r in records]
        metadatas: list[Any] = [
            {"kind": r.kind, "task": r.task, "key": r.key, "time": r.time, "useful": usefulness(r)} for r in records
        ]
        with self._locked():
            for record in records:
                _write_atomic(self.path / RECORDS_DIR / f"{record.id}.json", record.model_dump_json(indent=2))
            self._collection.upsert(
                ids=[r.id for r in records],
                embeddings=vectors,
                documents=[r.model_dump_json() for r in records],
                metadatas=metadatas,
            )
            if self._collection.count() > self.max_records:
                self._prune(int(self.max_records * PRUNE_TO))

    def similar(self, text: str, *, kind: str = "change", n: int = NEIGHBOURS) -> list[Hit]:
        """Records of this kind among the n index entries nearest to a fingerprint text, nearest first."""
        count = self._collection.count()
        if count == 0:
            return []
        # Filtered by kind here, not by a Chroma `where`: a filtered query took 60 ms at 10,000 records, 4 without.
        result = self._collection.query(
            query_embeddings=[self.vector(text)], n_results=min(n, count), include=["documents", "distances"]
        )
        documents = (result["documents"] or [[]])[0]
        distances = (result["distances"] or [[]])[0]
        hits = [(parse_record(document or ""), float(d)) for document, d in zip(documents, distances, strict=True)]
        return [Hit(record, distance) for record, distance in hits if record is not None and record.kind == kind]

    def count(self) -> int:
        return self._collection.count()

    def _prune(self, keep: int) -> None:
        """Delete the least useful records, oldest first among equals, until `keep` remain (caller holds the lock)."""
        entries = self._collection.get(include=["metadatas"])
        ranked = sorted(
            zip(entries["ids"], entries["metadatas"] or [], strict=True),
            key=lambda e: (int(e[1].get("useful", 0)), float(e[1].get("time", 0.0))),  # type: ignore[arg-type]
        )
        doomed = [record_id for record_id, _ in ranked[: max(0, len(ranked) - keep)]]
        for start in range(0, len(doomed), 1000):
            self._collection.delete(ids=doomed[start : start + 1000])
        for record_id in doomed:
            (self.path / RECORDS_DIR / f"{record_id}.json").unlink(missing_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, _file_lock(self.path):
            yield


def usefulness(record: ChangeRecord | RunRecord) -> int:
    """What pruning keeps longest: run outcomes and changes that measured a gain (2), then warnings: changes that
    broke or lowered the metric (1), then changes that measured nothing either way (0)."""
    if isinstance(record, RunRecord):
        return 2
    if not record.ran or (record.effect is not None and record.effect < 0):
        return 1
    return 2 if record.effect is not None and record.effect > 0 else 0


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on the store folder, held across processes (a Ray worker, a second run)."""
    Path(path).mkdir(parents=True, exist_ok=True)
    fd = os.open(Path(path) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def record_json(record: ChangeRecord | RunRecord) -> dict[str, Any]:
    """A record as a JSON-ready dict (export, --json)."""
    return json.loads(record.model_dump_json())
