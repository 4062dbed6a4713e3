"""Analysts' queries when the store is a ClickHouse server (LADLE_CLICKHOUSE_URL): the request goes
on to the server's own HTTP interface as the sink's user, with the analyst's allowed settings
and ``readonly=1`` last, after the same statement checks as on the embedded store.

The answer comes back uncompressed and is re-encoded for the analyst's client like any other.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from workers.sink import statements
from workers.sink.analyst import ZERO_SUMMARY, AnalystQuery, Answer, Slots
from workers.sink.statements import QueryFailed


class ServerAnalysts:
    def __init__(self, store, max_concurrent: int) -> None:
        parts = urlsplit(store.dsn)
        self.store = store
        self.url = f"{parts.scheme}://{parts.hostname}:{parts.port or 8123}/"
        self.auth = (parts.username or "default", parts.password or "")
        self.slots = Slots(max_concurrent)
        self.client = httpx.Client(timeout=httpx.Timeout(None, connect=10.0))

    def close_all(self) -> None:
        self.client.close()  # the server's sessions end with their connections

    def run(self, q: AnalystQuery) -> Answer:
        self.slots.take()
        try:
            client = self.store.readonly_client()
            normalized = statements.normalize(lambda sql: str(client.command(sql)), q.sql)
            statements.check(normalized, q.user)
            params = {
                "database": q.database,
                "default_format": q.default_format,
                **q.restated,
                **q.settings,
                "readonly": "1",
            }
            params.update({f"param_{k}": v for k, v in q.params.items()})
            if not q.stream:
                params["wait_end_of_query"] = "1"
            request = self.client.build_request(
                "POST", self.url, params=params, content=q.sql.encode(), auth=self.auth,
                headers={"Accept-Encoding": "identity"},
            )  # fmt: skip
            resp = self.client.send(request, stream=True)
        except QueryFailed:
            self.slots.give()
            raise
        except Exception as exc:  # noqa: BLE001 - the server's and the network's errors alike
            self.slots.give()
            raise QueryFailed.from_engine(exc) from None
        if resp.status_code != 200:
            text = resp.read().decode(errors="replace").strip()
            resp.close()
            self.slots.give()
            code = int(resp.headers.get("X-ClickHouse-Exception-Code") or 1001)
            raise QueryFailed(code, text)

        done = []

        def close() -> None:
            if not done:
                done.append(True)
                resp.close()
                self.slots.give()

        summary = json.loads(resp.headers.get("X-ClickHouse-Summary") or "{}") or dict(ZERO_SUMMARY)
        return Answer(
            resp.headers.get("X-ClickHouse-Format") or q.default_format,
            _chunks(resp, close),
            summary,
            resp.headers.get("X-ClickHouse-Timezone") or "UTC",
            close,
        )


def _chunks(resp: httpx.Response, close):
    try:
        yield from resp.iter_bytes()
    finally:
        close()
