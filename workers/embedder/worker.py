"""EmbedderWorker: catalog.changes -> the vector index -> catalog.embedded, on the shared runtime."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

from shared.runtime.errors import Backpressure, FatalError
from shared.runtime.worker import BatchResult, Failed, Output, Record
from workers.embedder import metrics
from workers.embedder.apply import Index, apply_changes, embedded_event
from workers.embedder.collections import Collections
from workers.embedder.settings import EmbedderSettings

log = structlog.get_logger(__name__)


class EmbedderWorker:
    """Applies each batch to the current index and emits one CatalogEmbedded per applied change.

    ``lock`` is held while a batch is applied and while the index is flushed; a
    reindex takes it for its final catch-up and the switch, so no batch ever sees
    half of a switch. Searches do not take it: they read ``index`` through
    ``reading()``, and a switched-out index is closed once its last search ends.
    """

    name = "embedder"

    def __init__(self, settings: EmbedderSettings, index: Index, collections: Collections) -> None:
        self.settings = settings
        self.input_topics = [settings.input_topic]
        self.output_topic = settings.output_topic
        self.index = index
        self.collections = collections
        self.lock = threading.RLock()
        self._readers: dict[int, int] = {}
        self._readers_cv = threading.Condition()
        self.api = None  # the search API server, when build() started one
        self.reindex_job = None

    def process_batch(self, batch: list[Record]) -> BatchResult:
        with self.lock:
            index = self.index
            res = apply_changes([(r.value, r) for r in batch], index)
        out = self.output_topic
        outputs = []
        observe = metrics.FRESHNESS.observe
        for a in res.applied:
            ev = embedded_event(a, index.info)
            if not a.replay:
                observe(ev.freshness_ms / 1000.0)
            outputs.append(Output(out, a.change.item_id, ev, a.ref))
        return BatchResult(outputs=outputs, failed=[Failed(ref, exc) for ref, exc in res.failed])

    def flush(self) -> None:
        with self.lock:
            t0 = time.perf_counter()
            try:
                self.index.store.flush()
            except (Backpressure, FatalError):
                raise
            except Exception as exc:  # noqa: BLE001
                raise FatalError(f"vector store flush failed: {exc}") from exc
            metrics.STORE_SECONDS.labels("flush").observe(time.perf_counter() - t0)

    def close(self) -> None:
        if self.reindex_job is not None:
            self.reindex_job.cancel()
        if self.api is not None:
            self.api.stop()
        with self.lock:
            self.index.store.close()

    # -- searches and the switch to a new index -------------------------------

    @contextmanager
    def reading(self) -> Iterator[Index]:
        with self._readers_cv:
            index = self.index
            self._readers[id(index)] = self._readers.get(id(index), 0) + 1
        try:
            yield index
        finally:
            with self._readers_cv:
                self._readers[id(index)] -= 1
                self._readers_cv.notify_all()

    def swap(self, new: Index) -> Index:
        """Make ``new`` the index (call with ``lock`` held); returns the old one once no search uses it."""
        with self._readers_cv:
            old, self.index = self.index, new
            self._readers_cv.wait_for(lambda: self._readers.get(id(old), 0) == 0, timeout=30)
            self._readers.pop(id(old), None)
        return old
