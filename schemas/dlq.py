"""<topic>.dlq: a message that could not be processed, with its raw bytes."""

from __future__ import annotations

from pydantic import Field

from schemas.base import Event, stable_id


class DeadLetter(Event):
    """Key: the original key. ``offset`` is -1 for rows rejected before they reached Kafka."""

    original_topic: str
    original_partition: int = -1
    original_offset: int = -1
    original_key: str | None = None
    error_class: str
    error_message: str
    raw_value_b64: str = Field(default="", description="The original bytes, base64 (truncated past the limit).")
    raw_size: int = Field(default=0, ge=0)
    truncated: bool = False
    worker: str = ""
    source: str = Field(default="", description="Where it came from when not a topic, e.g. 'catalog.jsonl:17'.")

    def default_event_id(self) -> str:
        if self.original_offset >= 0:
            return stable_id("dlq", self.original_topic, self.original_partition, self.original_offset, self.worker)
        return stable_id("dlq", self.original_topic, self.source, self.raw_value_b64)
