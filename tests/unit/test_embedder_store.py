"""One suite, both vector-store backends: Qdrant Edge in-process and qdrant-client (its local mode,
which speaks the server's API). Nothing to start: both run in this process."""

from __future__ import annotations

import math

import pytest

from workers.embedder.collections import EdgeCollections, ServerCollections, new_info
from workers.embedder.store import SearchFilter, point_id

DIM = 8


def vec(*hot: int) -> list[float]:
    v = [0.0] * DIM
    for h in hot:
        v[h] = 1.0
    n = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / n for x in v]


def payload(item_id: str, version: int, **kw) -> dict:
    p = dict(
        item_id=item_id,
        version=version,
        content_hash=f"h{version}",
        fields_hash="f",
        store_id="s1",
        category="pizza",
        price=10.0,
        name=item_id,
        embedded_at="2026-01-01T00:00:00+00:00",
        embedded_version=version,
    )
    p.update(kw)
    return p


@pytest.fixture(params=["edge", "server"])
def collections(request, tmp_path):
    if request.param == "edge":
        return EdgeCollections(tmp_path / "embedder")
    from qdrant_client import QdrantClient

    return ServerCollections(QdrantClient(":memory:"), "catalog")


@pytest.fixture
def store(collections):
    info = new_info("catalog", "fake-model", DIM)
    s = collections.create(info)
    collections.switch(info)
    yield s
    s.close()


def test_point_ids_are_uuid5_of_the_item_id():
    assert point_id("a") == point_id("a") != point_id("b")
    assert len(point_id("a")) == 36


def test_upsert_then_states_search_get_count(store):
    store.upsert([("a", vec(0), payload("a", 1)), ("b", vec(1), payload("b", 2, store_id="s2", price=20.0))])
    st = store.states(["a", "b", "missing"])
    assert set(st) == {"a", "b"}
    assert st["a"].version == 1 and st["a"].content_hash == "h1" and not st["a"].deleted
    hits = store.search(vec(0), 2)
    assert [h.item_id for h in hits] == ["a", "b"] and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert store.count() == 2
    got = store.get("b")
    assert got.payload["price"] == 20.0 and got.vector == pytest.approx(vec(1), abs=1e-6)
    assert store.get("missing") is None


def test_filters_on_store_category_and_price(store):
    store.upsert(
        [
            ("a", vec(0), payload("a", 1, store_id="s1", category="pizza", price=9.0)),
            ("b", vec(0, 1), payload("b", 1, store_id="s2", category="pizza", price=15.0)),
            ("c", vec(0, 2), payload("c", 1, store_id="s1", category="pasta", price=12.0)),
        ]
    )
    ids = lambda flt: sorted(h.item_id for h in store.search(vec(0), 10, flt))  # noqa: E731
    assert ids(SearchFilter(store_id="s1")) == ["a", "c"]
    assert ids(SearchFilter(category="pizza")) == ["a", "b"]
    assert ids(SearchFilter(max_price=12.0)) == ["a", "c"]
    assert ids(SearchFilter(store_id="s1", category="pizza", max_price=10)) == ["a"]


def test_set_payload_merges_and_keeps_the_vector(store):
    store.upsert([("a", vec(3), payload("a", 1))])
    store.set_payload(["a"], {"version": 7, "price": 1.5})
    got = store.get("a")
    assert got.payload["version"] == 7 and got.payload["price"] == 1.5 and got.payload["content_hash"] == "h1"
    assert got.vector == pytest.approx(vec(3), abs=1e-6)


def test_a_tombstone_hides_the_item_but_keeps_its_version(store):
    store.upsert([("a", vec(0), payload("a", 1)), ("b", vec(1), payload("b", 1))])
    store.tombstone([("a", {"item_id": "a", "version": 2, "deleted": True})])
    assert store.count() == 1
    assert [h.item_id for h in store.search(vec(0), 10)] == ["b"]
    st = store.states(["a"])["a"]
    assert st.deleted and st.version == 2
    assert store.get("a").vector is None
    store.upsert([("a", vec(0), payload("a", 3))])  # a newer upsert brings it back whole
    assert store.count() == 2 and not store.states(["a"])["a"].deleted


def test_the_pointer_names_the_current_collection_and_switches_atomically(collections, store):
    assert collections.current().name == store.collection
    info2 = new_info("catalog", "other-model", DIM, "20260101T000000")
    s2 = collections.create(info2)
    s2.upsert([("z", vec(5), payload("z", 1))])
    s2.flush()
    collections.switch(info2)
    assert collections.current() == info2
    reader = collections.open_reader(info2) if collections.kind == "server" else s2
    assert [h.item_id for h in reader.search(vec(5), 1)] == ["z"]
    assert info2.name in collections.names()
    store.close()
    collections.drop(store.collection)
    assert store.collection not in collections.names()


def test_edge_data_survives_a_reopen(tmp_path):
    cols = EdgeCollections(tmp_path / "embedder")
    info = new_info("catalog", "fake-model", DIM)
    s = cols.create(info)
    cols.switch(info)
    s.upsert([("a", vec(0), payload("a", 4))])
    s.close()
    s = cols.open(cols.current())
    try:
        assert s.states(["a"])["a"].version == 4 and s.count() == 1
    finally:
        s.close()


@pytest.mark.parametrize("parts", [("a",), ("item-0001",), ("catalog.embedded", "x", 3, "upsert", "c"), ("ü ñ",)])
def test_the_fast_uuid5_equals_the_schemas_stable_id(parts):
    from schemas.base import stable_id
    from workers.embedder.store import fast_stable_id

    assert fast_stable_id(*parts) == stable_id(*parts)


def test_edge_keeps_the_guard_state_in_step_with_the_shard(tmp_path):
    from workers.embedder.store import EdgeStore

    cols = EdgeCollections(tmp_path / "embedder")
    info = new_info("catalog", "fake-model", DIM)
    s = cols.create(info)
    s.upsert([("a", vec(0), payload("a", 1)), ("b", vec(1), payload("b", 1))])
    s.set_payload(["a"], {"version": 2, "fields_hash": "g"})
    s.tombstone([("b", {"item_id": "b", "version": 3, "deleted": True})])
    expected = s.states(["a", "b", "c"])
    assert expected["a"].version == 2 and expected["a"].fields_hash == "g" and expected["b"].deleted
    s.close()
    # Reopened: loaded from the shard, the same states; and without the copy (limit 0), read per batch.
    for limit in (500_000, 0):
        q = EdgeStore(__import__("qdrant_edge").EdgeShard.load(str(s.path)), s.path, info.name, DIM, limit)
        q._load_states()
        try:
            assert q.states(["a", "b", "c"]) == expected
            assert q._complete is (limit > 0)
        finally:
            q.close()


def test_edge_drops_its_state_copy_above_the_limit(tmp_path):
    from workers.embedder.store import EdgeStore

    cols = EdgeCollections(tmp_path / "embedder")
    info = new_info("catalog", "fake-model", DIM)
    s = cols.create(info)
    s.close()
    q = EdgeStore(__import__("qdrant_edge").EdgeShard.load(str(s.path)), s.path, info.name, DIM, 2)
    q._complete = True
    try:
        q.upsert([(k, vec(0), payload(k, 1)) for k in ("a", "b", "c")])
        assert not q._complete and not q._cache
        assert set(q.states(["a", "b", "c", "d"])) == {"a", "b", "c"}
    finally:
        q.close()
