"""Where the index stage reads the points: a Qdrant server when one is configured, else the
running embedder's API (it owns the embedded index: one process per folder), else the
Qdrant Edge folder itself when no embedder runs."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ladle.check.kafka_read import Unreachable
from shared.runtime.errors import LadleError
from shared.settings import LadleSettings
from workers.embedder.client import running
from workers.embedder.store import PointRow

PAGE = 2000
Progress = Callable[[int], None]  # points read so far


def read_points(ladle: LadleSettings, progress: Progress | None = None) -> tuple[str, list[PointRow]]:
    """(where they came from, every point of the current collection)."""
    from workers.embedder.settings import EmbedderSettings

    es = EmbedderSettings()
    if not es.qdrant_url:
        client = running(es, timeout_s=120.0)
        if client is not None:
            try:
                return _via_api(client, progress)
            finally:
                client.close()
    return _direct(es, ladle, progress)


def probe(ladle: LadleSettings) -> None:
    """Fail before the long topic read when the index can be neither asked nor opened."""
    from workers.embedder.collections import EdgeCollections
    from workers.embedder.settings import EmbedderSettings

    es = EmbedderSettings()
    if es.qdrant_url:
        return  # a server answers or not when it is read
    client = running(es, timeout_s=120.0)
    if client is not None:
        client.close()
        return
    root = ladle.data_dir / "embedder"
    try:
        missing = EdgeCollections(root).current() is None
    except LadleError as exc:
        raise Unreachable(str(exc)) from None
    if missing:
        raise Unreachable(f"there is no index at {root}; run `ladle worker embedder` or leave out --stages index")


def _via_api(client: httpx.Client, progress: Progress | None) -> tuple[str, list[PointRow]]:
    rows: list[PointRow] = []
    offset, collection = None, None
    while True:
        try:
            resp = client.get("/points", params={"limit": PAGE, **({"offset": offset} if offset else {})})
        except httpx.HTTPError as exc:
            raise Unreachable(f"the embedder at {client.base_url} stopped answering: {exc}") from None
        if resp.status_code == 404:
            raise Unreachable(f"the embedder at {client.base_url} has no /points endpoint; restart it on this version")
        if resp.status_code != 200:
            raise Unreachable(f"the embedder at {client.base_url} answered {resp.status_code}: {resp.text[:200]}")
        body = resp.json()
        if collection is not None and body["collection"] != collection:
            raise Unreachable(f"the index switched from {collection} to {body['collection']} during the check; rerun")
        collection = body["collection"]
        rows.extend(PointRow(**p) for p in body["points"])
        if progress is not None:
            progress(len(rows))
        offset = body["next_offset"]
        if offset is None:
            return f"embedder API {client.base_url} ({collection})", rows


def _direct(es, ladle: LadleSettings, progress: Progress | None) -> tuple[str, list[PointRow]]:
    from workers.embedder.collections import collections_for

    try:
        cols = collections_for(es, ladle.data_dir)
        info = cols.current()
        if info is None:
            where = es.qdrant_url or ladle.data_dir / "embedder"
            raise Unreachable(f"there is no index at {where}; run `ladle worker embedder` or leave out --stages index")
        store = cols.open_reader(info)
    except Unreachable:
        raise
    except LadleError as exc:
        raise Unreachable(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - qdrant-client raises plain exceptions for a server that is down
        kind = "Qdrant server" if es.qdrant_url else "Qdrant Edge"
        raise Unreachable(f"cannot read the {kind} index: {' '.join(str(exc).split())[:300]}") from None
    rows: list[PointRow] = []
    try:
        offset = None
        while True:
            try:
                got, offset = store.points(offset, PAGE)
            except LadleError as exc:  # Backpressure/FatalError from a server store
                raise Unreachable(f"the index stopped answering: {exc}") from None
            except Exception as exc:  # noqa: BLE001 - the stores' bindings raise plain exceptions
                raise Unreachable(f"reading the index failed: {' '.join(str(exc).split())[:300]}") from None
            rows.extend(got)
            if progress is not None:
                progress(len(rows))
            if offset is None:
                break
    finally:
        store.close()
    where = es.qdrant_url or str(ladle.data_dir / "embedder")
    return f"{cols.kind} index {info.name} at {where} (opened directly)", rows
