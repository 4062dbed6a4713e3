"""Catalog changes -> the vector index: the version guard, the hash skip, batched embedding.

Shared by the live worker and by reindexing, so both apply a change the same way.

- Within one batch only the latest version of an item counts.
- The index's own state (read in one call per batch) is the version guard, so it
  survives restarts: an older version is dropped (``stale``), the same version
  again is a replay and changes nothing (its event is re-emitted as it was, with
  the same id, so consumers deduplicate it).
- An upsert whose text hashes to what the index holds makes no model call: only
  the payload changes (just version and time when the other fields are equal too).
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import CatalogChange, CatalogEmbedded, CatalogItem
from schemas.base import utcnow
from shared.encoder import Encoder
from shared.runtime.errors import Backpressure, FatalError
from workers.embedder import metrics
from workers.embedder.collections import CollectionInfo
from workers.embedder.store import Stored, VectorStore, fast_stable_id
from workers.embedder.text import EmptyText, TextTemplate, content_hash


@dataclass
class Index:
    """A collection together with the model that fills it and the template of its texts."""

    info: CollectionInfo
    store: VectorStore
    encoder: Encoder
    template: TextTemplate


@dataclass(slots=True)
class Applied:
    change: CatalogChange
    ref: Any  # what the caller passed in with the change (the runtime's Record)
    content_hash: str
    skipped: bool
    embedded_at: datetime
    replay: bool = False  # the index already held this version: nothing was written


@dataclass
class ApplyResult:
    applied: list[Applied] = field(default_factory=list)
    failed: list[tuple[Any, BaseException]] = field(default_factory=list)
    embedded: int = 0
    skipped: int = 0
    deleted: int = 0
    stale: int = 0
    replayed: int = 0


def fields_hash(item: CatalogItem, template: TextTemplate) -> str:
    """A hash of every field and of the template: equal means the payload and the text are both unchanged."""
    data = template.source.encode() + b"\x00" + item.__pydantic_serializer__.to_json(item)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _store(op: str, fn, *args) -> Any:
    t0 = time.perf_counter()
    try:
        return fn(*args)
    except (Backpressure, FatalError):
        raise
    except Exception as exc:  # noqa: BLE001 - a store that fails is not a bad message
        raise FatalError(f"vector store {op} failed: {' '.join(str(exc).split())[:300]}") from exc
    finally:
        metrics.STORE_SECONDS.labels(op).observe(time.perf_counter() - t0)


_PENDING = datetime.min.replace(tzinfo=UTC)


def _replayed_at(st: Stored) -> datetime:
    try:
        return datetime.fromisoformat(st.embedded_at)
    except ValueError:
        return utcnow()


def apply_changes(items: Sequence[tuple[CatalogChange, Any]], index: Index) -> ApplyResult:
    res = ApplyResult()
    latest: dict[str, tuple[CatalogChange, Any]] = {}
    for change, ref in items:
        prev = latest.get(change.item_id)
        if prev is None or change.version >= prev[0].version:
            latest[change.item_id] = (change, ref)
    res.stale = len(items) - len(latest)

    store = index.store
    states = _store("read", store.states, list(latest))
    pending = _PENDING  # embedded_at of what this batch applies: set once the vectors exist
    render = index.template.render
    template = index.template
    to_embed: list[tuple[str, str, CatalogChange, str, str]] = []
    changed_fields: list[tuple[str, dict]] = []
    version_only: dict[int, list[str]] = defaultdict(list)
    tombstones: list[tuple[str, dict]] = []
    applied = res.applied
    for item_id, (change, ref) in latest.items():
        st = states.get(item_id)
        if st is not None and change.version <= st.version:
            if change.version < st.version:
                res.stale += 1
                continue
            res.replayed += 1
            skipped = not st.deleted and st.embedded_version != st.version
            applied.append(Applied(change, ref, st.content_hash, skipped, _replayed_at(st), replay=True))
            continue
        if change.op == "delete":
            tombstones.append((item_id, {"item_id": item_id, "version": change.version, "deleted": True}))
            applied.append(Applied(change, ref, "", False, pending))
            continue
        live = st is not None and not st.deleted
        fh = fields_hash(change.item, template)
        if live and st.fields_hash == fh:  # nothing but the version changed: not even the text is rendered
            version_only[change.version].append(item_id)
            applied.append(Applied(change, ref, st.content_hash, True, pending))
            continue
        text = render(change.item)
        if not text:
            res.failed.append((ref, EmptyText(f"the text template renders no text for item {item_id!r}")))
            continue
        h = content_hash(text)
        if live and st.content_hash == h:
            changed_fields.append((item_id, {**_item_payload(change), "fields_hash": fh}))
            applied.append(Applied(change, ref, h, True, pending))
        else:
            to_embed.append((item_id, text, change, h, fh))
            applied.append(Applied(change, ref, h, False, pending))

    if to_embed:
        unique: dict[str, int] = {}
        for _, text, _, _, _ in to_embed:
            unique.setdefault(text, len(unique))
        vectors = index.encoder.encode(list(unique)).tolist()
    # After the model, before the writes: freshness counts the model's time.
    now = utcnow()
    now_iso = now.isoformat()
    for a in applied:
        if a.embedded_at is pending:
            a.embedded_at = now
    model = index.info.model
    if to_embed:
        points = []
        for item_id, text, change, h, fh in to_embed:
            payload = _item_payload(change)
            payload.update(
                content_hash=h, fields_hash=fh, model=model, embedded_at=now_iso, embedded_version=change.version
            )
            points.append((item_id, vectors[unique[text]], payload))
        _store("upsert", store.upsert, points)
    for item_id, payload in changed_fields:
        payload["embedded_at"] = now_iso
        _store("set_payload", store.set_payload, [item_id], payload)
    for version, ids in version_only.items():
        _store("set_payload", store.set_payload, ids, {"version": version, "embedded_at": now_iso})
    if tombstones:
        for _, payload in tombstones:
            payload["embedded_at"] = now_iso
        _store("delete", store.tombstone, tombstones)

    res.embedded = len(to_embed)
    res.skipped = len(changed_fields) + sum(len(v) for v in version_only.values())
    res.deleted = len(tombstones)
    for outcome, n in (
        ("embedded", res.embedded),
        ("skipped", res.skipped),
        ("deleted", res.deleted),
        ("stale", res.stale),
        ("replayed", res.replayed),
        ("failed", len(res.failed)),
    ):
        if n:
            metrics.ITEMS.labels(outcome).inc(n)
    return res


def _item_payload(change: CatalogChange) -> dict:
    payload = change.item.model_dump(mode="json")
    payload["version"] = change.version
    return payload


_EVENT_FIELDS = frozenset(CatalogEmbedded.model_fields)
_EVENT_KEYS = frozenset(
    ("event_id", "schema_version", "occurred_at", "trace_id", "op", "item_id", "version", "model", "collection")
    + ("content_hash", "skipped", "freshness_ms", "embedded_at")
)
_FAST_EVENTS = _EVENT_FIELDS == _EVENT_KEYS  # else a field was added to the schema: take pydantic's path


def embedded_event(a: Applied, info: CollectionInfo) -> CatalogEmbedded:
    """The event for an applied change, built without re-validation: every field is ours and typed.

    Building it is the largest per-item cost of the skip path (model_construct is ~4x slower
    than filling the instance directly). Its id is CatalogEmbedded's own (uuid5 of item,
    version, op, collection), so a replay re-emits the same event.
    """
    c = a.change
    values = {
        "event_id": fast_stable_id("catalog.embedded", c.item_id, c.version, c.op, info.name),
        "schema_version": CatalogEmbedded.SCHEMA_VERSION,
        "occurred_at": a.embedded_at,  # deterministic, so a re-emitted replay is the same event
        "trace_id": None,
        "op": c.op,
        "item_id": c.item_id,
        "version": c.version,
        "model": info.model,
        "collection": info.name,
        "content_hash": a.content_hash,
        "skipped": a.skipped,
        "freshness_ms": (a.embedded_at - c.occurred_at).total_seconds() * 1000.0,
        "embedded_at": a.embedded_at,
    }
    if not _FAST_EVENTS:
        return CatalogEmbedded.model_construct(**values)
    ev = CatalogEmbedded.__new__(CatalogEmbedded)
    object.__setattr__(ev, "__dict__", values)
    object.__setattr__(ev, "__pydantic_fields_set__", set(_EVENT_KEYS))
    object.__setattr__(ev, "__pydantic_extra__", None)
    object.__setattr__(ev, "__pydantic_private__", None)
    return ev
