"""A consumer group's lag: what it has yet to commit. One meaning for `ladle status` and
`ladle check`: per partition, the high watermark minus the group's committed offset (the
partition's first offset where the group has none, or where retention passed it)."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

from shared.kafka import clients, read
from shared.runtime.errors import FatalError, UserError
from shared.settings import LadleSettings
from topics.registry import Namespace


@dataclass(frozen=True)
class GroupLag:
    lag: int  # messages not yet committed, summed over the partitions
    committed: bool  # whether the group has committed anything on them (False: not deployed, or new)
    partitions: int


def group_lag(settings: LadleSettings, group: str, topics: list[str] | None = None) -> GroupLag | None:
    """The lag of ``group`` on every partition of these logical topics, or (None) on the partitions
    it has committed or is assigned. None when Kafka or the group cannot be read."""
    try:
        clients.require_broker(settings, timeout=3.0)
        admin = clients.admin(settings)
        offsets = _committed(admin, group)
        if topics is None:
            for member in admin.describe_consumer_groups([group])[group].result(timeout=10).members:
                for tp in member.assignment.topic_partitions:  # assigned, maybe never committed
                    offsets.setdefault((tp.topic, tp.partition), -1)
        consumer = clients.consumer(settings, "ladle-lag-probe")
    except (KafkaException, UserError, FatalError):
        return None
    try:
        if topics is not None:
            ns = Namespace(settings.topic_prefix)
            wanted = [(ns.physical(t), p) for t in topics for p in read.partitions(consumer, ns.physical(t))]
            offsets = {tp: offsets.get(tp, -1) for tp in wanted}
        lag = 0
        for (topic, partition), offset in offsets.items():
            low, high = read.watermarks(consumer, TopicPartition(topic, partition))
            lag += max(0, high - (max(offset, low) if offset >= 0 else low))
        return GroupLag(lag, any(o >= 0 for o in offsets.values()), len(offsets))
    except (KafkaException, UserError):
        return None
    finally:
        consumer.close()


def _committed(admin, group: str) -> dict[tuple[str, int], int]:
    result = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(timeout=10)
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or []}
