"""The envelope every Ladle event carries, and deterministic ids.

Delivery is at-least-once, so consumers deduplicate on ``event_id``: a producer
that can replay derives the id from what the event is about (uuid5), never from
the clock, so a replay carries the same id as the original.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

LADLE_NAMESPACE = uuid.UUID("6f1d9a56-3c1e-4c55-9d7e-2b8f0a7c4e11")


def stable_id(*parts: object) -> str:
    """A uuid5 over the parts: the same inputs give the same id in every process."""
    return str(uuid.uuid5(LADLE_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event on a Ladle topic.

    ``SCHEMA_VERSION`` is the version this code writes; ``UPGRADES`` maps an
    older version to a function that rewrites its payload into the next one, so
    a consumer of version N reads N-1 payloads. Unknown fields are ignored, so a
    consumer of N also survives payloads of N+1 that only add fields.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    SCHEMA_VERSION: ClassVar[int] = 1
    UPGRADES: ClassVar[dict[int, Any]] = {}

    event_id: str = Field(default="", description="Deterministic id; consumers deduplicate on it.")
    schema_version: int = Field(default=0, description="Version of the payload's schema.")
    occurred_at: datetime = Field(default_factory=utcnow, description="When the fact happened (UTC).")
    trace_id: str | None = Field(default=None, description="Copied from input to every output.")

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        version = data.get("schema_version") or cls.SCHEMA_VERSION
        if version > cls.SCHEMA_VERSION:
            return data  # newer producer: extra fields are ignored
        while version < cls.SCHEMA_VERSION:
            step = cls.UPGRADES.get(version)
            data = dict(data) if step is None else step(dict(data))
            version += 1
        data["schema_version"] = cls.SCHEMA_VERSION
        return data

    def model_post_init(self, __context: Any) -> None:
        if not self.event_id:
            self.event_id = self.default_event_id()

    def default_event_id(self) -> str:
        """Subclasses derive the id from their identity; the base falls back to random."""
        return str(uuid.uuid4())
