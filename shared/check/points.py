"""Listing the vector index point by point, for `ladle check`: id, item, version, tombstone, vector.

One page is two scrolls: the points with their state fields, then which of those
ids have a vector (a filter, so no vector is ever copied out). The embedder's API
serves pages of its own index through this; the check calls it directly when no
embedder runs (Edge) or when the index is a Qdrant server.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from workers.embedder.store import VECTOR

FIELDS = ["item_id", "version", "deleted"]
MAX_PAGE = 10_000


@dataclass(slots=True)
class PointRow:
    id: str
    item_id: str | None
    version: int | None
    deleted: bool
    vector: bool

    def to_json(self) -> dict:
        return asdict(self)


def parse_offset(offset: str | None) -> Any:
    """A page offset as the store wants it: a point id is a UUID (ours) or an integer."""
    if offset is None or offset == "":
        return None
    try:
        return uuid.UUID(offset)
    except ValueError:
        return int(offset)


def page(store: Any, offset: str | None, limit: int) -> tuple[list[PointRow], str | None]:
    """One page of points from an EdgeStore or a QdrantServerStore; the next offset or None at the end."""
    limit = max(1, min(int(limit), MAX_PAGE))
    if hasattr(store, "shard"):
        recs, nxt, with_vec = _edge_page(store, parse_offset(offset), limit)
    else:
        recs, nxt, with_vec = _server_page(store, parse_offset(offset), limit)
    rows = []
    for r in recs:
        p = r.payload or {}
        v = p.get("version")
        rows.append(
            PointRow(
                id=str(r.id),
                item_id=p.get("item_id"),
                version=int(v) if isinstance(v, int | float) else None,
                deleted=bool(p.get("deleted", False)),
                vector=str(r.id) in with_vec,
            )
        )
    return rows, None if nxt is None else str(nxt)


def _edge_page(store, offset, limit):
    q = store._q
    recs, nxt = store.shard.scroll(
        q.ScrollRequest(offset=offset, limit=limit, with_payload=q.PayloadSelector.Include(FIELDS), with_vector=False)
    )
    if not recs:
        return recs, nxt, set()
    flt = q.Filter(must=[q.HasIdCondition({r.id for r in recs}), q.HasVectorCondition(VECTOR)])
    has, _ = store.shard.scroll(q.ScrollRequest(limit=len(recs), filter=flt, with_payload=False, with_vector=False))
    return recs, nxt, {str(r.id) for r in has}


def _server_page(store, offset, limit):
    m = store._m
    recs, nxt = store._call(
        store.client.scroll,
        store.collection,
        limit=limit,
        offset=offset,
        with_payload=FIELDS,
        with_vectors=False,
    )
    if not recs:
        return recs, nxt, set()
    flt = m.Filter(must=[m.HasIdCondition(has_id=[r.id for r in recs]), m.HasVectorCondition(has_vector=VECTOR)])
    has, _ = store._call(
        store.client.scroll,
        store.collection,
        scroll_filter=flt,
        limit=len(recs),
        with_payload=False,
        with_vectors=False,
    )
    return recs, nxt, {str(r.id) for r in has}
