"""Observation memory: agent steps stored in Chroma and retrieved by sentence embeddings."""

from budgetmlagent.memory.observations import SCOPES, ObservationMemory, RetrievedStep, Scope

__all__ = ["SCOPES", "ObservationMemory", "RetrievedStep", "Scope"]
