"""Read-only SQL for Ladle's clients (/query, /reports, `ladle query`), enforced by ClickHouse.

Queries run on the store's second session, which has ``readonly=1`` set: the
server refuses INSERT, ALTER, DROP, CREATE, SET and file/url table functions
itself, however the statement is spelled; statements.py refuses what readonly
mode lets through (several statements, KILL, INTO OUTFILE), reading the statement
with ClickHouse's own parser. The session also caps run time and result size
(settings ``clickhouse_query_timeout_s`` / ``clickhouse_max_result_rows``), and
runs beside the sink's inserts, not under their lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from clickhouse_connect.driver.binding import bind_query
from clickhouse_connect.driver.exceptions import ClickHouseError

from shared.runtime.errors import UserError
from workers.sink import statements
from workers.sink.store import ClickHouseStore

log = structlog.get_logger()
READONLY = 164


@dataclass(frozen=True)
class QueryRows:
    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_readonly(store: ClickHouseStore, sql: str, parameters: dict[str, Any] | None = None) -> QueryRows:
    """Runs one read-only statement; every refusal or SQL error is a one-line UserError."""
    statement = sql.strip().rstrip(";").strip()
    if not statement:
        raise UserError("empty query: pass one SELECT statement")
    client = store.readonly_client()
    try:
        # The guard reads the text that will run: client-side %(name)s values bound in.
        bound, _ = bind_query(statement, parameters, client.server_tz)
        text = bound.decode(errors="replace") if isinstance(bound, bytes) else bound
        normalized = statements.normalize(lambda sql: str(client.command(sql)), text)
        statements.check(normalized, "ladle")
        result = client.query(statement, parameters=parameters)
    except statements.QueryFailed as exc:
        raise UserError(f"query refused: {exc.text}") from None
    except ClickHouseError as exc:
        raise UserError(_message(exc)) from None
    return QueryRows(list(result.column_names), [tuple(r) for r in result.result_rows])


def _message(exc: ClickHouseError) -> str:
    text = " ".join(str(exc).split())
    if getattr(exc, "code", None) == READONLY or "(READONLY)" in text:
        return "read-only SQL: only SELECT-like statements may run here (ClickHouse refused it in readonly mode)"
    text = text.split(" (version ")[0].replace(" FORMAT Native", "").split(". Expected one of")[0]
    return f"query failed: {text[:300]}"
