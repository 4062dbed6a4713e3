"""The vector store: one small protocol, two backends that pass the same tests.

``EdgeStore`` is Qdrant Edge in-process (the default; one process per folder);
``QdrantServerStore`` is a Qdrant server through qdrant-client (also its local
mode, which speaks the same API). A point's id is uuid5 of the item_id; its
payload carries the item's fields and what the version guard and the hash skip
need (version, content_hash, fields_hash). A delete drops the vector and keeps a
tombstone payload with the version, so an older upsert replayed later cannot
bring the item back; searches only see points that have a vector.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from schemas.base import LADLE_NAMESPACE
from shared.qdrant_edge import edge, open_shard
from shared.runtime.errors import Backpressure, FatalError

VECTOR = "dense"
STATE_FIELDS = ["item_id", "version", "content_hash", "fields_hash", "deleted", "embedded_at", "embedded_version"]
KEYWORD_INDEXES = ("store_id", "category")
FLOAT_INDEXES = ("price",)
HELD_BY = "the embedder service owns it; use its API, or stop it first"


def fast_stable_id(*parts: object) -> str:
    """``schemas.base.stable_id`` (uuid5 over the parts) without building a UUID object: 2-3x faster."""
    name = "\x1f".join(str(p) for p in parts).encode()
    h = bytearray(hashlib.sha1(_NS + name).digest()[:16])
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


_NS = LADLE_NAMESPACE.bytes


@lru_cache(maxsize=1 << 18)
def point_id(item_id: str) -> str:
    """Deterministic, uuid5 of the item_id: the same item is the same point in every process and replay."""
    return fast_stable_id(item_id)


@dataclass(frozen=True, slots=True)
class Stored:
    """What the index holds for an item: enough to guard versions and skip unchanged texts."""

    version: int
    content_hash: str
    fields_hash: str
    deleted: bool
    embedded_at: str
    embedded_version: int

    @classmethod
    def of(cls, payload: dict) -> Stored:
        return cls(
            version=int(payload.get("version", -1)),
            content_hash=payload.get("content_hash", ""),
            fields_hash=payload.get("fields_hash", ""),
            deleted=bool(payload.get("deleted", False)),
            embedded_at=payload.get("embedded_at", ""),
            embedded_version=int(payload.get("embedded_version", payload.get("version", -1))),
        )

    def merged(self, payload: dict) -> Stored:
        """This state after ``set_payload(payload)``."""
        return Stored(
            version=int(payload.get("version", self.version)),
            content_hash=payload.get("content_hash", self.content_hash),
            fields_hash=payload.get("fields_hash", self.fields_hash),
            deleted=bool(payload.get("deleted", self.deleted)),
            embedded_at=payload.get("embedded_at", self.embedded_at),
            embedded_version=int(payload.get("embedded_version", self.embedded_version)),
        )


@dataclass(frozen=True, slots=True)
class SearchFilter:
    store_id: str | None = None
    category: str | None = None
    max_price: float | None = None


@dataclass(slots=True)
class Hit:
    item_id: str
    score: float
    payload: dict


@dataclass(slots=True)
class StoredPoint:
    item_id: str
    payload: dict
    vector: list[float] | None  # None for a tombstone


@dataclass(slots=True)
class PointRow:
    """One point as reconciliation lists it: id, item, version, tombstone, whether it has a vector."""

    id: str
    item_id: str | None
    version: int | None
    deleted: bool
    vector: bool

    def to_json(self) -> dict:
        return asdict(self)


POINT_FIELDS = ["item_id", "version", "deleted"]
MAX_PAGE = 10_000


def parse_offset(offset: str | None) -> Any:
    """A page offset as a store wants it: a point id is a UUID (ours) or an integer."""
    if offset is None or offset == "":
        return None
    try:
        return uuid.UUID(offset)
    except ValueError:
        return int(offset)


def _point_rows(records, with_vector: set[str]) -> list[PointRow]:
    rows = []
    for r in records:
        p = r.payload or {}
        v = p.get("version")
        rows.append(
            PointRow(
                id=str(r.id),
                item_id=p.get("item_id"),
                version=int(v) if isinstance(v, int | float) else None,
                deleted=bool(p.get("deleted", False)),
                vector=str(r.id) in with_vector,
            )
        )
    return rows


class VectorStore(Protocol):
    collection: str
    dim: int

    def states(self, item_ids: Sequence[str]) -> dict[str, Stored]:
        """The stored state of each item that has a point (tombstones included), in one call."""
        ...

    def upsert(self, points: Sequence[tuple[str, list[float], dict]]) -> None:
        """(item_id, vector, payload): replace these points whole."""
        ...

    def set_payload(self, item_ids: Sequence[str], payload: dict) -> None:
        """Merge these payload keys into existing points, keeping their vectors."""
        ...

    def tombstone(self, items: Sequence[tuple[str, dict]]) -> None:
        """(item_id, payload): drop the vector, keep only this payload."""
        ...

    def search(self, vector: Sequence[float], limit: int, flt: SearchFilter | None = None) -> list[Hit]: ...

    def get(self, item_id: str) -> StoredPoint | None:
        """The point with its vector; None when absent (a tombstone comes back with vector None)."""
        ...

    def count(self) -> int:
        """Points with a vector: the searchable items."""
        ...

    def points(self, offset: str | None, limit: int) -> tuple[list[PointRow], str | None]:
        """One page of every point (tombstones too), without copying vectors out; the next
        page's offset, or None at the end."""
        ...

    def flush(self) -> None: ...

    def optimize(self) -> None:
        """Build the search index (HNSW) over what was written; may take long, blocks the caller."""
        ...

    def close(self) -> None: ...


