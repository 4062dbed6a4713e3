"""Reading topics to their end: one way for every reader that needs a topic's whole content
(the prompt registry, a reindex, `ladle check`, evaluation and training label sources).

Partitions are assigned (no group, nothing committed), read from their first offset,
and consumed until each reaches the end it had when the read started (a snapshot).
A partition with nothing left to return (compacted gaps, transaction markers) is
settled through the consumer's position, so no end-of-partition events are needed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from shared.kafka import clients
from shared.runtime.errors import FatalError, LadleError, UserError
from shared.settings import LadleSettings

Batch = Callable[[list[Message]], None]
_TRANSIENT = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TRANSPORT,
}


class MissingTopic(UserError):
    """A topic to read does not exist (`ladle topics apply` creates it)."""


class ReadStalled(FatalError):
    """Kafka stopped delivering before every partition reached its end."""


class ReadCancelled(LadleError):
    """The reader's ``cancelled()`` said stop."""


def reader(settings: LadleSettings, purpose: str) -> Consumer:
    """A consumer for reading to the end: its group is never committed, the name only shows in logs."""
    clients.require_broker(settings)
    return clients.consumer(settings, f"ladle-{purpose}-{uuid.uuid4().hex[:8]}", **{"enable.partition.eof": False})


def partitions(c: Consumer, physical: str) -> list[int]:
    meta = c.list_topics(physical, timeout=10).topics.get(physical)
    if meta is None or meta.error is not None or not meta.partitions:
        raise MissingTopic(f"topic {physical} does not exist; run `ladle topics apply` (LADLE_TOPIC_PREFIX?)")
    return sorted(meta.partitions)


def watermarks(c: Consumer, tp: TopicPartition, timeout_s: float = 30.0) -> tuple[int, int]:
    """(low, high) of a partition, retrying while a new topic's leader is still being elected."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return c.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10, cached=False)
        except KafkaException as exc:
            err = exc.args[0]
            if not (err.retriable() or err.code() in _TRANSIENT) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class TopicReader:
    """Reads the partitions of some topics in order, each from its first offset; ``read_to_end``
    may be called again to catch up with what arrived since (a reindex does)."""

    def __init__(self, consumer: Consumer, physical_topics: Iterable[str]) -> None:
        self.consumer = consumer
        self.next: dict[tuple[str, int], int] = {}  # the offset each partition reads next
        self.truncated: set[str] = set()  # topics whose start retention already deleted
        assign = []
        for topic in physical_topics:
            for p in partitions(consumer, topic):
                low, _ = watermarks(consumer, TopicPartition(topic, p))
                if low > 0:
                    self.truncated.add(topic)
                self.next[(topic, p)] = low
                assign.append(TopicPartition(topic, p, OFFSET_BEGINNING))
        consumer.assign(assign)

    def ends(self) -> dict[tuple[str, int], int]:
        """Each partition's high watermark now: the end a read to the end stops at."""
        return {tp: watermarks(self.consumer, TopicPartition(*tp))[1] for tp in self.next}

    def remaining(self, ends: dict[tuple[str, int], int]) -> int:
        return sum(max(0, end - self.next[tp]) for tp, end in ends.items())

    def read_to_end(
        self,
        on_batch: Batch,
        ends: dict[tuple[str, int], int] | None = None,
        *,
        batch_size: int = 2000,
        stall_s: float | None = 60.0,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> None:
        """Pass every message up to ``ends`` (default: the ends now) to ``on_batch``, batch by batch.
        A batch may hold messages past an end (they arrived meanwhile); readers that want the
        snapshot only drop those with ``past_end``."""
        ends = self.ends() if ends is None else ends
        c = self.consumer
        last = time.monotonic()
        while any(self.next[tp] < end for tp, end in ends.items()):
            if cancelled():
                raise ReadCancelled("reading cancelled")
            msgs = c.consume(num_messages=batch_size, timeout=0.2)
            good = []
            for m in msgs:
                err = m.error()
                if err is not None:
                    if err.fatal():
                        raise KafkaException(err)
                    continue
                self.next[(m.topic(), m.partition())] = m.offset() + 1
                good.append(m)
            if good:
                last = time.monotonic()
                on_batch(good)
                continue
            for tp in c.position([TopicPartition(t, p) for (t, p) in ends]):
                if tp.offset >= 0:  # past transaction markers and compacted gaps
                    key = (tp.topic, tp.partition)
                    self.next[key] = max(self.next[key], tp.offset)
            if stall_s is not None and time.monotonic() - last > stall_s:
                left = sum(self.next[tp] < end for tp, end in ends.items())
                raise ReadStalled(f"Kafka stopped delivering: {left} partition(s) not read to their end")

    def close(self) -> None:
        self.consumer.close()


def past_end(m: Message, ends: dict[tuple[str, int], int]) -> bool:
    """Whether a message arrived after the snapshot ``ends`` was taken."""
    end = ends.get((m.topic(), m.partition()))
    return end is None or m.offset() >= end
