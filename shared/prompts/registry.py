"""The registry's state, materialized from the compacted `prompts` topic.

Every record is a prompt's whole state (latest revision wins; compaction keeps
it), so a consumer reads the topic from the start to its end once (`load`) and
then follows it (`follow`). Writers publish the next state and wait for the ack.
"""

from __future__ import annotations

import threading
import uuid

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from schemas import PromptState
from shared.kafka import clients
from shared.prompts import model
from shared.runtime import codec
from shared.runtime.errors import FatalError
from shared.settings import LadleSettings
from topics.registry import Namespace

log = structlog.get_logger(__name__)


def _high_watermark(c: Consumer, tp: TopicPartition, timeout_s: float = 30.0) -> int:
    """Retries while a new topic's leader is still being elected."""
    import time

    from confluent_kafka import KafkaError, KafkaException

    transient = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                 KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._TRANSPORT}  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return c.get_watermark_offsets(tp, timeout=10)[1]
        except KafkaException as exc:
            err = exc.args[0]
            if not (err.retriable() or err.code() in transient) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class PromptRegistry:
    def __init__(self, settings: LadleSettings) -> None:
        self.settings = settings
        self.topic = Namespace(settings.topic_prefix).physical("prompts")
        self.states: dict[str, PromptState] = {}
        self._lock = threading.Lock()
        self._consumer: Consumer | None = None
        self._stop = threading.Event()

    # -- reading -------------------------------------------------------------

    def apply(self, state: PromptState) -> None:
        with self._lock:
            current = self.states.get(state.name)
            if current is None or state.revision > current.revision:
                self.states[state.name] = state

    def _poll_into(self, consumer: Consumer, timeout: float) -> int:
        n = 0
        for m in consumer.consume(500, timeout):
            if m.error():
                continue
            if m.value() is None:  # a tombstone deletes the prompt
                with self._lock:
                    self.states.pop(m.key().decode(), None)
                continue
            try:
                self.apply(PromptState.from_json(m.value()))
                n += 1
            except ValueError as exc:
                log.error("prompts.unreadable_record", offset=m.offset(), error=codec.one_line(exc))
        return n

    def load(self, timeout_s: float = 30.0) -> PromptRegistry:
        """Read the topic from its start to its current end."""
        clients.require_broker(self.settings)
        c = Consumer(clients.consumer_config(self.settings, f"ladle-prompts-{uuid.uuid4().hex[:8]}"))
        meta = c.list_topics(self.topic, timeout=10).topics.get(self.topic)
        if meta is None or meta.error:
            raise FatalError(f"topic {self.topic} is missing; run `ladle topics apply`")
        parts = [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        ends = {p.partition: _high_watermark(c, p) for p in parts}
        c.assign(parts)
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._poll_into(c, 0.2)
            positions = {tp.partition: tp.offset for tp in c.position(parts)}
            if all(ends[p] == 0 or positions.get(p, -1) >= ends[p] for p in ends):
                break
        else:
            raise FatalError(f"could not read {self.topic} to its end within {timeout_s}s")
        self._consumer = c
        return self

    def follow(self) -> None:
        """Keep the states current in a daemon thread (after `load`)."""

        def run() -> None:
            while not self._stop.is_set():
                self._poll_into(self._consumer, 0.5)

        threading.Thread(target=run, name="prompts-follower", daemon=True).start()

    def close(self) -> None:
        self._stop.set()

    def get(self, name: str) -> PromptState:
        with self._lock:
            state = self.states.get(name)
        if state is None:
            raise model.PromptNotFound(f"no prompt named {name!r}; known: {', '.join(sorted(self.states)) or 'none'}")
        return state

    # -- writing ---------------------------------------------------------------

    def publish(self, state: PromptState) -> PromptState:
        p = clients.producer(self.settings, **{"client.id": "ladle-prompts"})
        errors = []
        p.produce(self.topic, codec.encode(state), state.name, on_delivery=lambda e, m: e and errors.append(e))
        if p.flush(30) or errors:
            raise FatalError(f"publishing prompt {state.name} failed: {errors or 'timed out'}")
        self.apply(state)
        return state

    def push(self, name: str, template: str, **kw) -> PromptState:
        return self.publish(model.with_version(self.states.get(name), name, template, **kw))

    def promote(self, name: str, version: int, label: str = model.DEFAULT_LABEL) -> PromptState:
        return self.publish(model.with_label(self.get(name), label, version))

    def set_ab(self, name: str, weights: dict[str, float]) -> PromptState:
        return self.publish(model.with_ab(self.get(name), weights))
