"""The sink as a process: the Kafka worker plus the read-only query API of the store it owns."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import REPO_ROOT, WorkerSettings
from workers.sink.worker import ClickHouseSink


class SinkWorkerSettings(WorkerSettings):
    model_config = SettingsConfigDict(env_prefix="LADLE_SINK_", extra="ignore")

    # A checkpoint is one insert per table: bigger is faster for ClickHouse, smaller lands sooner.
    commit_every: int = Field(default=100_000, description="Rows per insert at most (plus the 1 s interval).")
    max_batch_size: int = 2000
    api_port: int = Field(
        default=8082, description="ClickHouse's HTTP interface and Ladle's /query and /reports; 0 disables them."
    )
    api_addr: str = Field(default="127.0.0.1", description="0.0.0.0 in containers.")
    users_file: Path = Field(
        default=REPO_ROOT / "deploy" / "sink" / "users.yaml", description="Analyst accounts (sha256 passwords)."
    )


def build() -> tuple[ClickHouseSink, SinkWorkerSettings]:
    from workers.sink.accounts import Accounts
    from workers.sink.settings import sink_settings

    ws = SinkWorkerSettings()
    accounts = Accounts.load(ws.users_file) if ws.api_port else None
    settings = sink_settings()
    sink = ClickHouseSink.from_settings(settings)
    if ws.api_port:
        from workers.sink.api import serve_in_thread

        sink.api = serve_in_thread(sink.store, ws.api_addr, ws.api_port, accounts, settings)
    return sink, ws
