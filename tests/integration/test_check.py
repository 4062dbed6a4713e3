"""`ladle check` end to end: the real broker, the embedder (in this process, with its API) on Qdrant
Edge and the real model, the sink as its own process on chDB. A clean pipeline reports clean
with exact counts; then each stage is broken on purpose and the check names exactly the items
that were broken, in the right category, through the services' APIs and through the stores."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from schemas import CatalogChange, EnrichmentResult, GuardedResult, GuardrailVerdict, LLMCall, PromptRef, stable_id
from shared.catalog_file import read_rows
from shared.encoder import Encoder
from shared.kafka import clients
from shared.kafka.broker import free_port
from shared.kafka.lag import group_lag
from shared.runtime import codec
from shared.runtime.loop import Runtime
from tests.conftest import REPO
from tests.integration.kafka_helpers import wait_for
from topics.registry import TOPICS, key_of
from workers.embedder import EmbedderSettings, create_worker
from workers.embedder.api import ApiServer
from workers.embedder.collections import EdgeCollections
from workers.embedder.store import point_id
from workers.enricher.tagging import item_text_for
from workers.sink.inputs import sink_topics

PROMPT = PromptRef(name="catalog-tagging", version=1, label="production")
VARS = ["taxonomy", "name", "description", "category", "cuisine", "tags"]


def enrichment_events(change: CatalogChange, model: str = "SmolLM2-135M-Instruct", route: str = "accepted"):
    """What the enricher and guardrails publish for one item: result, call, routing, verdict."""
    r = EnrichmentResult(item_id=change.item_id, item_version=change.version, task="tag", engine="llamacpp",
                         model=model, prompt=PROMPT, output={"cuisine": "italian"},
                         item_text=item_text_for(change, VARS))  # fmt: skip
    call = LLMCall(call_id=stable_id(r.event_id, 1), team="catalog", use_case="tag", model=model, provider="llamacpp")
    v = GuardrailVerdict(subject_id=r.event_id, policy="tag", policy_version="test-1", action="accept", use_case="tag")
    g = GuardedResult(result=r, verdict=v, route=route)
    return r, [("enrichment.results", r), ("llm.calls", call), (f"enrichment.{route}", g), ("guardrail.verdicts", v)]


def send(settings, events) -> None:
    """(logical topic, event) pairs, through one producer."""
    p = clients.producer(settings)
    for topic, e in events:
        clients.produce_waiting(p, settings.topic_prefix + topic, codec.encode(e), key_of(TOPICS[topic], e))
    assert p.flush(60) == 0


def ladle_check(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ladle.cli", "check", *args], env=env, capture_output=True,
                          text=True, timeout=180)  # fmt: skip


def stages(res) -> dict[str, dict]:
    assert res.stdout, res.stderr[-3000:]
    return {s["stage"]: s for s in json.loads(res.stdout)["stages"]}


def found(stage: dict) -> dict[str, list[str]]:
    return {c: sorted({f["id"] for f in fs}) for c, fs in stage["findings"].items()}


def caught_up(settings, group: str, topics: list[str]) -> bool:
    lag = group_lag(settings, group, topics)
    return lag is not None and lag.committed and lag.lag == 0


@pytest.mark.slow
def test_check_reports_clean_then_exactly_what_was_broken(settings, topics, env, tmp_path):
    sample = [r.change for r in read_rows(REPO / "deploy" / "catalog" / "sample_catalog.jsonl", version=1)][:23]
    gone = CatalogChange(op="delete", item_id="gone-1", version=1)
    results, events = {}, [("catalog.changes", c) for c in [*sample, gone]]
    for c in sample:
        results[c.item_id], produced = enrichment_events(c)
        events += produced
    send(settings, events)

    egroup, sgroup = f"{settings.topic_prefix}embedder", f"{settings.topic_prefix}sink"
    eport, sport = free_port(), free_port()
    sink_api = f"http://127.0.0.1:{sport}"
    e = dict(env, LADLE_EMBEDDER_API_PORT=str(eport), LADLE_EMBEDDER_GROUP_ID=egroup, LADLE_SINK_GROUP_ID=sgroup,
             LADLE_SINK_API_PORT=str(sport), LADLE_SINK_API_URL=sink_api, HF_HUB_OFFLINE="1")  # fmt: skip
    log = tmp_path / "sink.log"
    sink = subprocess.Popen([sys.executable, "-m", "ladle.cli", "worker", "sink"], env=e,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
    es = EmbedderSettings(group_id=egroup, api_port=eport, max_batch_wait_s=0.1, commit_interval_s=0.5)
    worker = create_worker(es, settings, encoder=Encoder.load("all-MiniLM-L6-v2"))
    worker.api = ApiServer(worker, settings, es).start()
    runtime = Runtime(worker, settings, es)
    thread = threading.Thread(target=runtime.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: caught_up(settings, egroup, ["catalog.changes"]), 120, 0.5)
        assert wait_for(lambda: caught_up(settings, sgroup, sink_topics()), 120, 0.5), log.read_text()[-3000:]

        # 1. Everything landed: clean, through the embedder's and the sink's APIs.
        res = ladle_check(e, "--json")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        got = stages(res)
        assert {k: (s["checked"], s["ok"]) for k, s in got.items()} == {
            "index": (24, 24), "enrichment": (23, 23), "guardrails": (23, 23),
            "clickhouse": (24 + 4 * 23, 24 + 4 * 23),  # catalog.embedded + result, call, routing, verdict per item
        }  # fmt: skip
        assert got["index"]["source"].startswith(f"embedder API http://127.0.0.1:{eport}")
        assert got["clickhouse"]["source"] == f"sink API {sink_api}"
        assert json.loads(res.stdout)["clean"]

        # 2. Break the index and the enrichment outputs while the sink keeps landing.
        runtime.stop()
        thread.join(60)
        dup, replayed, changed, repriced, rerouted, lost = (c.item_id for c in sample[1:7])
        by_id = {c.item_id: c for c in sample}
        _, events = enrichment_events(by_id[dup], model="another-model")  # a second, different enrichment
        events.append(("enrichment.results", results[replayed]))  # an exact replay: the same event_id
        newer = by_id[changed].model_copy(update={"version": 2, "item": by_id[changed].item.model_copy(
            update={"name": "Renamed dish"})})  # fmt: skip
        pricier = by_id[repriced].model_copy(update={"version": 2, "item": by_id[repriced].item.model_copy(
            update={"price": 99})})  # the prompt does not show the price: its result stays current  # fmt: skip
        events += [("catalog.changes", newer), ("catalog.changes", pricier)]
        events += enrichment_events(by_id[rerouted], route="review")[1][2:3]  # the same routing id, a second route
        send(settings, events)
        cols = EdgeCollections(settings.data_dir / "embedder")
        store = cols.open(cols.current())
        store.shard.update(store._q.UpdateOperation.delete_points([point_id(lost)]))
        store.close()
        assert wait_for(lambda: caught_up(settings, sgroup, sink_topics()), 120, 0.5)

        res = ladle_check(e, "--json")
        assert res.returncode == 1, res.stderr[-3000:]
        got = stages(res)
        assert found(got["index"]) == {"missing": [lost], "stale": sorted([changed, repriced])}
        assert found(got["enrichment"]) == {"duplicated": [dup], "stale": [changed]}
        assert found(got["guardrails"]) == {"duplicated": [rerouted]}
        assert found(got["clickhouse"]) == {}
        assert got["clickhouse"]["checked"] == 24 + 4 * 23 + 4  # the second enrichment's four events
        assert "opened directly" in got["index"]["source"], "no embedder runs: the index was opened"
    finally:
        runtime.stop()
        thread.join(60)
        sink.send_signal(signal.SIGTERM)
        assert sink.wait(60) == 0, log.read_text()[-3000:]

    # 3. Break ClickHouse with the sink stopped: one row gone, one landed twice; chDB is opened directly.
    gone_row, twice_row = sample[8].item_id, sample[9].item_id
    guarded_id = stable_id("guarded", results[twice_row].event_id, "test-1")
    script = textwrap.dedent(f"""
        from workers.sink.settings import sink_settings
        from workers.sink.store import ClickHouseStore
        s = ClickHouseStore.open(sink_settings())
        s.command("DELETE FROM enrichment_results WHERE event_id = '{results[gone_row].event_id}'")
        s.command("INSERT INTO guarded_results SELECT * REPLACE ('review' AS route) FROM guarded_results "
                  "WHERE event_id = '{guarded_id}'")
        s.close()
    """)
    subprocess.run([sys.executable, "-c", script], env=e, check=True, capture_output=True, timeout=120)
    res = ladle_check(e, "--json", "--stages", "clickhouse")
    assert res.returncode == 1, res.stderr[-3000:]
    got = stages(res)
    assert list(got) == ["clickhouse"] and "opened directly" in got["clickhouse"]["source"]
    assert found(got["clickhouse"]) == {"missing": [gone_row], "duplicated": [twice_row]}
    [detail] = [f["detail"] for f in got["clickhouse"]["findings"]["duplicated"]]
    assert detail == f"guarded_results: event {guarded_id} has 2 rows"


def test_an_unreachable_part_is_one_line_and_exit_2(settings, topics, env):
    def error(res) -> str:
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
        assert not res.stdout
        return res.stderr.strip().splitlines()[-1]

    e = dict(env, LADLE_EMBEDDER_API_PORT=str(free_port()), LADLE_SINK_API_URL=f"http://127.0.0.1:{free_port()}")
    line = error(ladle_check(e, "--stages", "index"))
    assert line.startswith("error: there is no index at ") and "leave out --stages index" in line
    line = error(ladle_check(e, "--stages", "clickhouse"))
    assert line.startswith("error: there is no ClickHouse data at ") and "no sink answers" in line
    line = error(ladle_check(dict(e, LADLE_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}"), "--json"))
    assert line.startswith("error: Kafka is not reachable at ")
