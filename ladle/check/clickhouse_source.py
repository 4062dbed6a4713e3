"""Where the ClickHouse stage reads row counts: the sink's read-only SQL API when the sink
runs (it owns embedded chDB: one process per folder), else the store itself (chDB under
data_dir, or the server at LADLE_CLICKHOUSE_URL), through its read-only session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from ladle.check.kafka_read import Unreachable
from shared.runtime.errors import UserError
from workers.sink.client import query_api

PAGE = 50_000  # under the read-only session's result cap (LADLE_CLICKHOUSE_MAX_RESULT_ROWS, 100k)
COUNTS = (
    "SELECT event_id, count() AS n FROM {table} WHERE event_id > {{after:String}} "
    "GROUP BY event_id ORDER BY event_id LIMIT {{limit:UInt32}}"
)
Sql = Callable[[str, dict], list]


def probe() -> None:
    """Fail before the long topic read when there is no sink to ask and no store to open."""
    from workers.sink.settings import sink_settings

    settings = sink_settings()
    if settings.clickhouse_url or settings.chdb_path.exists() or _answers(settings.sink_api_url.rstrip("/")):
        return
    raise Unreachable(
        f"there is no ClickHouse data at {settings.chdb_path} and no sink answers at {settings.sink_api_url}; "
        "run `ladle worker sink` or leave out --stages clickhouse"
    )


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=httpx.Timeout(10.0, connect=1.0)).raise_for_status()
    except httpx.HTTPError:
        return False
    return True


@contextmanager
def open_sql() -> Iterator[tuple[str, Sql]]:
    """(where, run(sql, parameters) -> rows)."""
    from workers.sink.settings import sink_settings

    settings = sink_settings()
    url = settings.sink_api_url.rstrip("/")
    if _answers(url):
        yield f"sink API {url}", _api(url)
        return
    probe()
    from workers.sink.readonly import run_readonly
    from workers.sink.store import ClickHouseStore

    try:
        store = ClickHouseStore.open(settings)
    except UserError as exc:
        raise Unreachable(str(exc)) from None

    def run(sql: str, params: dict) -> list:
        try:
            return run_readonly(store, sql, params).rows
        except UserError as exc:
            raise Unreachable(f"ClickHouse at {store.describe()}: {exc}") from None

    try:
        yield f"{store.describe()} database {store.database} (opened directly)", run
    finally:
        store.close()


def _api(url: str) -> Sql:
    def run(sql: str, params: dict) -> list:
        try:
            rows = query_api("/query", url=url, timeout_s=300, json={"sql": sql, "parameters": params})
        except (UserError, httpx.HTTPError) as exc:
            raise Unreachable(f"the sink API at {url}: {' '.join(str(exc).split())[:200]}") from None
        if rows is None:
            raise Unreachable(f"the sink API at {url} stopped answering")
        return rows.rows

    return run


def row_counts(run: Sql, table: str, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """event_id -> physical rows (no FINAL), paged by event_id so no answer exceeds the result cap."""
    counts: dict[str, int] = {}
    after = ""
    sql = COUNTS.format(table=table)
    while True:
        rows = run(sql, {"after": after, "limit": PAGE})
        counts.update((eid, int(n)) for eid, n in rows)
        if progress is not None:
            progress(len(counts))
        if len(rows) < PAGE:
            return counts
        after = rows[-1][0]
