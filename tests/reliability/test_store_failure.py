"""A store that refuses writes: its data folder made read-only under a running worker.

The sink (chDB) treats a disk that refuses writes as backpressure: it pauses, commits
nothing, stays up, and lands every event exactly once when the folder is writable
again. The embedder (Qdrant Edge) treats a failed flush as fatal by design: it exits
non-zero with nothing committed, and the restarted process indexes every item once.
"""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from schemas import CatalogEmbedded
from shared.kafka.broker import free_port
from tests.fixtures.accounts import ANALYST_AUTH
from tests.integration.kafka_helpers import produce_changes, read_all, wait_for
from tests.integration.test_sink_kafka import calls, produce_events
from tests.reliability.faults import LadleProcess, can_make_folders_read_only, lag, mode_respecting_preexec, read_only

pytestmark = [pytest.mark.slow, pytest.mark.reliability]


@pytest.fixture
def read_only_works(tmp_path):
    why = can_make_folders_read_only(tmp_path)
    if why:
        pytest.skip(why)


def sql(api: str, query: str) -> list[list]:
    resp = httpx.post(f"{api}/query", json={"sql": query}, timeout=30, auth=ANALYST_AUTH)
    resp.raise_for_status()
    return resp.json()["rows"]


def answers(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def paused_partitions(metrics_port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
    line = next(ln for ln in text.splitlines() if ln.startswith('ladle_paused_partitions{worker="sink"}'))
    return float(line.split()[-1])


def test_a_read_only_chdb_folder_is_backpressure_then_every_event_lands_once(settings, topics, env, read_only_works):
    port, metrics_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}"
    group = f"{settings.topic_prefix}sink-{uuid.uuid4().hex[:6]}"
    e = dict(env, LADLE_SINK_GROUP_ID=group, LADLE_SINK_API_PORT=str(port), LADLE_SINK_API_URL=api,
             LADLE_SINK_METRICS_PORT=str(metrics_port), LADLE_SINK_MAX_BATCH_WAIT_S="0.1",
             LADLE_SINK_COMMIT_INTERVAL_S="0.5")  # fmt: skip
    sink = LadleProcess(
        e, settings.data_dir.parent / "sink.log", "worker", "sink", preexec_fn=mode_respecting_preexec()
    )
    try:
        # A healthy start: the store is migrated and takes rows.
        warm = calls(20, "warm")
        produce_events(settings, warm)
        assert wait_for(lambda: answers(api) and sql(api, "SELECT count() FROM llm_calls") == [[20]], 120), sink.tail()
        assert wait_for(lambda: lag(settings, group, "llm.calls") == 0, 30)

        failing = calls(300, "ro")
        with read_only(settings.data_dir / "clickhouse"):
            produce_events(settings, failing)
            assert wait_for(lambda: sink.output().count("cannot write to its disk") >= 3, 90), sink.tail()
            paused = []
            for _ in range(8):  # while it fails: alive, paused, nothing committed, nothing landed
                assert sink.alive(), sink.tail()
                assert lag(settings, group, "llm.calls") == 300
                assert sql(api, "SELECT count() FROM llm_calls") == [[20]]
                paused.append(paused_partitions(metrics_port))
                time.sleep(0.5)
            assert max(paused) > 0

        assert wait_for(lambda: lag(settings, group, "llm.calls") == 0, 90), sink.tail()
        assert wait_for(lambda: sql(api, "SELECT count() FROM llm_calls") == [[320]], 30), sink.tail()
        # physical rows, no FINAL: a double insert would show here
        assert sql(api, "SELECT count(), uniqExact(event_id) FROM llm_calls") == [[320, 320]]
        landed = {r[0] for r in sql(api, "SELECT event_id FROM llm_calls")}
        assert landed == {c.event_id for _, c in warm + failing}
        # a store failure is nobody's bad message: nothing was dead-lettered
        assert sql(api, "SELECT count() FROM dead_letters") == [[0]]
        assert read_all(settings, "llm.calls.dlq") == []
        assert sink.alive(), sink.tail()
        assert "Traceback" not in sink.output()
    finally:
        code = sink.stop()
    assert code == 0, sink.tail()


def test_a_read_only_edge_folder_crashes_the_embedder_uncommitted_and_a_restart_loses_nothing(
    settings, topics, env, read_only_works
):
    from tests.integration.test_embedder import reopen, sample
    from workers.embedder.collections import EdgeCollections

    group = f"{settings.topic_prefix}embedder-{uuid.uuid4().hex[:6]}"
    e = dict(env, LADLE_EMBEDDER_GROUP_ID=group, LADLE_EMBEDDER_API_PORT="0", LADLE_EMBEDDER_COMMIT_INTERVAL_S="1",
             LADLE_EMBEDDER_MAX_BATCH_WAIT_S="0.1", LADLE_EMBEDDER_SESSION_TIMEOUT_MS="6000", HF_HUB_OFFLINE="1")  # fmt: skip
    changes = sample()[:90]
    warm, failing = changes[:30], changes[30:]
    log = settings.data_dir.parent / "embedder.log"

    embedder = LadleProcess(e, log, "worker", "embedder", preexec_fn=mode_respecting_preexec())
    try:
        produce_changes(settings, "catalog.changes", warm)
        # Generous: importing torch and loading the model can take a minute on a busy 2-core machine.
        assert wait_for(lambda: lag(settings, group, "catalog.changes") == 0, 240), embedder.tail()
        with read_only(settings.data_dir / "embedder"):
            produce_changes(settings, "catalog.changes", failing)
            assert wait_for(lambda: not embedder.alive(), 90), embedder.tail()
            assert embedder.proc.returncode != 0, embedder.tail()
            assert "vector store flush failed" in embedder.output() and "Permission denied" in embedder.output()
            # crashed with nothing of the failed batch committed: all of it is replayed
            assert lag(settings, group, "catalog.changes") == len(failing)
    finally:
        embedder.kill()

    embedder = LadleProcess(e, log, "worker", "embedder")
    try:
        assert wait_for(lambda: lag(settings, group, "catalog.changes") == 0, 240), embedder.tail()
        assert embedder.alive(), embedder.tail()
    finally:
        code = embedder.stop()
    assert code == 0, embedder.tail()

    store = reopen(EdgeCollections(settings.data_dir / "embedder"))
    try:
        assert store.count() == len(changes)
        assert {k: v.version for k, v in store.states([c.item_id for c in changes]).items()} == {
            c.item_id: 1 for c in changes
        }
    finally:
        store.close()
    announced = [CatalogEmbedded.model_validate_json(m.value()) for m in read_all(settings, "catalog.embedded")]
    ids: dict[str, set[str]] = {}
    for ev in announced:
        ids.setdefault(ev.item_id, set()).add(ev.event_id)
    # every item announced; a replayed announcement carries the same event id
    assert set(ids) == {c.item_id for c in changes}
    assert all(len(v) == 1 for v in ids.values())
