"""The sink end to end: Kafka -> runtime -> ClickHouseSink -> chDB, replays, the DLQ,
SIGKILL and restart, and the read-only query API and CLI."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from schemas import LLMCall, Usage
from shared.kafka.broker import free_port
from shared.pricing import Pricing
from shared.runtime import codec
from shared.runtime.loop import Runtime
from tests.fixtures.accounts import ANALYST_AUTH
from tests.fixtures.sink_events import sample_events
from tests.integration.kafka_helpers import committed_lag, produce
from tests.integration.test_sink_store import RAW_COUNTS, SAMPLE_AGGREGATES, aggregates, raw_counts
from topics.registry import TOPICS, key_of
from workers.sink.service import SinkWorkerSettings
from workers.sink.worker import ClickHouseSink


def produce_events(settings, events) -> int:
    by_topic: dict[str, list] = {}
    for topic, event in events:
        by_topic.setdefault(topic, []).append((key_of(TOPICS[topic], event), codec.encode(event)))
    for topic, msgs in by_topic.items():
        produce(settings, topic, msgs)
    return sum(len(m) for m in by_topic.values())


def run_sink(settings, store, group: str, expected: int) -> None:
    ws = SinkWorkerSettings(group_id=group, api_port=0, max_batch_wait_s=0.1)
    Runtime(ClickHouseSink(store, Pricing.load()), settings, ws).run(max_messages=expected, idle_exit_s=15)


def test_every_topic_lands_once_and_a_replay_counts_nothing_twice(settings, topics, store):
    events = sample_events()
    n = produce_events(settings, events)
    run_sink(settings, store, f"{settings.topic_prefix}sink", n)
    assert raw_counts(store) == RAW_COUNTS
    assert aggregates(store) == SAMPLE_AGGREGATES

    # The same events again (a producer retry, a replayed topic), read by a fresh group from the start.
    produce_events(settings, events)
    run_sink(settings, store, f"{settings.topic_prefix}sink-replay", 2 * n)
    assert raw_counts(store) == RAW_COUNTS
    assert aggregates(store) == SAMPLE_AGGREGATES


def test_a_schema_invalid_event_is_dead_lettered_and_the_dead_letter_lands(settings, topics, store):
    good = LLMCall(call_id="ok-1", model="gpt-4o-mini", provider="openai", usage=Usage(input_tokens=10))
    produce(settings, "llm.calls", [("ok-1", codec.encode(good)), ("bad-1", b'{"call_id": "bad-1", "latency_ms": -5}')])
    run_sink(settings, store, f"{settings.topic_prefix}sink", 3)  # 2 inputs + the dead letter it made

    assert store.scalar("SELECT count() FROM llm_calls") == 1
    rows = store.query("SELECT original_topic, original_key, error_class, worker FROM dead_letters")[1]
    assert rows == [("llm.calls", "bad-1", "SchemaInvalid", "sink")]
    assert store.scalar("SELECT sum(letters) FROM dead_letters_daily") == 1


def calls(n: int, run: str) -> list[tuple[str, LLMCall]]:
    return [
        ("llm.calls", LLMCall(call_id=f"{run}-{i}", team=f"team{i % 3}", model="gpt-4o-mini", provider="openai",
                              usage=Usage(input_tokens=100, output_tokens=10), latency_ms=50))
        for i in range(n)
    ]  # fmt: skip


def ladle(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "ladle.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def wait_for(pred, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


@pytest.mark.slow
def test_sigkill_mid_stream_loses_nothing_counts_nothing_twice_and_sql_stays_read_only(settings, topics, env, tmp_path):
    port = free_port()
    group = f"{settings.topic_prefix}sink-{uuid.uuid4().hex[:6]}"
    e = dict(env, LADLE_SINK_GROUP_ID=group, LADLE_SINK_API_PORT=str(port), LADLE_SINK_MAX_BATCH_SIZE="500",
             LADLE_SINK_COMMIT_EVERY="2000", LADLE_SINK_API_URL=f"http://127.0.0.1:{port}")  # fmt: skip
    api = f"http://127.0.0.1:{port}"

    def count() -> int:
        body = httpx.get(
            f"{api}/query", params={"sql": "SELECT count() FROM llm_calls"}, timeout=10, auth=ANALYST_AUTH
        ).json()
        return body["rows"][0][0]

    produce_events(settings, calls(30_000, "a"))
    proc = subprocess.Popen([sys.executable, "-m", "ladle.cli", "worker", "sink"], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    assert wait_for(lambda: count() >= 2000), "the sink landed something"
    proc.kill()  # SIGKILL: whatever was inserted but not committed is replayed
    proc.wait(10)

    proc = subprocess.Popen([sys.executable, "-m", "ladle.cli", "worker", "sink"], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert wait_for(lambda: committed_lag(settings, group, "llm.calls") == 0 and count() == 30_000, timeout=180)
        # physical rows, no FINAL: a double insert would show here
        assert count() == 30_000
        cost = httpx.post(
            f"{api}/query", json={"sql": "SELECT sum(calls), sum(input_tokens) FROM cost_daily"}, auth=ANALYST_AUTH
        ).json()
        assert cost["rows"] == [[30_000, 3_000_000]]

        # writes are refused by ClickHouse's readonly mode, through the API and the CLI
        for sql in (
            "INSERT INTO llm_calls (event_id) VALUES ('x')",
            "DROP TABLE llm_calls",
            "ALTER TABLE llm_calls DELETE WHERE 1",
        ):
            r = httpx.post(f"{api}/query", json={"sql": sql}, auth=ANALYST_AUTH)
            assert r.status_code == 400 and "read-only" in r.json()["detail"]
            res = ladle(e, "query", sql)
            assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "read-only" in res.stderr
        res = ladle(
            e,
            "query",
            "SELECT team, sum(calls) AS calls FROM cost_daily GROUP BY team ORDER BY team",
            "--format",
            "csv",
        )
        assert res.returncode == 0 and res.stdout.splitlines() == [
            "team,calls",
            "team0,10000",
            "team1,10000",
            "team2,10000",
        ]
        html = tmp_path / "cost.html"
        res = ladle(e, "report", "cost", "--since", "7d", "--by", "team,model", "--html", str(html))
        assert res.returncode == 0 and "team0" in res.stdout
        assert "<svg" in html.read_text() and "cost_usd" in html.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stdout.read().decode()[-3000:]

    # With the sink stopped, the CLI opens the store itself.
    res = ladle(e, "query", "SELECT count() FROM llm_calls", "--format", "json")
    assert res.returncode == 0 and '"count()": 30000' in res.stdout
    res = ladle(e, "query", "DROP TABLE llm_calls")
    assert res.returncode == 2 and "read-only" in res.stderr


def test_every_grafana_panel_query_runs_on_the_real_schema(store):
    import json

    from shared.settings import REPO_ROOT
    from tests.integration.test_sink_store import land, records
    from workers.sink.readonly import run_readonly

    land(ClickHouseSink(store, Pricing.load()), records())
    dash = json.loads((REPO_ROOT / "deploy/grafana/dashboards/ladle.json").read_text())
    for panel in dash["panels"]:
        sql = panel["targets"][0]["rawSql"].replace("$__fromTime", "(now() - INTERVAL 30 DAY)")
        rows = run_readonly(store, sql)
        assert rows.rows, f"panel {panel['title']!r} shows nothing on the sample"
