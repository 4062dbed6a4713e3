"""Ask a running sink's read-only API (it owns the embedded store): for `ladle query|report`,
`ladle demo` and `ladle check`."""

from __future__ import annotations

from workers.sink.readonly import QueryRows


def query_api(path: str, *, url: str | None = None, timeout_s: float = 120.0, **kwargs) -> QueryRows | None:
    """Rows from the sink's API (GET, or POST with `json=`); None when no sink answers.
    A refused query (HTTP 400) raises UserError with the API's one-line reason; any other
    HTTP error raises httpx.HTTPStatusError."""
    import httpx

    from shared.runtime.errors import UserError
    from workers.sink.settings import sink_settings

    base = (url or sink_settings().sink_api_url).rstrip("/")
    try:
        resp = httpx.request("POST" if "json" in kwargs else "GET", base + path, timeout=timeout_s, **kwargs)
    except httpx.TransportError:
        return None
    if resp.status_code == 400:
        raise UserError(resp.json().get("detail", resp.text))
    resp.raise_for_status()
    body = resp.json()
    return QueryRows(body["columns"], [tuple(r) for r in body["rows"]])
