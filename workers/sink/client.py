"""Ask a running sink's read-only API (it owns the embedded store): for `ladle query|report`,
`ladle demo` and `ladle check`."""

from __future__ import annotations

from workers.sink.readonly import QueryRows


def query_api(path: str, *, url: str | None = None, timeout_s: float = 120.0, **kwargs) -> QueryRows | None:
    """Rows from the sink's API (GET, or POST with `json=`) as the configured analyst account
    (LADLE_SINK_API_USER / LADLE_SINK_API_PASSWORD); None when no sink answers. A refused query
    (HTTP 400) or refused credentials (401) raise UserError with a one-line reason; any other
    HTTP error raises httpx.HTTPStatusError."""
    import httpx

    from shared.runtime.errors import UserError
    from workers.sink.settings import sink_settings

    settings = sink_settings()
    base = (url or settings.sink_api_url).rstrip("/")
    auth = (settings.sink_api_user, settings.sink_api_password)
    try:
        resp = httpx.request("POST" if "json" in kwargs else "GET", base + path, timeout=timeout_s, auth=auth, **kwargs)
    except httpx.TransportError:
        return None
    if resp.status_code == 401:
        raise UserError(
            f"the sink at {base} refused the account {settings.sink_api_user!r}: set LADLE_SINK_API_USER and "
            "LADLE_SINK_API_PASSWORD to an account in its users file"
        )
    if resp.status_code == 400:
        raise UserError(resp.json().get("detail", resp.text))
    resp.raise_for_status()
    body = resp.json()
    return QueryRows(body["columns"], [tuple(r) for r in body["rows"]])
