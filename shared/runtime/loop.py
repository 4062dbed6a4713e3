"""The runtime owns the loop: poll a batch -> validate -> process_batch -> flush the
worker's sinks -> publish outputs and dead letters -> flush the producer -> commit.

At-least-once: an offset is committed only after everything its message caused
is durable. A bad message goes to ``<topic>.dlq`` and its partition moves on.
"""

from __future__ import annotations

import gc
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from schemas import Event
from shared import metrics
from shared.kafka import clients
from shared.runtime import codec
from shared.runtime.errors import Backpressure, BadMessage, FatalError
from shared.runtime.worker import BatchResult, Failed, Output, Record, Worker
from shared.settings import LadleSettings, WorkerSettings
from topics.registry import DLQ_SUFFIX, TOPICS, Namespace, TopicSpec

log = structlog.get_logger(__name__)

DEFAULT_MAX_BYTES = 1_048_588


@dataclass
class RunStats:
    consumed: int = 0
    produced: int = 0
    dead_lettered: int = 0
    batches: int = 0
    started: float = field(default_factory=time.monotonic)
    first_message_at: float | None = None  # excludes group join time from throughput
    last_batch_at: float | None = None

    @property
    def busy_s(self) -> float:
        """From the first message to the end of the last batch."""
        if self.first_message_at is None or self.last_batch_at is None:
            return 0.0
        return self.last_batch_at - self.first_message_at

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


