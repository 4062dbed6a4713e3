"""What a worker is: a class with `process_batch`; the runtime does everything else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from schemas.base import Event


@dataclass(slots=True)
class Record:
    """One decoded, validated input message."""

    topic: str  # logical name (registry name, without the deployment prefix)
    partition: int
    offset: int
    key: str | None
    value: Event
    raw: bytes


@dataclass(slots=True)
class Output:
    """A message to publish. ``source`` is the input it came from; its trace_id is copied over."""

    topic: str  # logical name
    key: str | None
    value: BaseModel
    source: Record | None = None


@dataclass(slots=True)
class Failed:
    """A per-record failure returned as data: the record goes to the DLQ with this error."""

    record: Record
    error: BaseException
    raw_output: str | None = None


@dataclass(slots=True)
class BatchResult:
    outputs: list[Output] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)


@runtime_checkable
class Worker(Protocol):
    """A pipeline stage. It never commits, polls or produces itself.

    ``process_batch`` returns outputs and per-record failures. Raising
    ``Backpressure`` pauses and retries the batch; ``FatalError`` crashes the
    process; any other exception makes the runtime retry the records one by one
    so only the poison record is dead-lettered.
    """

    name: str
    input_topics: list[str]

    def process_batch(self, batch: list[Record]) -> BatchResult: ...

    def flush(self) -> None:
        """Make every effect of the processed batches durable (sinks write here)."""
        ...

    def close(self) -> None: ...
