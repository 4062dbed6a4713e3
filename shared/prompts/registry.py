"""The registry's state, materialized from the compacted `prompts` topic.

Every record is a prompt's whole state (latest revision wins; compaction keeps
it), so a consumer reads the topic from the start to its end once (`load`) and
then follows it (`follow`). Writers publish the next state and wait for the ack.
"""

from __future__ import annotations

import threading

import structlog
from confluent_kafka import Consumer, Message

from schemas import PromptState
from shared.kafka import clients, read
from shared.prompts import model
from shared.runtime import codec
from shared.runtime.errors import FatalError
from shared.settings import LadleSettings
from topics.registry import Namespace

log = structlog.get_logger(__name__)


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

    def _apply_messages(self, messages: list[Message]) -> None:
        for m in messages:
            if m.value() is None:  # a tombstone deletes the prompt
                with self._lock:
                    self.states.pop(m.key().decode(), None)
                continue
            try:
                self.apply(PromptState.from_json(m.value()))
            except ValueError as exc:
                log.error("prompts.unreadable_record", offset=m.offset(), error=codec.one_line(exc))

    def load(self, timeout_s: float = 30.0) -> PromptRegistry:
        """Read the topic from its start to its current end."""
        c = read.reader(self.settings, "prompts")
        try:
            read.TopicReader(c, [self.topic]).read_to_end(self._apply_messages, batch_size=500, stall_s=timeout_s)
        except read.MissingTopic:
            c.close()
            raise FatalError(f"topic {self.topic} is missing; run `ladle topics apply`") from None
        except read.ReadStalled:
            c.close()
            raise FatalError(f"could not read {self.topic} to its end within {timeout_s}s") from None
        self._consumer = c
        return self

    def follow(self) -> None:
        """Keep the states current in a daemon thread (after `load`)."""

        def run() -> None:
            while not self._stop.is_set():
                self._apply_messages([m for m in self._consumer.consume(500, 0.5) if not m.error()])

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

    def promote(self, name: str, version: int, label: str = model.DEFAULT_LABEL, **move) -> PromptState:
        """Move ``label`` to ``version``; ``move`` (by, gate, forced, reason) goes into the history."""
        return self.publish(model.with_label(self.get(name), label, version, **move))

    def set_ab(self, name: str, weights: dict[str, float]) -> PromptState:
        return self.publish(model.with_ab(self.get(name), weights))
