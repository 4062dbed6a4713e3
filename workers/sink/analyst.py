"""Analysts' queries, each in a read-only session of its own, beside ingestion.

Before this, every read-only query ran on one session behind the store's lock, the lock
the sink's inserts take: a 10-second analyst query held every insert for 10 seconds
(`ladle bench sink` measured ingestion at 0.23 of its rate). Now each request opens its
own handle on the engine the sink already runs (chDB allows many per process; about
2 ms), applies the caller's allowed settings and the ceilings (chsettings.py), then
``readonly=1``, and runs beside the writer session without touching its lock. The
number of analyst queries at once is bounded (TOO_MANY_SIMULTANEOUS_QUERIES past it).

Against a ClickHouse server (LADLE_CLICKHOUSE_URL) the same request is passed on to the
server with the same settings and ``readonly=1`` last.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from workers.sink import statements
from workers.sink.chformats import STREAMABLE, format_clause
from workers.sink.statements import QueryFailed

ZERO_SUMMARY = {"read_rows": "0", "read_bytes": "0", "written_rows": "0", "written_bytes": "0",
                "total_rows_to_read": "0", "result_bytes": "0", "elapsed_ns": "0"}  # fmt: skip


@dataclass
class AnalystQuery:
    sql: str
    user: str
    database: str
    default_format: str
    settings: dict[str, str]
    restated: dict[str, str] = field(default_factory=dict)  # other settings: only their current value passes
    params: dict[str, str] = field(default_factory=dict)  # {name:Type} placeholders, in ClickHouse's text form
    stream: bool = True  # False: the whole answer before the headers (wait_end_of_query=1)


@dataclass
class Answer:
    format: str
    chunks: Iterator[bytes]
    summary: dict[str, str]
    timezone: str
    _close: object = None

    def close(self) -> None:
        if callable(self._close):
            self._close()
            self._close = None


class Slots:
    def __init__(self, n: int) -> None:
        self.n, self._sem = n, threading.BoundedSemaphore(n)

    def take(self) -> None:
        if not self._sem.acquire(blocking=False):
            raise QueryFailed.of(
                202, f"Too many simultaneous queries. Maximum: {self.n}", "TOO_MANY_SIMULTANEOUS_QUERIES"
            )

    def give(self) -> None:
        self._sem.release()


class ChdbAnalysts:
    """Sessions on the chDB engine this process runs (the sink's own folder)."""

    def __init__(self, path: str, max_concurrent: int) -> None:
        self.path = path
        self.slots = Slots(max_concurrent)
        self._server_tz: str | None = None
        self._open: set = set()  # close callbacks of sessions still streaming

    def close_all(self) -> None:
        """Cancels the queries still running: the store may close only after its sessions have."""
        for close in list(self._open):
            close()

    def run(self, q: AnalystQuery) -> Answer:
        import chdb

        self.slots.take()
        conn = None
        closed = threading.Event()

        def close() -> None:
            if not closed.is_set():
                closed.set()
                self._open.discard(cancel_and_close)
                if conn is not None:
                    conn.close()
                self.slots.give()

        def cancel_and_close() -> None:
            if streaming is not None:
                try:
                    streaming.close()  # a client that went away, or the sink stopping: stop the query
                except Exception:  # noqa: BLE001 - closing must not mask anything
                    pass
            close()

        streaming = None

        try:
            conn = chdb.connect(self.path)
            tz = self._prepare(conn, q)
            normalized = statements.normalize(lambda sql: conn.query(sql, "TSVRaw").bytes().decode(), q.sql)
            statements.check(normalized, q.user)
            fmt = (format_clause(normalized) if normalized else None) or q.default_format
            # chDB streams SELECTs only; anything else is answered (or refused) whole.
            if q.stream and fmt in STREAMABLE and (normalized or "").startswith(("SELECT ", "WITH ")):
                streaming = conn.send_query(q.sql, fmt, params=q.params)
                self._open.add(cancel_and_close)
                return Answer(fmt, _stream(streaming, cancel_and_close), dict(ZERO_SUMMARY), tz, cancel_and_close)
            res = conn.query(q.sql, fmt, params=q.params)
            data = res.bytes() or b""
            close()
            return Answer(fmt, iter([data]), _summary(res, len(data)), tz)
        except QueryFailed:
            close()
            raise
        except Exception as exc:  # noqa: BLE001 - chDB raises its own types with ClickHouse's text
            close()
            raise QueryFailed.from_engine(exc, q.user) from None

    def _prepare(self, conn, q: AnalystQuery) -> str:
        from workers.sink.statements import escape_literal

        if self._server_tz is None:
            self._server_tz = conn.query("SELECT timezone()", "TSVRaw").bytes().decode().strip()
        conn.query(f"USE `{q.database.replace('`', '')}`", "TSVRaw")
        _check_restated(conn, q.restated)
        for name, value in q.settings.items():
            conn.query(f"SET {name} = {escape_literal(value)}", "TSVRaw")
        conn.query("SET readonly = 1", "TSVRaw")  # last: nothing can change after it
        return q.settings.get("session_timezone") or self._server_tz


def _check_restated(conn, restated: dict[str, str]) -> None:
    if not restated:
        return
    from workers.sink.statements import escape_literal

    names = ", ".join(escape_literal(n) for n in restated)
    rows = conn.query(f"SELECT name, value FROM system.settings WHERE name IN ({names})", "JSONCompactEachRow")
    current = dict(json.loads(line) for line in rows.bytes().decode().splitlines())
    for name, value in restated.items():
        if name not in current:
            raise QueryFailed.of(115, f"Unknown setting '{name}'", "UNKNOWN_SETTING")
        if value != current[name] and {"true": "1", "false": "0"}.get(value.lower()) != current[name]:
            raise QueryFailed.of(164, f"Cannot modify '{name}' setting in readonly mode", "READONLY")


def _stream(streaming, close) -> Iterator[bytes]:
    """The first block is read before the answer starts, so an early error still gets its status;
    a later one is appended to the body, as ClickHouse does once the headers are out."""
    first = _next(streaming)

    def rest() -> Iterator[bytes]:
        try:
            if first:
                yield first
            while (chunk := _next(streaming)) is not None:
                yield chunk
        except QueryFailed as exc:
            yield f"\n{exc.text}\n".encode()
        finally:
            close()

    return rest()


def _next(streaming) -> bytes | None:
    try:
        chunk = next(streaming)
    except StopIteration:
        return None
    except Exception as exc:  # noqa: BLE001 - chDB's streaming errors carry ClickHouse's text
        raise QueryFailed.from_engine(exc, None) from None
    return chunk.bytes()


def _summary(res, result_bytes: int) -> dict[str, str]:
    return {**ZERO_SUMMARY, "read_rows": str(res.rows_read()), "read_bytes": str(res.bytes_read()),
            "total_rows_to_read": str(res.rows_read()), "result_bytes": str(result_bytes),
            "elapsed_ns": str(int(res.elapsed() * 1e9))}  # fmt: skip
