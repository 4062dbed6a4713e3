"""The guardrails stream: a faust-streaming app over enrichment.results.

Delivery (docs/delivery.md: at-least-once, nothing lost across a restart or a rebalance):
- Values are read raw and decoded with the registry's model, so a malformed result is
  dead-lettered with its bytes instead of crashing faust's deserializer.
- Acks are manual (``stream.noack().noack_take``): an event is acked only after every
  message it produced was *delivered* (the producer's futures resolved, acks=all).
  faust commits only the contiguous run of acked offsets, on ``commit_interval_s`` /
  ``commit_every``, after flushing its producer; auto-commit is off.
- Checking runs in one worker thread (heartbeats keep flowing); a sender task publishes
  each checked batch, awaits its delivery and acks it, in order, while the agent checks
  the next batch; at most ``max_in_flight_batches`` batches wait unconfirmed.
- A failed delivery, or any error that is not one message's fault, is fatal: the
  process exits non-zero at once, nothing more is acked, and the restarted worker
  replays from the last commit. Replays and faust's known duplicate processing after
  rebalances are harmless: every output has a deterministic event id.
- On a rebalance faust waits (``stream_wait_empty``) until every event in flight is
  acked, then commits, before partitions move.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import structlog

from shared import metrics as runtime_metrics
from shared.settings import LadleSettings
from topics.registry import Namespace
from workers.guardrails.processor import SOURCE, WORKER, Processor, RawMessage
from workers.guardrails.settings import GuardrailsSettings

log = structlog.get_logger(__name__)


def _fatal(event: str, **kw) -> None:
    """Crash now: no await between here and the exit, so no further ack or commit happens."""
    log.error(event, **kw)
    sys.stderr.flush()
    os._exit(70)


def build_app(settings: LadleSettings, gs: GuardrailsSettings, processor: Processor):
    import faust

    ns = Namespace(settings.topic_prefix)
    datadir = settings.data_dir / "guardrails"
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        gs.group_id,
        broker=[f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",")],
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        datadir=str(datadir),
        web_enabled=False,
        topic_allow_declare=False,  # `ladle topics apply` owns topics
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=gs.commit_interval_s,
        broker_commit_every=gs.commit_every,
        broker_session_timeout=gs.session_timeout_s,
        broker_heartbeat_interval=max(gs.session_timeout_s / 10, 1.0),
        stream_wait_empty=True,
        producer_acks=-1,
        producer_linger=0.005,
    )
    source = app.topic(
        ns.physical(SOURCE), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guardrails-check")
    stats = {"consumed": 0, "produced": 0, "dead": 0, "batches": 0, "t": time.monotonic()}

    partitions: dict[str, int] = {}

    async def partition_of(topic: str, key: bytes | None) -> int | None:
        # librdkafka's default (consistent_random: crc32 of the key), so an item keeps the partition
        # number the enricher's confluent-kafka producer gave it; zlib's crc32 is also 20x cheaper
        # than aiokafka's pure-Python murmur2.
        if key is None:
            return None
        n = partitions.get(topic)
        if n is None:
            n = partitions[topic] = len(await app.producer._ensure_producer().partitions_for(topic))
        return zlib.crc32(key) % n

    async def sender(queue: asyncio.Queue, stream) -> None:
        """Publishes each checked batch, waits until Kafka confirmed every message, then acks
        the batch's events; batches go through in order, while the agent checks the next one."""
        send = app.producer.send
        while True:
            outgoing, events, t0 = await queue.get()
            try:
                futures = [
                    await send(o.topic, o.key, o.value, await partition_of(o.topic, o.key), None, None)
                    for o in outgoing
                ]
                await asyncio.gather(*futures)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a lost delivery: crash before acking anything
                _fatal("guardrails.delivery_failed", error=f"{type(exc).__name__}: {exc}")
            for event in events:
                await stream.ack(event)
            _count(stats, len(events), outgoing, time.perf_counter() - t0, gs.log_every_s)

    @app.agent(source, name=f"{gs.group_id}.guard")
    async def guard(stream):
        queue: asyncio.Queue = asyncio.Queue(maxsize=gs.max_in_flight_batches)
        send_task = asyncio.ensure_future(sender(queue, stream))
        loop = asyncio.get_running_loop()
        try:
            async for events in stream.noack().noack_take(gs.max_batch_size, within=gs.max_batch_wait_s):
                t0 = time.perf_counter()
                batch = [
                    RawMessage(e.message.partition, e.message.offset, e.message.key, e.message.value) for e in events
                ]
                outgoing = await loop.run_in_executor(pool, processor.process, batch)
                log.debug("guardrails.batch", n=len(events), check_s=round(time.perf_counter() - t0, 4))
                await queue.put((outgoing, events, t0))  # waits while max_in_flight_batches are unconfirmed
                if send_task.done():  # the sender only ends by crashing the process; never run without it
                    _fatal("guardrails.sender_stopped")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - not one message's fault (those are dead-lettered): fatal
            _fatal("guardrails.fatal", error=f"{type(exc).__name__}: {exc}")
        finally:
            send_task.cancel()

    @app.on_partitions_assigned.connect
    async def _assigned(_app, assigned, **_kw) -> None:
        mine = sorted(tp.partition for tp in assigned if tp.topic == source.get_topic_name())
        log.info("guardrails.partitions_assigned", partitions=mine)

    @app.on_partitions_revoked.connect
    async def _revoked(_app, revoked, **_kw) -> None:
        log.info("guardrails.partitions_revoked", partitions=sorted(tp.partition for tp in revoked))

    app.guardrails_agent = guard  # type: ignore[attr-defined]
    return app


