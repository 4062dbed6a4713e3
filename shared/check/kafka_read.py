"""Reading topics to their end for `ladle check`.

The end offsets are taken once at the start (a snapshot), every partition is read
from its first offset to that end with ``assign`` (no group, nothing committed),
and each message is decoded exactly as the workers decode it (``codec.decode``):
what a worker dead-letters as malformed is no expectation of anything downstream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from shared.kafka import clients
from shared.runtime import codec
from shared.runtime.errors import BadMessage, UserError
from shared.runtime.worker import Record
from shared.settings import LadleSettings
from topics.registry import TOPICS, Namespace

log = structlog.get_logger(__name__)

Handler = Callable[[Record], None]
Progress = Callable[[int, int], None]  # (messages read, messages in the snapshot)


class Unreachable(UserError):
    """A part `ladle check` must read does not answer or does not exist (exit 2)."""


@dataclass
class TopicRead:
    topic: str  # logical name
    messages: int = 0
    invalid: int = 0  # not decodable: the consuming worker dead-letters these itself
    truncated: bool = False  # retention deleted the topic's start: older events are gone from it


def _consumer(settings: LadleSettings, group: str | None = None) -> Consumer:
    clients.require_broker(settings)
    return clients.consumer(settings, group or f"ladle-check-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": True})


def _partitions(c: Consumer, physical: str) -> list[int]:
    meta = c.list_topics(physical, timeout=10).topics.get(physical)
    if meta is None or meta.error is not None or not meta.partitions:
        raise Unreachable(f"topic {physical} does not exist; run `ladle topics apply` (LADLE_TOPIC_PREFIX?)")
    return sorted(meta.partitions)


def read_topics(
    settings: LadleSettings,
    handlers: dict[str, list[Handler]],
    progress: Progress | None = None,
    stall_s: float = 60.0,
) -> dict[str, TopicRead]:
    """Every message of these logical topics, decoded, passed to each of the topic's handlers."""
    ns = Namespace(settings.topic_prefix)
    stats = {t: TopicRead(t) for t in handlers}
    try:
        c = _consumer(settings)
    except KafkaException as exc:
        raise Unreachable(f"Kafka at {settings.kafka_bootstrap}: {exc.args[0].str() if exc.args else exc}") from None
    try:
        ends: dict[tuple[str, int], int] = {}
        assign = []
        for topic in handlers:
            physical = ns.physical(topic)
            for p in _partitions(c, physical):
                low, high = c.get_watermark_offsets(TopicPartition(physical, p), timeout=10, cached=False)
                stats[topic].truncated |= low > 0
                if high > low:
                    ends[(physical, p)] = high
                    assign.append(TopicPartition(physical, p, low))
        total = sum(ends[(tp.topic, tp.partition)] - tp.offset for tp in assign)
        if assign:
            c.assign(assign)
        _drain(c, ns, ends, handlers, stats, total, progress, stall_s)
    except KafkaException as exc:
        raise Unreachable(f"Kafka at {settings.kafka_bootstrap}: {exc.args[0].str() if exc.args else exc}") from None
    finally:
        c.close()
    for s in stats.values():
        log.info("check.topic_read", topic=s.topic, messages=s.messages, invalid=s.invalid, truncated=s.truncated)
    return stats


def _drain(c, ns, ends, handlers, stats, total, progress, stall_s) -> None:
    pending = set(ends)
    read, last = 0, time.monotonic()
    while pending:
        msgs = c.consume(num_messages=2000, timeout=0.2)
        if not msgs:
            if time.monotonic() - last > stall_s:
                raise Unreachable(f"Kafka stopped delivering: {len(pending)} partitions not read to their end")
            continue
        last = time.monotonic()
        for m in msgs:
            tp = (m.topic(), m.partition())
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(tp)
                elif err.fatal():
                    raise KafkaException(err)
                continue
            end = ends.get(tp)
            if end is None or m.offset() >= end:  # written after the snapshot
                pending.discard(tp)
                continue
            if m.offset() >= end - 1:
                pending.discard(tp)
            read += 1
            topic = ns.logical(m.topic())
            st = stats[topic]
            st.messages += 1
            try:
                rec = codec.decode(TOPICS[topic], topic, m.partition(), m.offset(), m.key(), m.value())
            except BadMessage:
                st.invalid += 1
                continue
            for h in handlers[topic]:
                h(rec)
        if progress is not None:
            progress(read, total)


def group_lag(settings: LadleSettings, group: str, topics: list[str]) -> int | None:
    """Messages a consumer group has yet to commit on these topics; None when it never committed."""
    ns = Namespace(settings.topic_prefix)
    try:
        c = _consumer(settings, group)
    except (KafkaException, UserError):
        return None
    try:
        tps = [TopicPartition(ns.physical(t), p) for t in topics for p in _partitions(c, ns.physical(t))]
        committed = c.committed(tps, timeout=10)
        if all(tp.offset < 0 for tp in committed):
            return None
        lag = 0
        for tp in committed:
            low, high = c.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10, cached=False)
            lag += high - max(tp.offset, low)
        return lag
    except (KafkaException, UserError):  # a note, never a reason to fail the check
        return None
    finally:
        c.close()
