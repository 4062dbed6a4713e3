"""The reference worker: republishes every catalog change, unchanged, to an output topic.

It is the smallest correct worker (the template for new stages) and what the
runtime's tests and benchmark drive: one output per input, same event_id.
"""

from __future__ import annotations

import time

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.runtime.worker import BatchResult, Output, Record
from shared.settings import WorkerSettings


class EchoSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="LADLE_ECHO_", extra="ignore")

    input_topic: str = "catalog.changes"
    output_topic: str = Field(default="catalog.echo", description="Any topic; not in the registry, create it first.")
    delay_ms: float = Field(default=0, description="Sleep per batch, to simulate a slow stage (tests, demos).")


class EchoWorker:
    name = "echo"

    def __init__(self, settings: EchoSettings) -> None:
        self.settings = settings
        self.input_topics = [settings.input_topic]
        self.output_topic = settings.output_topic

    def process_batch(self, batch: list[Record]) -> BatchResult:
        if self.settings.delay_ms:
            time.sleep(self.settings.delay_ms / 1000)
        out = self.output_topic
        return BatchResult(outputs=[Output(out, r.key, r.value, r) for r in batch])

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def build() -> tuple[EchoWorker, EchoSettings]:
    settings = EchoSettings()
    return EchoWorker(settings), settings
