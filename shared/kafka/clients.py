"""confluent-kafka client configs in one place, so every process talks to Kafka alike."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from shared.logging import RDKAFKA_LOGGER
from shared.runtime.errors import UserError
from shared.settings import LadleSettings


def producer_config(settings: LadleSettings, **overrides: object) -> dict:
    cfg = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "logger": RDKAFKA_LOGGER,
        # Idempotence keeps per-partition order and drops retry duplicates.
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "compression.type": "lz4",
        "queue.buffering.max.kbytes": 262_144,
        "message.max.bytes": 4_194_304,
        # Fail a stuck delivery in 2 min (the batch then replays) rather than the default 5.
        "message.timeout.ms": 120_000,
    }
    cfg.update(overrides)
    return cfg


def consumer_config(settings: LadleSettings, group_id: str, **overrides: object) -> dict:
    cfg = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "group.id": group_id,
        "logger": RDKAFKA_LOGGER,
        # The runtime stores and commits offsets itself, after outputs are durable.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "fetch.max.bytes": 52_428_800,
        "max.partition.fetch.bytes": 4_194_304,
        "queued.max.messages.kbytes": 131_072,
    }
    cfg.update(overrides)
    return cfg


def produce_waiting(p: Producer, topic: str, value: bytes, key: str | bytes | None, on_delivery=None) -> None:
    """produce(); when the local queue is full, wait for deliveries instead of growing memory."""
    while True:
        try:
            if on_delivery is None:
                p.produce(topic, value, key)
            else:
                p.produce(topic, value, key, on_delivery=on_delivery)
            return
        except BufferError:
            p.poll(0.05)


def producer(settings: LadleSettings, **overrides: object) -> Producer:
    return Producer(producer_config(settings, **overrides))


def consumer(settings: LadleSettings, group_id: str, **overrides: object) -> Consumer:
    return Consumer(consumer_config(settings, group_id, **overrides))


def admin(settings: LadleSettings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "logger": RDKAFKA_LOGGER})


def require_broker(settings: LadleSettings, timeout: float = 5.0) -> None:
    """Fail with one line when no bootstrap server answers, instead of retrying forever."""
    import socket

    for hostport in settings.kafka_bootstrap.split(","):
        host, _, port = hostport.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
                return
        except (OSError, ValueError):
            continue
    raise UserError(
        f"Kafka is not reachable at {settings.kafka_bootstrap}; start it with `ladle kafka start` "
        "or point LADLE_KAFKA_BOOTSTRAP at your cluster"
    )
