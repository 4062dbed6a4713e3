"""The sink as a process: the Kafka worker plus the read-only query API of the store it owns."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import WorkerSettings
from workers.sink.worker import ClickHouseSink


class SinkWorkerSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="LADLE_SINK_", extra="ignore")

    # A checkpoint is one insert per table: bigger is faster for ClickHouse, smaller lands sooner.
    commit_every: int = Field(default=100_000, description="Rows per insert at most (plus the 1 s interval).")
    max_batch_size: int = 2000
    api_port: int = Field(default=8082, description="Read-only SQL API (GET/POST /query); 0 disables it.")
    api_addr: str = "127.0.0.1"


def build() -> tuple[ClickHouseSink, SinkWorkerSettings]:
    ws = SinkWorkerSettings()
    sink = ClickHouseSink.from_settings()
    if ws.api_port:
        from workers.sink.api import serve_in_thread

        sink.api = serve_in_thread(sink.store, ws.api_addr, ws.api_port)
    return sink, ws
