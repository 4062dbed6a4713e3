"""The version guard, the hash skip and the events, on a real Qdrant Edge store and a fake model."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from schemas import CatalogChange, CatalogItem
from workers.embedder.apply import Index, apply_changes, embedded_event
from workers.embedder.collections import EdgeCollections, new_info
from workers.embedder.settings import DEFAULT_TEMPLATE
from workers.embedder.text import EmptyText, TextTemplate

DIM = 16


class FakeEncoder:
    """Deterministic vectors from the text's hash; counts calls like the real one."""

    name = "fake-model"
    dim = DIM
    batch_size = 4

    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls = 0
        self.texts = 0
        self.delay_s = delay_s

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.delay_s:
            time.sleep(self.delay_s)
        self.calls += 1
        self.texts += len(texts)
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little")
            v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)

    def encode_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def upsert(item_id: str, version: int, name: str = "Dish", **kw) -> CatalogChange:
    item = dict(item_id=item_id, store_id="s1", name=name, price=10.0)
    item.update(kw)
    return CatalogChange(op="upsert", item_id=item_id, version=version, item=CatalogItem(**item))


def delete(item_id: str, version: int) -> CatalogChange:
    return CatalogChange(op="delete", item_id=item_id, version=version)


@pytest.fixture
def index(tmp_path):
    cols = EdgeCollections(tmp_path / "embedder")
    info = new_info("catalog", FakeEncoder.name, DIM)
    store = cols.create(info)
    yield Index(info, store, FakeEncoder(), TextTemplate(DEFAULT_TEMPLATE))
    store.close()


def apply(index, *changes):
    return apply_changes([(c, c.item_id) for c in changes], index)


def test_new_items_are_embedded_in_one_batch_and_identical_texts_once(index):
    res = apply(index, upsert("a", 1, "Pad Thai"), upsert("b", 1, "Pad Thai"), upsert("c", 1, "Ramen"))
    assert (res.embedded, res.skipped, index.encoder.calls, index.encoder.texts) == (3, 0, 1, 2)
    assert index.store.count() == 3
    assert index.store.get("a").vector == pytest.approx(index.store.get("b").vector)


def test_only_the_latest_version_in_a_batch_counts(index):
    res = apply(index, upsert("a", 3, "Third"), upsert("a", 1, "First"), upsert("a", 2, "Second"))
    assert res.embedded == 1 and res.stale == 2
    assert index.store.get("a").payload["name"] == "Third"
    assert [a.change.version for a in res.applied] == [3]


def test_an_older_version_after_a_newer_one_is_ignored(index):
    apply(index, upsert("a", 5, "Five"))
    res = apply(index, upsert("a", 4, "Four"), delete("a", 3))
    assert res.stale == 2 and res.applied == []  # one superseded in the batch, one by the index
    got = index.store.get("a")
    assert got.payload["name"] == "Five" and got.payload["version"] == 5


def test_an_unchanged_text_makes_no_model_call_but_updates_the_payload(index):
    apply(index, upsert("a", 1, "Soup", price=5.0))
    calls = index.encoder.calls
    res = apply(index, upsert("a", 2, "Soup", price=6.5))  # price is not in the text
    assert index.encoder.calls == calls and res.skipped == 1 and res.applied[0].skipped
    got = index.store.get("a")
    assert got.payload["price"] == 6.5 and got.payload["version"] == 2 and got.payload["embedded_version"] == 1
    res = apply(index, upsert("a", 3, "Soup", price=6.5))  # nothing but the version changed
    assert index.encoder.calls == calls and res.skipped == 1
    assert index.store.get("a").payload["version"] == 3
    res = apply(index, upsert("a", 4, "Hot Soup", price=6.5))
    assert index.encoder.calls == calls + 1 and res.embedded == 1


def test_a_delete_leaves_a_tombstone_that_refuses_older_upserts(index):
    apply(index, upsert("a", 1, "Soup"), upsert("b", 1, "Salad"))
    res = apply(index, delete("a", 2))
    assert res.deleted == 1 and index.store.count() == 1
    assert [h.item_id for h in index.store.search(index.encoder.encode_query("Soup"), 5)] == ["b"]
    assert apply(index, upsert("a", 1, "Soup")).stale == 1
    assert index.store.count() == 1
    res = apply(index, upsert("a", 3, "Soup"))  # newer than the delete: back, and embedded anew
    assert res.embedded == 1 and index.store.count() == 2
    assert apply(index, delete("never-seen", 1)).deleted == 1  # a tombstone even for an unknown item


def test_a_replay_of_the_same_version_writes_nothing_and_re_emits_the_same_event(index):
    c = upsert("a", 1, "Soup")
    first = apply(index, c)
    ev1 = embedded_event(first.applied[0], index.info)
    calls = index.encoder.calls
    again = apply(index, c)
    assert again.replayed == 1 and index.encoder.calls == calls
    ev2 = embedded_event(again.applied[0], index.info)
    assert again.applied[0].replay
    assert ev1.model_dump() == ev2.model_dump()


def test_empty_text_is_a_per_record_failure(index):
    index.template = TextTemplate("{description}")
    res = apply(index, upsert("a", 1, "Soup", description=""), upsert("b", 1, "Salad", description="green"))
    assert [(ref, type(e)) for ref, e in res.failed] == [("a", EmptyText)]
    assert res.embedded == 1 and index.store.count() == 1


def test_events_carry_freshness_model_and_collection(index):
    c = upsert("a", 1, "Soup")
    c.occurred_at = datetime.now(UTC) - timedelta(seconds=2)
    ev = embedded_event(apply(index, c).applied[0], index.info)
    assert 2000 <= ev.freshness_ms < 10_000
    assert ev.model == "fake-model" and ev.collection == index.info.name and not ev.skipped
    assert ev.content_hash and ev.event_id == embedded_event(apply(index, c).applied[0], index.info).event_id


def test_the_event_is_a_valid_catalog_embedded_with_its_own_id(index):
    from schemas import CatalogEmbedded

    ev = embedded_event(apply(index, upsert("a", 7, "Soup")).applied[0], index.info)
    again = CatalogEmbedded.model_validate_json(ev.__pydantic_serializer__.to_json(ev))
    assert again == ev
    assert ev.event_id == CatalogEmbedded(**{k: v for k, v in ev.model_dump().items() if k != "event_id"}).event_id


def test_freshness_counts_the_time_the_model_took(index):
    index.encoder = FakeEncoder(delay_s=0.3)
    c = upsert("a", 1, "Soup")
    c.occurred_at = datetime.now(UTC)
    ev = embedded_event(apply(index, c).applied[0], index.info)
    assert ev.freshness_ms >= 300
