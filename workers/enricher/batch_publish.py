"""Publishing a batch run's finished chunk: results, model calls and dead letters, flushed."""

from __future__ import annotations

import json

import pyarrow as pa

from shared.kafka import clients
from shared.runtime import codec
from shared.runtime.errors import FatalError
from shared.settings import LadleSettings
from topics.registry import DLQ_SUFFIX, Namespace
from workers.enricher.parse import MalformedOutput
from workers.enricher.tagging import EngineError

RESULTS, CALLS, INPUT = "enrichment.results", "llm.calls", "catalog.changes"
_ERRORS = {"MalformedOutput": MalformedOutput, "EngineError": EngineError}


class Publisher:
    def __init__(self, settings: LadleSettings, source: str) -> None:
        clients.require_broker(settings)
        ns = Namespace(settings.topic_prefix)
        self.results, self.calls = ns.physical(RESULTS), ns.physical(CALLS)
        self.dlq = ns.physical(INPUT + DLQ_SUFFIX)
        self.source = source
        self.errors: list[str] = []
        self.producer = clients.producer(
            settings, **{"client.id": "ladle-enrich", "delivery.report.only.error": True, "on_delivery": self._report}
        )

    def _report(self, err, msg) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err.str()}")

    def publish(self, table: pa.Table) -> None:
        names = ("item_id", "result_json", "calls_json", "raw_json", "dead", "error", "error_class")
        cols = {n: table.column(n).to_pylist() for n in names}
        for i, item_id in enumerate(cols["item_id"]):
            for call in json.loads(cols["calls_json"][i]):
                self._send(self.calls, call["call_id"], json.dumps(call).encode())
            if cols["result_json"][i] is not None:
                self._send(self.results, item_id, cols["result_json"][i].encode())
            elif cols["dead"][i]:
                exc = _ERRORS.get(cols["error_class"][i], MalformedOutput)(cols["error"][i] or "")
                dl = codec.dead_letter(
                    topic=INPUT,
                    partition=-1,
                    offset=-1,
                    key=item_id,
                    raw=cols["raw_json"][i].encode(),
                    exc=exc,
                    worker="ladle-enrich",
                    source=f"{self.source}:{item_id}",
                )
                self._send(self.dlq, item_id, codec.encode(dl))
        self.flush()

    def _send(self, topic: str, key: str, value: bytes) -> None:
        clients.produce_waiting(self.producer, topic, value, key)

    def flush(self) -> None:
        while self.producer.flush(1.0) > 0:
            pass
        if self.errors:
            errors, self.errors = self.errors[:5], []
            raise FatalError(f"publishing failed: {'; '.join(errors)}")

    def close(self) -> None:
        self.producer.flush(30)
