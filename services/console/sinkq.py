"""Reading the sink's query API (workers/sink/api.py) as the console's analyst account:
rows for the evaluation and cost pages. The console never opens the store itself."""

from __future__ import annotations

import httpx

from shared.runtime.errors import UserError


class SinkUnavailable(UserError):
    """No sink answered, or it refused the query: the page says so instead of drawing."""


class SinkClient:
    def __init__(self, url: str, user: str, password: str, timeout_s: float = 30.0) -> None:
        self.url, self.auth, self.timeout_s = url.rstrip("/"), (user, password), timeout_s

    def _rows(self, resp: httpx.Response) -> list[dict]:
        if resp.status_code in (400, 401):
            detail = resp.json().get("detail", resp.text) if resp.headers.get("content-type", "").startswith(
                "application/json") else resp.text  # fmt: skip
            raise SinkUnavailable(f"the sink refused the query: {str(detail)[:300]}")
        resp.raise_for_status()
        body = resp.json()
        return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]

    def query(self, sql: str, parameters: dict | None = None) -> list[dict]:
        try:
            resp = httpx.post(f"{self.url}/query", json={"sql": sql, "parameters": parameters or {}},
                              auth=self.auth, timeout=self.timeout_s)  # fmt: skip
        except httpx.TransportError:
            raise SinkUnavailable(f"no sink answers at {self.url}") from None
        return self._rows(resp)

    def report(self, name: str, since: str, by: str) -> list[dict]:
        try:
            resp = httpx.get(f"{self.url}/reports/{name}", params={"since": since, "by": by}, auth=self.auth,
                             timeout=self.timeout_s)  # fmt: skip
        except httpx.TransportError:
            raise SinkUnavailable(f"no sink answers at {self.url}") from None
        return self._rows(resp)
