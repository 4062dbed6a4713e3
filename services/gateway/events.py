"""LLMCall events to llm.calls and guardrail verdicts to guardrail.verdicts, without blocking
a response: produce() only queues."""

from __future__ import annotations

import threading

import structlog

from schemas import GuardrailVerdict, LLMCall
from shared.kafka import clients
from shared.runtime import codec
from shared.settings import LadleSettings
from topics.registry import Namespace

log = structlog.get_logger(__name__)


class CallEvents:
    def __init__(self, settings: LadleSettings) -> None:
        ns = Namespace(settings.topic_prefix)
        self.topic, self.verdicts_topic = ns.physical("llm.calls"), ns.physical("guardrail.verdicts")
        self.producer = clients.producer(settings, **{"client.id": "ladle-gateway", "linger.ms": 20})
        self.failed = 0
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="llm-calls-poller", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.2)

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.failed += 1
            log.error("gateway_event.not_delivered", topic=msg.topic(), error=err.str(), key=msg.key())

    def emit(self, call: LLMCall) -> None:
        self._produce(self.topic, call, call.call_id)

    def verdict(self, verdict: GuardrailVerdict) -> None:
        self._produce(self.verdicts_topic, verdict, verdict.subject_id)

    def _produce(self, topic: str, event, key: str) -> None:
        try:
            self.producer.produce(topic, codec.encode(event), key, on_delivery=self._delivered)
        except BufferError:
            self.failed += 1
            log.error("gateway_event.queue_full", topic=topic, key=key)

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.producer.flush(timeout)
