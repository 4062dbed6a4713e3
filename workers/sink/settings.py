"""Settings of the sink and its ClickHouse store (env prefix LADLE_)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from shared.settings import LadleSettings


class SinkSettings(LadleSettings):
    clickhouse_url: str | None = Field(
        default=None,
        description="A ClickHouse server (http://user:pass@host:8123). Empty: embedded chDB under data_dir/clickhouse, "
        "which only this process may open.",
    )
    clickhouse_database: str = Field(default="ladle", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    clickhouse_body_ttl_days: int = Field(
        default=30,
        ge=1,
        description="Raw prompt/response bodies expire after this; longer helps debugging, costs privacy.",
    )
    clickhouse_query_timeout_s: int = Field(default=60, ge=1, description="Longest a read-only query may run.")
    clickhouse_max_result_rows: int = Field(
        default=100_000, ge=1, description="Most rows a read-only query of Ladle's JSON API (/query) may return."
    )
    clickhouse_export_max_rows: int = Field(
        default=10_000_000,
        ge=1,
        description="Most rows one answer of the ClickHouse HTTP interface may have; it streams, so memory stays "
        "flat. Analysts may ask for fewer (max_result_rows).",
    )
    clickhouse_query_max_threads: int = Field(
        default=os.cpu_count() or 1,
        ge=1,
        description="Threads one analyst query may use (default: one per core). Their niceness, not their number, "
        "keeps ingestion going: see clickhouse_query_nice.",
    )
    clickhouse_query_nice: int = Field(
        default=19,
        ge=0,
        le=19,
        description="Niceness of analysts' query threads (os_threads_nice_value_query): 19 lets the sink's own "
        "threads go first whenever both want a core, and costs an idle sink nothing.",
    )
    clickhouse_query_max_memory_bytes: int = Field(
        default=4 << 30,
        ge=1 << 20,
        description="Memory one analyst query may use; the embedded store shares the sink's process, so a runaway "
        "GROUP BY fails alone instead of taking ingestion down.",
    )
    clickhouse_max_concurrent_queries: int = Field(
        default=4, ge=1, description="Analyst queries at once on the ClickHouse HTTP interface; past it, 503."
    )
    sink_api_url: str = Field(
        default="",
        description="The sink's query API, tried first by `ladle query` and `ladle report`; "
        "default: 127.0.0.1 on LADLE_SINK_API_PORT (8082), where the local sink serves it.",
    )
    sink_api_user: str = Field(default="analyst", description="The analyst account Ladle's own clients use.")
    sink_api_password: str = Field(
        default="ladle-analyst", description="Its password (the documented demo account's by default)."
    )
    pricing_file: Path | None = Field(default=None, description="Defaults to deploy/pricing/pricing.yaml.")

    @model_validator(mode="after")
    def _local_api(self) -> SinkSettings:
        if not self.sink_api_url:
            self.sink_api_url = f"http://127.0.0.1:{os.environ.get('LADLE_SINK_API_PORT', '8082')}"
        return self

    @property
    def chdb_path(self) -> Path:
        return self.data_dir / "clickhouse"


def sink_settings() -> SinkSettings:
    return SinkSettings()