class Runtime:
    """Runs one worker against Kafka until stopped (SIGTERM/SIGINT) or a limit is hit."""

    def __init__(
        self,
        worker: Worker,
        settings: LadleSettings,
        wsettings: WorkerSettings,
        *,
        consumer: Consumer | None = None,
        producer: Producer | None = None,
    ) -> None:
        self.worker = worker
        self.ws = wsettings
        self.ns = Namespace(settings.topic_prefix)
        self.group_id = wsettings.group_id or f"ladle.{worker.name}"
        self.inputs: dict[str, tuple[str, TopicSpec]] = {
            self.ns.physical(t): (t, TOPICS[t]) for t in worker.input_topics
        }
        self.consumer = consumer or clients.consumer(
            settings,
            self.group_id,
            **{
                "session.timeout.ms": wsettings.session_timeout_ms,
                "max.poll.interval.ms": wsettings.max_poll_interval_ms,
                "client.id": f"ladle-{worker.name}",
            },
        )
        self.producer = producer or clients.producer(
            settings,
            **{
                "client.id": f"ladle-{worker.name}",
                # One Python callback per failure instead of one per message.
                "delivery.report.only.error": True,
                "on_delivery": self._on_delivery,
            },
        )
        self.stats = RunStats()
        self._stop = threading.Event()
        self._delivery_errors: list[str] = []
        self._pending: dict[tuple[str, int], int] = {}  # processed, not yet known committed
        self._assigned: set[tuple[str, int]] = set()
        self._last_lag = 0.0
        self._paused_since: float | None = None
        self._crashed = False
        self._outputs: dict[str, tuple[str, int]] = {}  # logical -> (physical, max bytes)
        self._replay_from: dict[tuple[str, int], int] = {}  # first offset since the last checkpoint
        self._uncommitted = 0
        self._last_checkpoint = time.monotonic()
        self._log = log.bind(worker=worker.name, group=self.group_id)

    # -- lifecycle ---------------------------------------------------------

    def stop(self, *_: object) -> None:
        """Finish the batch in flight, commit, and return from run()."""
        self._stop.set()

    def run(self, *, max_messages: int | None = None, idle_exit_s: float | None = None) -> RunStats:
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, self.stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.consumer.subscribe(
            list(self.inputs), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        # Batches allocate thousands of short-lived objects; the default gen-0 threshold (700)
        # makes the collector rescan long-lived ones over and over. Freeze what start-up built.
        gc.freeze()
        gc.set_threshold(self.ws.gc_threshold, 20, 50)
        self._log.info("worker.started", topics=list(self.inputs))
        idle_since = time.monotonic()
        try:
            while not self._stop.is_set():
                msgs = self.consumer.consume(num_messages=self.ws.max_batch_size, timeout=self.ws.max_batch_wait_s)
                if msgs:
                    self._handle(msgs)
                    idle_since = time.monotonic()
                elif idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                    break
                if self._checkpoint_due():
                    self._checkpoint()
                if max_messages is not None and self.stats.consumed >= max_messages:
                    break
                self._maybe_report_lag()
            self._checkpoint(sync=True)
        except BaseException:
            # A fatal error: flush and commit nothing more (not even on the revoke
            # that closing triggers); the restarted process replays from the last checkpoint.
            self._crashed = True
            raise
        finally:
            self._close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self._log.info(
            "worker.stopped",
            consumed=self.stats.consumed,
            produced=self.stats.produced,
            dead_lettered=self.stats.dead_lettered,
            batches=self.stats.batches,
            seconds=round(self.stats.elapsed_s, 3),
        )
        return self.stats

    def _close(self) -> None:
        try:
            self.worker.close()
        finally:
            if not self._crashed:
                self.producer.flush(30)
            self.consumer.close()

    # -- one batch ---------------------------------------------------------

    def _handle(self, msgs: list[Message]) -> None:
        t0 = time.perf_counter()
        if self.stats.first_message_at is None:
            self.stats.first_message_at = time.monotonic()
        records: list[Record] = []
        dead: list[tuple[Message, BaseException]] = []
        last: dict[tuple[str, int], int] = {}
        replay_from = self._replay_from
        inputs = self.inputs
        decode = codec.decode
        for m in msgs:
            err = m.error()
            if err is not None:
                self._kafka_error(err)
                continue
            topic = m.topic()
            partition = m.partition()
            off = m.offset()
            tp = (topic, partition)
            if tp not in last and tp not in replay_from:
                replay_from[tp] = off
            last[tp] = off
            logical, spec = inputs[topic]
            try:
                records.append(decode(spec, logical, partition, off, m.key(), m.value()))
            except BadMessage as exc:
                dead.append((m, exc))
        if not last:
            return
        try:
            result = self._process(records) if records else BatchResult()
        except Backpressure as bp:
            self._back_off(bp)
            return
        self._publish(result, dead)
        for tp, off in last.items():
            self._pending[tp] = off + 1
        n = len(msgs)
        self._uncommitted += n
        self.stats.consumed += n
        self.stats.batches += 1
        self.stats.last_batch_at = time.monotonic()
        name = self.worker.name
        if len(inputs) == 1:
            metrics.CONSUMED.labels(name, self.worker.input_topics[0]).inc(n)
        else:
            for topic, count in Counter(m.topic() for m in msgs).items():
                metrics.CONSUMED.labels(name, inputs[topic][0]).inc(count)
        metrics.BATCH_SIZE.labels(name).observe(n)
        metrics.BATCH_SECONDS.labels(name).observe(time.perf_counter() - t0)

    # -- checkpoints: flush the worker, flush the producer, commit -------------

    def _checkpoint_due(self) -> bool:
        if not self._pending:
            return False
        return (
            self._uncommitted >= self.ws.commit_every
            or time.monotonic() - self._last_checkpoint >= self.ws.commit_interval_s
        )

    def _checkpoint(self, *, sync: bool = False, in_rebalance: bool = False) -> None:
        """Make everything since the last checkpoint durable, then commit its offsets."""
        if self._crashed:
            return
        if not self._pending:
            self._last_checkpoint = time.monotonic()
            return
        try:
            self.worker.flush()
        except Backpressure as bp:
            if in_rebalance:
                # No waiting inside a rebalance: leave it uncommitted; the next owner replays it.
                self._log.warning("checkpoint.skipped_in_rebalance", reason=str(bp))
                self._pending.clear()
                self._replay_from.clear()
                return
            self._back_off(bp)
            return
        self._flush_producer()
        self._commit(sync=sync)
        self._replay_from.clear()
        self._uncommitted = 0
        self._paused_since = None
        self._last_checkpoint = time.monotonic()

    def _process(self, records: list[Record]) -> BatchResult:
        try:
            return self.worker.process_batch(records)
        except (Backpressure, FatalError):
            raise
        except Exception as exc:  # noqa: BLE001 - isolate the poison record
            if len(records) == 1:
                return BatchResult(failed=[Failed(records[0], exc)])
            self._log.warning("batch.failed_retrying_one_by_one", error=codec.one_line(exc), size=len(records))
        merged = BatchResult()
        for r in records:
            try:
                sub = self.worker.process_batch([r])
            except (Backpressure, FatalError):
                raise
            except Exception as exc:  # noqa: BLE001
                merged.failed.append(Failed(r, exc))
                continue
            merged.outputs.extend(sub.outputs)
            merged.failed.extend(sub.failed)
        return merged

    def _publish(self, result: BatchResult, dead: list[tuple[Message, BaseException]]) -> None:
        failed = list(result.failed)
        produced: dict[str, int] = {}
        produce = self._produce
        for out in result.outputs:
            topic = out.topic
            physical, limit = self._outputs.get(topic) or self._output_route(topic)
            data = self._encode_output(out)
            if len(data) > limit:
                exc = codec.OutputTooLarge(f"output for {topic} is {len(data)} bytes, over its limit of {limit}")
                if out.source is None:
                    raise FatalError(str(exc))
                failed.append(Failed(out.source, exc))
                continue
            produce(physical, out.key, data)
            produced[topic] = produced.get(topic, 0) + 1
        name = self.worker.name
        for f in failed:
            r = f.record
            raw = r.raw if f.raw_output is None else f.raw_output.encode()
            dl = codec.dead_letter(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                key=r.key,
                raw=raw,
                exc=f.error,
                worker=name,
                trace_id=r.value.trace_id,
            )
            self._send_dead(r.topic, r.key, dl)
        for m, exc in dead:
            logical = self.inputs[m.topic()][0]
            key = m.key()
            skey = key.decode("utf-8", "replace") if key is not None else None
            dl = codec.dead_letter(
                topic=logical, partition=m.partition(), offset=m.offset(), key=skey, raw=m.value(), exc=exc, worker=name
            )
            self._send_dead(logical, skey, dl)
        for topic, n in produced.items():
            metrics.PRODUCED.labels(name, topic).inc(n)
            self.stats.produced += n

    def _output_route(self, topic: str) -> tuple[str, int]:
        spec = TOPICS.get(topic)
        route = (self.ns.physical(topic), spec.max_message_bytes if spec else DEFAULT_MAX_BYTES)
        self._outputs[topic] = route
        return route

    @staticmethod
    def _encode_output(out: Output) -> bytes:
        value = out.value
        if out.source is not None and isinstance(value, Event):
            src = out.source.value
            trace = src.trace_id or src.event_id
            if value.trace_id != trace:
                # Straight into the field: pydantic's __setattr__ costs more than the rest of this.
                value.__dict__["trace_id"] = trace
        return value.__pydantic_serializer__.to_json(value)

    def _send_dead(self, logical: str, key: str | None, dl: Event) -> None:
        spec = TOPICS.get(logical)
        if spec is not None and not spec.dlq:
            # A bad message on a DLQ topic itself: it stays where it is (30-day retention);
            # there is no DLQ of a DLQ. Say so loudly and move on.
            metrics.DEAD_LETTERED.labels(self.worker.name, logical, "UnreadableDeadLetter").inc()
            self._log.error(
                "dead_letter.unreadable",
                topic=logical,
                offset=dl.original_offset,
                partition=dl.original_partition,
                error=dl.error_message[:300],
            )
            return
        self._produce(self.ns.physical(logical + DLQ_SUFFIX), key, codec.encode(dl))
        self.stats.dead_lettered += 1
        metrics.DEAD_LETTERED.labels(self.worker.name, logical, dl.error_class).inc()
        self._log.warning(
            "message.dead_lettered",
            topic=logical,
            offset=dl.original_offset,
            key=key,
            error_class=dl.error_class,
            error=dl.error_message[:300],
        )

    def _produce(self, topic: str, key: str | None, data: bytes) -> None:
        clients.produce_waiting(self.producer, topic, data, key)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._delivery_errors.append(f"{msg.topic()}: {err.str()}")

    def _flush_producer(self) -> None:
        while self.producer.flush(1.0) > 0:
            self._log.warning("producer.waiting_for_broker", queued=len(self.producer))
        if self._delivery_errors:
            errors, self._delivery_errors = self._delivery_errors[:5], []
            # Offsets stay uncommitted; the restarted process replays the batch.
            raise FatalError(f"publishing failed: {'; '.join(errors)}")

    # -- offsets and partitions ---------------------------------------------

    def _commit(self, *, sync: bool) -> None:
        offsets = [TopicPartition(t, p, o) for (t, p), o in self._pending.items()]
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=not sync)
        except KafkaException as exc:
            # A failed commit only means a replay later; effects are idempotent.
            self._log.warning("commit.failed", error=str(exc))
            return
        self._pending.clear()

    def _back_off(self, bp: Backpressure) -> None:
        """Pause, rewind to the last checkpoint, wait, resume: the work since then is redone."""
        parts = [TopicPartition(t, p) for t, p in self._assigned]
        rewind = [TopicPartition(t, p, o) for (t, p), o in self._replay_from.items() if (t, p) in self._assigned]
        self._log.warning("backpressure.pausing", partitions=len(parts), retry_after=bp.retry_after, reason=str(bp))
        metrics.PAUSED.labels(self.worker.name).set(len(parts))
        self.consumer.pause(parts)
        for tp in rewind:
            try:
                self.consumer.seek(tp)
            except KafkaException as exc:
                self._log.warning("backpressure.seek_failed", topic=tp.topic, partition=tp.partition, error=str(exc))
        self._pending.clear()  # nothing since the checkpoint may be committed now
        self._uncommitted = 0
        self._paused_since = self._paused_since or time.monotonic()
        deadline = time.monotonic() + bp.retry_after
        while time.monotonic() < deadline and not self._stop.is_set():
            # Keep the group membership alive; paused partitions return nothing.
            for m in self.consumer.consume(num_messages=1, timeout=min(0.2, bp.retry_after)):
                self._log.warning("backpressure.unexpected_message", topic=m.topic())
        if time.monotonic() - self._paused_since > self.ws.max_paused_s:
            raise FatalError(f"downstream saturated for over {self.ws.max_paused_s}s: {bp}")
        self.consumer.resume(parts)
        metrics.PAUSED.labels(self.worker.name).set(0)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned.update((tp.topic, tp.partition) for tp in partitions)
        self._log.info("partitions.assigned", partitions=[f"{tp.topic}[{tp.partition}]" for tp in partitions])

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        # Make what was processed durable and commit it before another member takes over.
        self._checkpoint(sync=True, in_rebalance=True)
        self._assigned -= revoked
        self._log.info("partitions.revoked", partitions=[f"{t}[{p}]" for t, p in sorted(revoked)])

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions}
        for tp in lost:
            self._pending.pop(tp, None)  # another member owns them now; it will replay
            self._replay_from.pop(tp, None)
        self._assigned -= lost
        self._log.warning("partitions.lost", partitions=[f"{t}[{p}]" for t, p in sorted(lost)])

    def _kafka_error(self, err: KafkaError) -> None:
        if err.code() == KafkaError._PARTITION_EOF:
            return
        if err.fatal():
            raise FatalError(f"Kafka: {err.str()}")
        self._log.warning("kafka.error", error=err.str(), retriable=err.retriable())

    def _maybe_report_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag < 5.0:
            return
        self._last_lag = now
        for topic, partition in list(self._assigned):
            tp = TopicPartition(topic, partition)
            try:
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
                pos = self.consumer.position([tp])[0].offset
            except KafkaException:
                continue
            if high >= 0 and pos >= 0:
                metrics.LAG.labels(self.worker.name, topic, str(partition)).set(high - pos)
