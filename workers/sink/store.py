"""One adapter for both ClickHouse stores, through clickhouse-connect.

Embedded (the default) is chDB in this process through clickhouse-connect's
``chdb://<folder>`` DSN; with ``LADLE_CLICKHOUSE_URL`` set it is a ClickHouse
server over HTTP. Everything above this class runs the same SQL on both.

chDB allows one data folder per process and one process per data folder: a
second process gets a one-line UserError that points at the sink's query API.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import clickhouse_connect
import structlog
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from shared.runtime.errors import UserError
from workers.sink.settings import SinkSettings

log = structlog.get_logger()
# ClickHouse's query priorities (1 is the highest): queries of a lower one pause while one of a
# higher one runs, so analysts' queries step aside for the sink's inserts.
WRITER_PRIORITY, READER_PRIORITY = 1, 2


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:400]


class ClickHouseStore:
    """A writer session (DDL, staging, inserts) and, on demand, a read-only one."""

    def __init__(self, dsn: str, database: str, *, kind: str, readonly_settings: dict[str, Any] | None = None):
        self.dsn = dsn
        self.database = database
        self.kind = kind  # "chdb" or "http"
        self._readonly_settings = readonly_settings or {}
        self._readonly: Client | None = None
        self._readonly_lock = threading.Lock()
        # The writer session's statements, one at a time: the lander's staging tables live in
        # this session. Analysts' queries never take this lock: they run in sessions of their
        # own (readonly_client, analyst.py), so a long query does not hold up an insert.
        self.lock = threading.RLock()
        # Priority 1 (the highest): an analyst's query (priority 2) pauses while an insert runs.
        self.client = self._connect(settings={"priority": WRITER_PRIORITY})
        self.client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        self.client.database = database
        log.info("clickhouse.opened", kind=kind, database=database, target=self.describe())

    @classmethod
    def open(cls, settings: SinkSettings) -> ClickHouseStore:
        readonly = {
            "max_execution_time": settings.clickhouse_query_timeout_s,
            "max_result_rows": settings.clickhouse_max_result_rows,
            "result_overflow_mode": "throw",
            "os_threads_nice_value_query": settings.clickhouse_query_nice,  # ingestion's threads go first
            "priority": READER_PRIORITY,
        }
        if settings.clickhouse_url:
            return cls(settings.clickhouse_url, settings.clickhouse_database, kind="http", readonly_settings=readonly)
        path = Path(settings.chdb_path).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return cls(f"chdb://{path}", settings.clickhouse_database, kind="chdb", readonly_settings=readonly)

    @property
    def chdb_path(self) -> str:
        """The embedded engine's folder as chDB compares it (one per process): for more sessions on it."""
        return os.path.realpath(self.dsn.removeprefix("chdb://"))

    def describe(self) -> str:
        """The target without credentials, for logs and messages."""
        if self.kind == "chdb":
            return self.dsn
        head, _, tail = self.dsn.partition("://")
        return f"{head}://{tail.rpartition('@')[2]}"

    def _connect(self, database: str | None = None, settings: dict[str, Any] | None = None, **kwargs) -> Client:
        try:
            return clickhouse_connect.get_client(dsn=self.dsn, database=database, settings=settings or {}, **kwargs)
        except ClickHouseError as exc:
            text = str(exc)
            if "Cannot lock file" in text or "Another server instance" in text:
                raise UserError(
                    f"the chDB folder {self.describe()} is open in another process (the sink owns it): "
                    "query through the sink's API, or stop the sink first"
                ) from None
            if "already initialized with path" in text:
                raise UserError(
                    f"this process already has another chDB folder open; chDB allows one per process "
                    f"(wanted {self.describe()})"
                ) from None
            raise UserError(f"cannot open ClickHouse at {self.describe()}: {_one_line(exc)}") from None

    # -- writer session ----------------------------------------------------

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        with self.lock:
            return self.client.command(sql, parameters=parameters)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> tuple[list[str], list[tuple]]:
        with self.lock:
            result = self.client.query(sql, parameters=parameters)
        return list(result.column_names), [tuple(r) for r in result.result_rows]

    def scalar(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        return self.query(sql, parameters)[1][0][0]

    def insert_arrow(self, table: str, data: Any) -> None:
        """A columnar insert: Arrow IPC bytes, parsed by ClickHouse itself."""
        with self.lock:
            self.client.insert_arrow(table, data)

    # -- read-only session -------------------------------------------------

    def readonly_client(self) -> Client:
        """A second session with readonly=1 set on it: ClickHouse itself refuses every
        write, DDL, settings change and file/url table function on it. Its calls run one at
        a time (the client's own lock), never under the writer's."""
        with self._readonly_lock:
            if self._readonly is None:
                settings = dict(self._readonly_settings)
                settings["readonly"] = 1  # last: after it, no setting may change
                # A server session admits one query at a time; the settings ride on every request anyway.
                extra = {} if self.kind == "chdb" else {"autogenerate_session_id": False}
                self._readonly = self._connect(database=self.database, settings=settings, **extra)
            return self._readonly

    def close(self) -> None:
        for client in (self._readonly, self.client):
            if client is not None:
                try:
                    client.close()
                except Exception as exc:  # noqa: BLE001 - closing must not mask the real error
                    log.warning("clickhouse.close_failed", error=_one_line(exc))
        self._readonly = None
