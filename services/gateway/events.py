"""LLMCall events to llm.calls without blocking a response: produce() only queues."""

from __future__ import annotations

import threading

import structlog

from schemas import LLMCall
from shared.kafka import clients
from shared.runtime import codec
from shared.settings import LadleSettings
from topics.registry import Namespace

log = structlog.get_logger(__name__)


class CallEvents:
    def __init__(self, settings: LadleSettings) -> None:
        self.topic = Namespace(settings.topic_prefix).physical("llm.calls")
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
            log.error("llm_call.not_delivered", error=err.str(), key=msg.key())

    def emit(self, call: LLMCall) -> None:
        try:
            self.producer.produce(self.topic, codec.encode(call), call.call_id, on_delivery=self._delivered)
        except BufferError:
            self.failed += 1
            log.error("llm_call.queue_full", call_id=call.call_id)

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.producer.flush(timeout)
