"""Reach a running embedder's API (it owns the embedded index): for `ladle search`, `ladle reindex`, `ladle check`."""

from __future__ import annotations


def api_url(settings) -> str | None:
    """The local embedder's API URL from its settings; None when the API is off."""
    if not settings.api_port:
        return None
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def running(settings, timeout_s: float = 60.0):
    """An httpx client on the running embedder, or None when none answers its /health. It sends
    the team key of the settings (LADLE_EMBEDDER_API_KEY, the demo key by default)."""
    import httpx

    url = api_url(settings)
    if url is None:
        return None
    headers = {"Authorization": f"Bearer {settings.api_key}"}
    client = httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(timeout_s, connect=1.0))
    try:
        client.get("/health").raise_for_status()
    except httpx.HTTPError:
        client.close()
        return None
    return client