# -- Qdrant Edge ----------------------------------------------------------------


class EdgeStore:
    """One Qdrant Edge shard in a folder. Writes go to its WAL at once; flush() makes them durable.

    Edge admits one process per folder, so this object is the only writer of its shard, and
    it keeps a write-through copy of every item's guard state (version, hashes): reading
    it back from the shard costs more than the rest of an unchanged item's path (~40 us of
    ~100). The copy is loaded from the shard at open, so it survives restarts like the
    shard does; above ``state_cache_items`` items it is dropped and states are read per batch.
    """

    def __init__(self, shard: Any, path: Path, collection: str, dim: int, state_cache_items: int = 500_000) -> None:
        self.shard = shard
        self.path = path
        self.collection = collection
        self.dim = dim
        self._q = edge()
        self._state_selector = self._q.PayloadSelector.Include(STATE_FIELDS)
        self._closed = False
        self._cache_limit = state_cache_items
        self._cache: dict[str, Stored] = {}
        self._complete = False  # True: every item of the shard is in _cache, so a miss means absent

    def _load_states(self) -> None:
        """Fill the cache from the shard (one scroll); give up above the limit."""
        if self._cache_limit <= 0 or self.shard.info().points_count > self._cache_limit:
            return
        q = self._q
        offset = None
        while True:
            recs, offset = self.shard.scroll(
                q.ScrollRequest(offset=offset, limit=10_000, with_payload=self._state_selector, with_vector=False)
            )
            for r in recs:
                if r.payload:
                    self._cache[r.payload["item_id"]] = Stored.of(r.payload)
            if offset is None:
                break
        self._complete = True

    def _remember(self, item_id: str, st: Stored) -> None:
        if len(self._cache) >= self._cache_limit:
            self._cache.clear()  # bounded memory; from here on, states come from the shard
            self._complete = False
            self._cache_limit = 0
        if self._cache_limit:
            self._cache[item_id] = st

    @classmethod
    def create(cls, path: Path, collection: str, dim: int) -> EdgeStore:
        shard = open_shard(
            path, "the index", HELD_BY, create={VECTOR: dim}, keyword_indexes=KEYWORD_INDEXES,
            float_indexes=FLOAT_INDEXES,
        )  # fmt: skip
        shard.flush()
        store = cls(shard, path, collection, dim)
        store._complete = True  # empty
        return store

    @classmethod
    def open(cls, path: Path, collection: str, dim: int, *, load_states: bool = True) -> EdgeStore:
        shard = open_shard(path, "the index", HELD_BY)
        store = cls(shard, path, collection, dim)
        if load_states:  # a writer wants them; a reader (search) does not
            store._load_states()
        return store

    def states(self, item_ids: Sequence[str]) -> dict[str, Stored]:
        cache = self._cache
        found = {i: cache[i] for i in item_ids if i in cache}
        if self._complete or len(found) == len(item_ids):
            return found
        missing = [i for i in item_ids if i not in found]
        recs = self.shard.retrieve([point_id(i) for i in missing], self._state_selector, False)
        for r in recs:
            if r.payload:
                st = found[r.payload["item_id"]] = Stored.of(r.payload)
                self._remember(r.payload["item_id"], st)
        return found

    def _write(self, op) -> None:
        try:
            self.shard.update(op)
        except BaseException:
            self._cache.clear()  # the shard may hold part of the op: trust only the shard from now on
            self._complete = False
            raise

    def upsert(self, points: Sequence[tuple[str, list[float], dict]]) -> None:
        if points:
            P = self._q.Point
            self._write(self._q.UpdateOperation.upsert_points([P(point_id(i), {VECTOR: v}, p) for i, v, p in points]))
            for i, _, p in points:
                self._remember(i, Stored.of(p))

    def set_payload(self, item_ids: Sequence[str], payload: dict) -> None:
        if item_ids:
            self._write(self._q.UpdateOperation.set_payload([point_id(i) for i in item_ids], payload))
            cache = self._cache
            for i in item_ids:
                st = cache.get(i)
                if st is not None:
                    cache[i] = st.merged(payload)

    def tombstone(self, items: Sequence[tuple[str, dict]]) -> None:
        if items:
            P = self._q.Point
            self._write(self._q.UpdateOperation.upsert_points([P(point_id(i), {}, p) for i, p in items]))
            for i, p in items:
                self._remember(i, Stored.of(p))

    def _filter(self, flt: SearchFilter | None):
        q = self._q
        must = []
        if flt is not None:
            if flt.store_id:
                must.append(q.FieldCondition("store_id", match=q.MatchValue(flt.store_id)))
            if flt.category:
                must.append(q.FieldCondition("category", match=q.MatchValue(flt.category)))
            if flt.max_price is not None:
                must.append(q.FieldCondition("price", range=q.RangeFloat(lte=float(flt.max_price))))
        return q.Filter(must=must) if must else None

    def search(self, vector: Sequence[float], limit: int, flt: SearchFilter | None = None) -> list[Hit]:
        q = self._q
        req = q.QueryRequest(
            query=q.Query.Nearest(list(vector), using=VECTOR), limit=limit, filter=self._filter(flt), with_payload=True
        )
        return [Hit(p.payload["item_id"], float(p.score), p.payload) for p in self.shard.query(req)]

    def get(self, item_id: str) -> StoredPoint | None:
        recs = self.shard.retrieve([point_id(item_id)], True, True)
        if not recs:
            return None
        r = recs[0]
        vec = (r.vector or {}).get(VECTOR)
        return StoredPoint(item_id, dict(r.payload or {}), list(vec) if vec is not None else None)

    def count(self) -> int:
        q = self._q
        return self.shard.count(q.CountRequest(exact=True, filter=q.Filter(must=[q.HasVectorCondition(VECTOR)])))

    def points(self, offset: str | None, limit: int) -> tuple[list[PointRow], str | None]:
        # Two scrolls: the points with their state fields, then which of those ids have a vector
        # (a filter, so no vector is copied out).
        q = self._q
        recs, nxt = self.shard.scroll(q.ScrollRequest(
            offset=parse_offset(offset), limit=max(1, min(int(limit), MAX_PAGE)),
            with_payload=q.PayloadSelector.Include(POINT_FIELDS), with_vector=False,
        ))  # fmt: skip
        has = []
        if recs:
            flt = q.Filter(must=[q.HasIdCondition({r.id for r in recs}), q.HasVectorCondition(VECTOR)])
            has, _ = self.shard.scroll(
                q.ScrollRequest(limit=len(recs), filter=flt, with_payload=False, with_vector=False)
            )
        return _point_rows(recs, {str(r.id) for r in has}), None if nxt is None else str(nxt)

    def flush(self) -> None:
        self.shard.flush()

    def optimize(self) -> None:
        # Edge optimizes only when asked, and holds the GIL meanwhile (measured: 12k points ~12 s,
        # 30k ~58 s on 2 busy cores), so only an offline build calls it; until then searches scan
        # the appendable segment (~7 ms at 30k points) instead of walking HNSW (~1 ms).
        self.shard.optimize()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.shard.flush()
        finally:
            self.shard.close()


