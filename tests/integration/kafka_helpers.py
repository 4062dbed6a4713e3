"""Helpers to produce and read back topics in integration tests."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from schemas import CatalogChange, CatalogItem
from shared.kafka import clients
from shared.runtime import codec
from shared.settings import LadleSettings


def change(i: int, version: int = 1, pad: int = 0, trace_id: str | None = None) -> CatalogChange:
    item_id = f"item-{i:06d}"
    return CatalogChange(
        op="upsert",
        item_id=item_id,
        version=version,
        trace_id=trace_id,
        item=CatalogItem(
            item_id=item_id,
            store_id=f"store-{i % 7}",
            name=f"Dish {i}",
            description="x" * pad,
            price=i % 50 + 0.99,
        ),
    )


def produce(settings: LadleSettings, topic: str, messages: list[tuple[str | None, bytes]]) -> None:
    p = clients.producer(settings)
    for key, value in messages:
        clients.produce_waiting(p, settings.topic_prefix + topic, value, key)
    assert p.flush(60) == 0


def produce_changes(settings: LadleSettings, topic: str, changes: list[CatalogChange]) -> None:
    produce(settings, topic, [(c.item_id, codec.encode(c)) for c in changes])


def create_topic(admin: AdminClient, name: str, partitions: int = 3) -> None:
    for fut in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        fut.result(30)


def read_all(settings: LadleSettings, topic: str, expected: int | None = None, timeout: float = 60.0) -> list:
    """Every message of a topic from the start to its end (shared.kafka.read); with `expected`, reads on
    until at least that many arrived or `timeout` passed."""
    from shared.kafka import read

    reader = read.TopicReader(read.reader(settings, "test-reader"), [settings.topic_prefix + topic])
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            reader.read_to_end(out.extend, stall_s=timeout)
            if expected is None or len(out) >= expected or time.monotonic() > deadline:
                return out
            time.sleep(0.2)
    finally:
        reader.close()


def committed_lag(settings: LadleSettings, group: str, topic: str) -> int:
    """End offsets minus the group's committed offsets, summed over partitions."""
    name = settings.topic_prefix + topic
    c = Consumer(clients.consumer_config(settings, group))
    meta = c.list_topics(name, timeout=10).topics[name]
    tps = [TopicPartition(name, p) for p in meta.partitions]
    committed = c.committed(tps, timeout=10)
    lag = 0
    for tp in committed:
        _, high = c.get_watermark_offsets(tp, timeout=10)
        lag += high - max(tp.offset, 0)
    c.close()
    return lag


def wait_for(predicate, timeout: float = 60.0, step: float = 0.2) -> bool:
    """Polls until the predicate holds or the timeout passes; says which."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
