"""Re-embedding the catalog with another model, without downtime.

A new collection (named after the model and its dimension) is filled from
catalog.changes, read from the beginning with the same apply logic as the live
worker. Then, holding the live worker's batch lock so no batch runs meanwhile,
it reads the topic up to its current end once more, becomes the current
collection in one atomic step (the alias on a server, the pointer file on Edge)
and the live worker continues on it. Every offset the live worker had committed
is below that end, so nothing it applied is missing from the new collection;
what it replays afterwards is the same version again and changes nothing.
Only then is the old collection removed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import structlog

from shared.encoder import Encoder
from shared.kafka import read
from shared.runtime import codec
from shared.runtime.errors import BadMessage, FatalError, LadleError
from shared.settings import LadleSettings
from topics.registry import TOPICS, Namespace
from workers.embedder.apply import Index, apply_changes
from workers.embedder.collections import Collections, build_stamp, new_info
from workers.embedder.settings import EmbedderSettings
from workers.embedder.text import TextTemplate

log = structlog.get_logger(__name__)

DONE = ("done", "failed", "cancelled")


@dataclass
class ReindexState:
    model: str
    phase: str = "starting"  # loading_model, building, switching, optimizing (standalone), done, failed, cancelled
    collection: str = ""
    previous: str = ""
    processed: int = 0  # messages read from the topic
    total: int = 0  # messages in the topic when the current pass started
    embedded: int = 0
    invalid: int = 0  # messages that do not validate (the live worker dead-letters them)
    error: str = ""
    seconds: float = 0.0
    started: float = field(default_factory=time.monotonic, repr=False)

    def public(self) -> dict:
        d = asdict(self)
        d.pop("started")
        d["seconds"] = round(time.monotonic() - self.started, 3) if self.phase not in DONE else self.seconds
        return d


class Reindexer:
    def __init__(
        self,
        ladle: LadleSettings,
        settings: EmbedderSettings,
        collections: Collections,
        model: str,
        *,
        encoder: Encoder | None = None,
        on_progress: Callable[[ReindexState], None] | None = None,
    ) -> None:
        self.ladle = ladle
        self.settings = settings
        self.collections = collections
        self.state = ReindexState(model=model)
        self._encoder = encoder
        self._on_progress = on_progress or (lambda s: None)
        self._cancel = threading.Event()
        self._reader: read.TopicReader | None = None
        self._topic = Namespace(ladle.topic_prefix).physical(settings.input_topic)
        self._spec = TOPICS[settings.input_topic]

    def cancel(self) -> None:
        self._cancel.set()

    # -- the steps -------------------------------------------------------------

    def build(self) -> Index:
        """A new collection filled from the start of the topic up to (about) its end."""
        s = self.settings
        self.state.phase = "loading_model"
        self._on_progress(self.state)
        encoder = self._encoder or s.load_encoder(self.state.model)
        info = new_info(s.collection, self.state.model, encoder.dim, build_stamp())
        self.state.collection = info.name
        index = Index(info, self.collections.create(info), encoder, TextTemplate(s.text_template))
        self.state.phase = "building"
        self._on_progress(self.state)
        try:
            self._open_consumer()
            self._catch_up(index)
            self._catch_up(index)  # what arrived during the first pass, so the final step is short
        except BaseException:
            self._discard(index)
            raise
        return index

    def finish(self, index: Index) -> None:
        """The last catch-up, to the end of the topic now; call it with the live stream held."""
        self.state.phase = "switching"
        self._on_progress(self.state)
        self._catch_up(index)
        index.store.flush()
        self._close_consumer()

    def _discard(self, index: Index) -> None:
        self._close_consumer()
        try:
            index.store.close()
        finally:
            self.collections.drop(index.info.name)

    # -- reading the topic -----------------------------------------------------

    def _open_consumer(self) -> None:
        try:
            self._reader = read.TopicReader(read.reader(self.ladle, "embedder-reindex"), [self._topic])
        except read.MissingTopic:
            raise FatalError(f"topic {self._topic} not found; run `ladle topics apply`") from None

    def _close_consumer(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _catch_up(self, index: Index) -> None:
        r = self._reader
        assert r is not None
        ends = r.ends()
        self.state.total = self.state.processed + r.remaining(ends)
        self._on_progress(self.state)

        def apply(msgs) -> None:
            items = []
            for m in msgs:
                try:
                    rec = codec.decode(
                        self._spec, self.settings.input_topic, m.partition(), m.offset(), m.key(), m.value()
                    )
                except BadMessage:
                    self.state.invalid += 1
                    continue
                items.append((rec.value, rec))
            res = apply_changes(items, index)
            self.state.processed += len(msgs)
            self.state.embedded += res.embedded
            self._on_progress(self.state)

        try:
            r.read_to_end(apply, ends, batch_size=self.settings.max_batch_size, stall_s=None,
                          cancelled=self._cancel.is_set)  # fmt: skip
        except read.ReadCancelled:
            raise LadleError("reindex cancelled") from None


def run_standalone(reindexer: Reindexer) -> ReindexState:
    """Reindex in this process, which must own the index (no embedder service running on it)."""
    cols = reindexer.collections
    state = reindexer.state
    old = cols.current()
    # Holding the current collection open keeps a service from starting on it meanwhile (Edge: one process).
    guard = cols.open_reader(old) if old is not None and cols.kind == "edge" else None
    try:
        state.previous = old.name if old else ""
        index = reindexer.build()
        switched = False
        try:
            reindexer.finish(index)
            state.phase = "optimizing"
            reindexer._on_progress(state)
            index.store.optimize()  # offline here: nothing else runs in this process
            cols.switch(index.info)
            switched = True
        finally:
            index.store.close()
            if not switched:
                cols.drop(index.info.name)
    except BaseException as exc:
        state.phase, state.error = ("failed", str(exc)) if not isinstance(exc, KeyboardInterrupt) else ("cancelled", "")
        state.seconds = round(time.monotonic() - state.started, 3)
        raise
    finally:
        if guard is not None:
            guard.close()
    if old is not None and old.name != state.collection:
        cols.drop(old.name)
    state.phase = "done"
    state.seconds = round(time.monotonic() - state.started, 3)
    reindexer._on_progress(state)
    log.info("reindex.done", **state.public())
    return state


class ReindexJob:
    """A reindex inside the running embedder service, which keeps serving meanwhile."""

    def __init__(self, worker, reindexer: Reindexer) -> None:
        self.worker = worker
        self.reindexer = reindexer
        self.state = reindexer.state
        self.thread = threading.Thread(target=self._run, name="ladle-reindex", daemon=True)

    def start(self) -> ReindexJob:
        self.thread.start()
        return self

    def cancel(self) -> None:
        self.reindexer.cancel()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(30)

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def _run(self) -> None:
        w, r, state = self.worker, self.reindexer, self.state
        try:
            state.previous = w.index.info.name
            index = r.build()
            with w.lock:  # no live batch runs until the new index is the index
                try:
                    r.finish(index)
                    w.collections.switch(index.info)
                except BaseException:
                    r._discard(index)
                    raise
                old = w.swap(index)
            old.store.close()
            if old.info.name != index.info.name:
                w.collections.drop(old.info.name)
            state.phase = "done"
            log.info("reindex.done", **state.public())
        except BaseException as exc:  # noqa: BLE001 - reported through the API
            state.phase = "cancelled" if r._cancel.is_set() else "failed"
            state.error = " ".join(str(exc).split())[:500]
            log.error("reindex.failed", error=state.error, collection=state.collection)
        finally:
            state.seconds = round(time.monotonic() - state.started, 3)