# -- Qdrant server (qdrant-client) ------------------------------------------------


class QdrantServerStore:
    """A collection on a Qdrant server. Every write waits until the server applied it.

    A server that does not answer (or answers 5xx) is backpressure: the runtime
    pauses and retries, and only an outage longer than ``max_paused_s`` is fatal.
    """

    def __init__(self, client: Any, collection: str, dim: int) -> None:
        from qdrant_client import models

        self.client = client
        self.collection = collection
        self.dim = dim
        self._m = models

    def _call(self, fn, *args, **kwargs):
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        try:
            return fn(*args, **kwargs)
        except ResponseHandlingException as exc:  # connection refused, timeout
            raise Backpressure(f"Qdrant did not answer: {exc}", retry_after=1.0) from None
        except UnexpectedResponse as exc:
            if exc.status_code >= 500 or exc.status_code == 429:
                raise Backpressure(f"Qdrant answered {exc.status_code}", retry_after=1.0) from None
            raise FatalError(f"Qdrant refused a request on {self.collection}: {exc}") from None

    @staticmethod
    def create_collection(client: Any, collection: str, dim: int, metadata: dict | None = None) -> None:
        import warnings

        from qdrant_client import models

        client.create_collection(
            collection,
            vectors_config={VECTOR: models.VectorParams(size=dim, distance=models.Distance.COSINE)},
            metadata=metadata,
        )
        with warnings.catch_warnings():  # the local mode warns that payload indexes do nothing there
            warnings.simplefilter("ignore")
            for field in KEYWORD_INDEXES:
                client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)
            for field in FLOAT_INDEXES:
                client.create_payload_index(collection, field, models.PayloadSchemaType.FLOAT)

    def states(self, item_ids: Sequence[str]) -> dict[str, Stored]:
        if not item_ids:
            return {}
        recs = self._call(
            self.client.retrieve,
            self.collection,
            [point_id(i) for i in item_ids],
            with_payload=STATE_FIELDS,
            with_vectors=False,
        )
        return {r.payload["item_id"]: Stored.of(r.payload) for r in recs if r.payload}

    def upsert(self, points: Sequence[tuple[str, list[float], dict]]) -> None:
        if points:
            PS = self._m.PointStruct
            pts = [PS(id=point_id(i), vector={VECTOR: v}, payload=p) for i, v, p in points]
            self._call(self.client.upsert, self.collection, pts, wait=True)

    def set_payload(self, item_ids: Sequence[str], payload: dict) -> None:
        if item_ids:
            self._call(self.client.set_payload, self.collection, payload, [point_id(i) for i in item_ids], wait=True)

    def tombstone(self, items: Sequence[tuple[str, dict]]) -> None:
        if items:
            PS = self._m.PointStruct
            pts = [PS(id=point_id(i), vector={}, payload=p) for i, p in items]
            self._call(self.client.upsert, self.collection, pts, wait=True)

    def _filter(self, flt: SearchFilter | None):
        m = self._m
        must = []
        if flt is not None:
            if flt.store_id:
                must.append(m.FieldCondition(key="store_id", match=m.MatchValue(value=flt.store_id)))
            if flt.category:
                must.append(m.FieldCondition(key="category", match=m.MatchValue(value=flt.category)))
            if flt.max_price is not None:
                must.append(m.FieldCondition(key="price", range=m.Range(lte=float(flt.max_price))))
        return m.Filter(must=must) if must else None

    def search(self, vector: Sequence[float], limit: int, flt: SearchFilter | None = None) -> list[Hit]:
        res = self._call(
            self.client.query_points,
            self.collection,
            query=list(map(float, vector)),
            using=VECTOR,
            limit=limit,
            query_filter=self._filter(flt),
            with_payload=True,
        )
        return [Hit(p.payload["item_id"], float(p.score), p.payload) for p in res.points]

    def get(self, item_id: str) -> StoredPoint | None:
        recs = self._call(
            self.client.retrieve, self.collection, [point_id(item_id)], with_payload=True, with_vectors=True
        )
        if not recs:
            return None
        r = recs[0]
        vec = (r.vector or {}).get(VECTOR) if isinstance(r.vector, dict) else r.vector
        return StoredPoint(item_id, dict(r.payload or {}), list(vec) if vec is not None else None)

    def count(self) -> int:
        m = self._m
        flt = m.Filter(must=[m.HasVectorCondition(has_vector=VECTOR)])
        return self._call(self.client.count, self.collection, count_filter=flt, exact=True).count

    def points(self, offset: str | None, limit: int) -> tuple[list[PointRow], str | None]:
        m = self._m
        recs, nxt = self._call(
            self.client.scroll, self.collection, limit=max(1, min(int(limit), MAX_PAGE)),
            offset=parse_offset(offset), with_payload=POINT_FIELDS, with_vectors=False,
        )  # fmt: skip
        has = []
        if recs:
            flt = m.Filter(
                must=[m.HasIdCondition(has_id=[r.id for r in recs]), m.HasVectorCondition(has_vector=VECTOR)]
            )
            has, _ = self._call(
                self.client.scroll, self.collection, scroll_filter=flt, limit=len(recs), with_payload=False,
                with_vectors=False,
            )  # fmt: skip
        return _point_rows(recs, {str(r.id) for r in has}), None if nxt is None else str(nxt)

    def flush(self) -> None:
        pass  # wait=True: every write was applied by the server before it returned

    def optimize(self) -> None:
        pass  # the server runs its optimizers in the background

    def close(self) -> None:
        pass  # the client belongs to the collections manager