def _count(stats: dict, n: int, outgoing: list, seconds: float, every: float) -> None:
    dead = sum(o.kind == "dead_letter" for o in outgoing)
    stats["consumed"] += n
    stats["produced"] += len(outgoing) - dead
    stats["dead"] += dead
    stats["batches"] += 1
    runtime_metrics.CONSUMED.labels(WORKER, SOURCE).inc(n)
    runtime_metrics.BATCH_SIZE.labels(WORKER).observe(n)
    runtime_metrics.BATCH_SECONDS.labels(WORKER).observe(seconds)
    for o in outgoing:
        if o.kind == "dead_letter":
            runtime_metrics.DEAD_LETTERED.labels(WORKER, SOURCE, o.error_class).inc()
            key = o.key.decode("utf-8", "replace")[:200] if o.key is not None else None
            log.warning("message.dead_lettered", topic=SOURCE, key=key, error_class=o.error_class)
        else:
            runtime_metrics.PRODUCED.labels(WORKER, o.topic).inc()
    now = time.monotonic()
    if now - stats["t"] >= every:
        stats["t"] = now
        log.info(
            "guardrails.progress",
            consumed=stats["consumed"],
            produced=stats["produced"],
            dead_lettered=stats["dead"],
            batches=stats["batches"],
        )


def _warm_subject():
    from shared.guardrails.subject import Subject

    return Subject(
        id="warm-up",
        inputs={
            "item_text": "Green Curry\nChicken in green curry with coconut milk, call (415) 555-0132\ncurries\nthai"
        },
        outputs={"raw_output": '{"cuisine": "thai", "dish_type": "curry"}'},
        output={"cuisine": "thai", "dish_type": "curry", "dietary": [], "allergens": [], "flavour": ["spicy"]},
        use_case="tag",
    )


def run_worker(settings: LadleSettings, gs: GuardrailsSettings) -> None:
    """Load the policies and models, then run the faust worker until SIGTERM."""
    import faust

    from shared import metrics
    from shared.guardrails.engine import Engine
    from shared.guardrails.policy import load_policies

    engine = Engine(load_policies(gs.policy_file), threads=gs.threads)
    names = (
        [gs.policy]
        if gs.policy
        else sorted(set(engine.policies.file.use_cases.values()) | {engine.policies.file.default})
    )
    for name in names:  # load and warm every model before joining the group: no rebalance, no slow first batch
        for check in engine.checks(name):
            check.run_many([_warm_subject()])
    processor = Processor(engine, Namespace(settings.topic_prefix), gs.policy, gs.dlq_redact)
    app = build_app(settings, gs, processor)
    metrics.serve(gs.metrics_port, gs.metrics_addr)
    log.info(
        "guardrails.starting",
        group=gs.group_id,
        topic=settings.topic_prefix + SOURCE,
        policies={n: engine.policies.versions[n] for n in names},
    )
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    # mode's set-up leaves the root logger at DEBUG: every aiokafka/faust debug call would build a record
    for name in ("aiokafka", "faust", "mode", "kafka"):
        logging.getLogger(name).setLevel(logging.WARNING)
    worker.execute_from_commandline()
