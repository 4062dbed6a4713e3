"""The worker runtime against the real broker: exactly one output per input,
poison messages to the DLQ, backpressure, SIGTERM drain, SIGKILL and restart."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from schemas import DeadLetter
from shared.kafka.broker import free_port
from shared.runtime.errors import Backpressure, FatalError
from shared.runtime.loop import Runtime
from shared.runtime.worker import BatchResult, Output
from tests.integration.kafka_helpers import (
    change,
    committed_lag,
    create_topic,
    produce,
    produce_changes,
    read_all,
    wait_for,
)
from workers.echo import EchoSettings, EchoWorker

OUT = "catalog.echo"


def echo(settings, topics, **kw):
    create_topic(topics, settings.topic_prefix + OUT, partitions=3)
    ws = EchoSettings(group_id=f"{settings.topic_prefix}echo", max_batch_size=1000, max_batch_wait_s=0.2, **kw)
    return EchoWorker(ws), ws


def test_10k_events_one_output_each_and_offsets_committed(settings, topics):
    worker, ws = echo(settings, topics)
    inputs = [change(i, trace_id=f"trace-{i}" if i % 2 else None) for i in range(10_000)]
    produce_changes(settings, "catalog.changes", inputs)

    stats = Runtime(worker, settings, ws).run(max_messages=10_000, idle_exit_s=20)

    assert stats.consumed == 10_000 and stats.produced == 10_000 and stats.dead_lettered == 0
    outs = read_all(settings, OUT, expected=10_000)
    ids = [json.loads(m.value())["event_id"] for m in outs]
    assert len(ids) == 10_000
    assert set(ids) == {c.event_id for c in inputs}
    # keys preserved, trace ids copied (or started from the input's event id)
    by_id = {c.event_id: c for c in inputs}
    for m in outs[:500]:
        v = json.loads(m.value())
        src = by_id[v["event_id"]]
        assert m.key().decode() == src.item_id
        assert v["trace_id"] == (src.trace_id or src.event_id)
    assert committed_lag(settings, ws.group_id, "catalog.changes") == 0


def test_poison_messages_go_to_the_dlq_and_the_partition_moves_on(settings, topics):
    worker, ws = echo(settings, topics)
    good = [change(i) for i in range(20)]
    mismatched = change(999)
    poison = [
        ("item-x1", b"{not json"),
        ("item-x2", json.dumps({"op": "upsert", "item_id": "item-x2", "version": 1}).encode()),  # no item fields
        (None, good[0].model_dump_json().encode()),  # missing key
        ("someone-else", mismatched.model_dump_json().encode()),  # key differs from item_id
        ("item-x3", "\udcff".encode("utf-8", "surrogatepass")),  # not UTF-8 JSON
    ]
    # poison interleaved with good messages on the same key's partition
    msgs = [(c.item_id, c.model_dump_json().encode()) for c in good[:10]] + poison
    msgs += [(c.item_id, c.model_dump_json().encode()) for c in good[10:]]
    produce(settings, "catalog.changes", msgs)

    stats = Runtime(worker, settings, ws).run(max_messages=len(msgs), idle_exit_s=20)

    assert stats.consumed == len(msgs)
    assert stats.dead_lettered == len(poison)
    outs = read_all(settings, OUT, expected=20)
    assert sorted(json.loads(m.value())["item_id"] for m in outs) == sorted(c.item_id for c in good)
    dead = [DeadLetter.model_validate_json(m.value()) for m in read_all(settings, "catalog.changes.dlq", expected=5)]
    assert len(dead) == len(poison)
    by_class = sorted(d.error_class for d in dead)
    assert by_class == sorted(["NotJSON", "SchemaInvalid", "MissingKey", "KeyMismatch", "NotJSON"])
    raws = {base64.b64decode(d.raw_value_b64) for d in dead}
    assert raws == {v for _, v in poison}
    for d in dead:
        assert d.original_topic == "catalog.changes" and d.original_offset >= 0 and d.worker == "echo"
        assert "\n" not in d.error_message and d.error_message
    assert committed_lag(settings, ws.group_id, "catalog.changes") == 0


def test_a_message_over_the_topic_limit_is_refused_at_produce_time(settings, topics):
    from shared.kafka import clients

    p = clients.producer(settings)
    errors = []
    big = os.urandom(1_500_000)  # incompressible: the broker checks the compressed size
    p.produce(settings.topic_prefix + "catalog.changes", big, b"k", on_delivery=lambda e, m: errors.append(e))
    p.flush(30)
    assert len(errors) == 1 and errors[0] is not None
    assert errors[0].name() == "MSG_SIZE_TOO_LARGE"


class FlakyWorker(EchoWorker):
    """Raises Backpressure on its first two batches, and fails on one poison item."""

    def __init__(self, settings):
        super().__init__(settings)
        self.pressure = 2
        self.calls = 0

    def process_batch(self, batch):
        self.calls += 1
        if self.pressure:
            self.pressure -= 1
            raise Backpressure("store busy", retry_after=0.3)
        if any(r.key == "item-000007" for r in batch):
            raise RuntimeError("cannot handle item 7")
        return BatchResult(outputs=[Output(self.output_topic, r.key, r.value, r) for r in batch])


def test_backpressure_pauses_and_retries_and_a_poison_record_is_isolated(settings, topics):
    _, ws = echo(settings, topics)
    worker = FlakyWorker(ws)
    inputs = [change(i) for i in range(300)]
    produce_changes(settings, "catalog.changes", inputs)

    stats = Runtime(worker, settings, ws).run(max_messages=300, idle_exit_s=20)

    assert stats.consumed == 300 and worker.pressure == 0
    outs = read_all(settings, OUT, expected=299)
    assert sorted(json.loads(m.value())["item_id"] for m in outs) == sorted(
        c.item_id for c in inputs if c.item_id != "item-000007"
    )
    dead = [DeadLetter.model_validate_json(m.value()) for m in read_all(settings, "catalog.changes.dlq", expected=1)]
    assert [(d.original_key, d.error_class, d.error_message) for d in dead] == [
        ("item-000007", "RuntimeError", "cannot handle item 7")
    ]


def _worker_proc(env, **extra):
    e = dict(env)
    e.update({k: str(v) for k, v in extra.items()})
    return subprocess.Popen(
        [sys.executable, "-m", "ladle.cli", "worker", "echo"], env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


@pytest.mark.slow
def test_sigterm_drains_the_batch_in_flight_and_commits(settings, topics, env):
    create_topic(topics, settings.topic_prefix + OUT)
    group = f"{settings.topic_prefix}echo-term"
    produce_changes(settings, "catalog.changes", [change(i) for i in range(3000)])
    port = free_port()
    proc = _worker_proc(
        env,
        LADLE_ECHO_GROUP_ID=group,
        LADLE_ECHO_DELAY_MS=300,
        LADLE_ECHO_MAX_BATCH_SIZE=200,
        LADLE_ECHO_METRICS_PORT=port,
    )
    assert wait_for(lambda: len(read_all(settings, OUT, timeout=2)) >= 400)
    scraped = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    consumed = [line for line in scraped.splitlines() if line.startswith("ladle_consumed_total{")]
    assert consumed and float(consumed[0].split()[-1]) >= 400, consumed
    assert "ladle_batch_seconds_bucket" in scraped
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.stdout.read().decode()[-3000:]

    outs = read_all(settings, OUT)
    ids = [json.loads(m.value())["event_id"] for m in outs]
    assert len(ids) == len(set(ids)), "one run never duplicates"
    # Drained: exactly the processed inputs are committed, no more and no less.
    assert 3000 - committed_lag(settings, group, "catalog.changes") == len(ids)
    assert len(ids) < 3000, "stopped before the end, so the drain was tested"


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_loses_nothing(settings, topics, env):
    create_topic(topics, settings.topic_prefix + OUT)
    group = f"{settings.topic_prefix}echo-kill"
    inputs = [change(i) for i in range(5000)]
    produce_changes(settings, "catalog.changes", inputs)
    knobs = dict(LADLE_ECHO_GROUP_ID=group, LADLE_ECHO_DELAY_MS=150, LADLE_ECHO_MAX_BATCH_SIZE=250)
    proc = _worker_proc(env, **knobs)
    assert wait_for(lambda: len(read_all(settings, OUT, timeout=2)) >= 1000)
    proc.kill()  # SIGKILL: no drain, no commit of the batch in flight
    proc.wait(10)
    killed_at = len(read_all(settings, OUT))
    assert killed_at < 5000

    proc = _worker_proc(env, **knobs)
    assert wait_for(lambda: committed_lag(settings, group, "catalog.changes") == 0, timeout=120)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0

    outs = read_all(settings, OUT)
    by_id: dict[str, set[bytes]] = {}
    for m in outs:
        by_id.setdefault(json.loads(m.value())["event_id"], set()).add(m.value())
    assert set(by_id) == {c.event_id for c in inputs}, "no input lost"
    assert all(len(v) == 1 for v in by_id.values()), "a duplicate is only an exact replay"
    assert len(outs) >= 5000


class BrokenStoreWorker(EchoWorker):
    """Its store is gone: a fatal error on the third batch."""

    def __init__(self, settings):
        super().__init__(settings)
        self.batches = 0

    def process_batch(self, batch):
        self.batches += 1
        if self.batches == 3:
            raise FatalError("store lost")
        return super().process_batch(batch)


def test_a_fatal_error_stops_the_worker_without_committing_unflushed_work(settings, topics):
    _, ws = echo(settings, topics)
    ws = ws.model_copy(update={"max_batch_size": 100, "commit_interval_s": 3600, "commit_every": 10**9})
    produce_changes(settings, "catalog.changes", [change(i) for i in range(1000)])
    with pytest.raises(FatalError, match="store lost"):
        Runtime(BrokenStoreWorker(ws), settings, ws).run(idle_exit_s=20)
    # No checkpoint happened before the crash, so everything will be replayed.
    assert committed_lag(settings, ws.group_id, "catalog.changes") == 1000


@pytest.mark.slow
def test_a_second_member_joining_mid_stream_loses_nothing(settings, topics, env):
    create_topic(topics, settings.topic_prefix + OUT)
    group = f"{settings.topic_prefix}echo-rebalance"
    inputs = [change(i) for i in range(4000)]
    produce_changes(settings, "catalog.changes", inputs)
    knobs = dict(LADLE_ECHO_GROUP_ID=group, LADLE_ECHO_DELAY_MS=100, LADLE_ECHO_MAX_BATCH_SIZE=200)
    first = _worker_proc(env, **knobs)
    assert wait_for(lambda: len(read_all(settings, OUT, timeout=2)) >= 600)
    second = _worker_proc(env, **knobs)  # cooperative rebalance: partitions move while work is in flight
    assert wait_for(lambda: committed_lag(settings, group, "catalog.changes") == 0, timeout=120)
    for p in (first, second):
        p.send_signal(signal.SIGTERM)
    for p in (first, second):
        assert p.wait(30) == 0
    logs = first.stdout.read().decode() + second.stdout.read().decode()
    assert "partitions.revoked" in logs or "partitions.assigned" in logs

    by_id: dict[str, set[bytes]] = {}
    for m in read_all(settings, OUT):
        by_id.setdefault(json.loads(m.value())["event_id"], set()).add(m.value())
    assert set(by_id) == {c.event_id for c in inputs}
    assert all(len(v) == 1 for v in by_id.values())
