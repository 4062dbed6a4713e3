"""The envelope every Ladle event carries, and deterministic ids.

Delivery is at-least-once, so consumers deduplicate on ``event_id``: a producer
that can replay derives the id from what the event is about (uuid5), never from
the clock, so a replay carries the same id as the original.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

LADLE_NAMESPACE = uuid.UUID("6f1d9a56-3c1e-4c55-9d7e-2b8f0a7c4e11")


def stable_id(*parts: object) -> str:
    """A uuid5 over the parts: the same inputs give the same id in every process."""
    return str(uuid.uuid5(LADLE_NAMESPACE, "\x1f".join(str(p) for p in parts)))


def _old_payload(cls: type[Event], raw: bytes | str) -> dict | None:
    """The payload as a dict when it is valid JSON of an older schema version, else None."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack (a hostile payload)
        return None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, int) and 1 <= version < cls.SCHEMA_VERSION:
        return data
    return None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Base of every event on a Ladle topic.

    ``SCHEMA_VERSION`` is the version this code writes; ``UPGRADES`` maps an
    older version to a function that rewrites its payload into the next one, so
    a consumer of version N reads N-1 payloads (through ``from_json`` and
    ``from_dict``). Unknown fields are ignored, so a consumer of N also survives
    payloads of N+1 that only add fields.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    SCHEMA_VERSION: ClassVar[int] = 1
    UPGRADES: ClassVar[dict[int, Any]] = {}

    event_id: str = Field(default="", description="Deterministic id; consumers deduplicate on it.")
    schema_version: int = Field(default=0, ge=0, description="Version of the payload's schema (0 or absent: current).")
    occurred_at: datetime = Field(default_factory=utcnow, description="When the fact happened (UTC).")
    trace_id: str | None = Field(default=None, description="Copied from input to every output.")

    @classmethod
    def upgrade(cls, data: dict) -> dict:
        """Rewrite an older payload step by step into this version's shape."""
        version = data.get("schema_version") or cls.SCHEMA_VERSION
        if not isinstance(version, int) or version < 1:
            raise ValueError(f"schema_version must be a positive integer, got {version!r}")
        while version < cls.SCHEMA_VERSION:
            step = cls.UPGRADES.get(version)
            data = dict(data) if step is None else step(dict(data))
            version += 1
        data["schema_version"] = cls.SCHEMA_VERSION
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Self:
        """Validate a payload of this or an older version."""
        if isinstance(data, dict) and (data.get("schema_version") or cls.SCHEMA_VERSION) < cls.SCHEMA_VERSION:
            data = cls.upgrade(data)
        return cls.model_validate(data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        """Validate JSON of this or an older version.

        The current version takes pydantic's direct JSON path (no Python dict in
        between, about twice as fast as a before-validator); only an older payload
        pays for the dict round trip through ``upgrade``.
        """
        try:
            obj = cls.model_validate_json(raw)
        except ValidationError:
            data = _old_payload(cls, raw)
            if data is None:
                raise
            return cls.model_validate(cls.upgrade(data))
        if obj.schema_version < cls.SCHEMA_VERSION:
            return cls.model_validate(cls.upgrade(json.loads(raw)))
        return obj

    def model_post_init(self, __context: Any) -> None:
        if not self.schema_version:
            self.schema_version = self.SCHEMA_VERSION  # a producer that left it out writes the current one
        if not self.event_id:
            self.event_id = self.default_event_id()

    def default_event_id(self) -> str:
        """Subclasses derive the id from their identity; the base falls back to random."""
        return str(uuid.uuid4())
