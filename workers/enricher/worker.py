"""EnricherWorker: catalog.changes -> tags -> enrichment.results and llm.calls, on the shared runtime."""

from __future__ import annotations

import sys
import time
from typing import Protocol

import structlog

from shared.runtime.errors import Backpressure, FatalError
from shared.runtime.worker import BatchResult, Failed, Output, Record
from workers.enricher import metrics
from workers.enricher.engines.base import EngineRequest, EngineResult
from workers.enricher.pool import EnginePoolError
from workers.enricher.settings import EnricherSettings
from workers.enricher.state import DoneState
from workers.enricher.tagging import Job, Outcome, Tagger

log = structlog.get_logger(__name__)

RESULTS, CALLS = "enrichment.results", "llm.calls"
MAX_CARRIED = 10_000


class Engines(Protocol):
    """The Ray actor pool, or anything else that answers a batch of requests."""

    def generate(self, requests: list[EngineRequest]) -> list[EngineResult]: ...

    def close(self) -> None: ...


class EnricherWorker:
    """Tags each upsert unless its content and prompt version were already tagged.

    Per record: one EnrichmentResult and one LLMCall per model call, or a dead
    letter carrying the model's raw output when it stayed malformed after the
    retries (its LLMCalls are still published: they cost money).
    """

    name = "enricher"

    def __init__(self, settings: EnricherSettings, tagger: Tagger, engines: Engines, state: DoneState) -> None:
        self.settings = settings
        self.input_topics = [settings.input_topic]
        self.tagger = tagger
        self.engines = engines
        self.state = state
        self.use_case = tagger.use_case.name
        # Results of a batch that hit Backpressure: the retried batch reuses them instead of paying again.
        self._carry: dict[tuple[str, str], Outcome] = {}
        self.on_close: list = []  # extra clean-ups (Ray shutdown) that build() adds

    def process_batch(self, batch: list[Record]) -> BatchResult:
        t0 = time.perf_counter()
        by_key: dict[str, Job] = {}
        for r in batch:
            job = self.tagger.job(r.value, r)
            if job is None:
                metrics.ITEMS.labels(self.use_case, "deleted").inc()
            else:  # the same content twice in a batch is tagged once, for its latest version
                by_key.pop(job.key, None)
                by_key[job.key] = job
        jobs = list(by_key.values())
        seen = self.state.seen([j.key for j in jobs])
        todo = [j for j in jobs if j.key not in seen]
        if len(todo) < len(jobs):
            metrics.ITEMS.labels(self.use_case, "skipped").inc(len(jobs) - len(todo))
        outcomes = self._tag(todo)
        out = BatchResult()
        done: dict[str, str] = {}
        for o in outcomes:
            record: Record = o.job.ref
            for call in o.calls:
                out.outputs.append(Output(CALLS, call.call_id, call, record))
            if o.ok:
                out.outputs.append(Output(RESULTS, o.result.item_id, o.result, record))
                done[o.job.key] = o.result.item_id
            else:
                out.failed.append(Failed(record, o.error, raw_output=o.raw_output))
        self.state.add(done)
        if todo:
            log.info(
                "batch.tagged",
                items=len(batch),
                enriched=len(done),
                failed=len(out.failed),
                skipped=len(jobs) - len(todo),
                seconds=round(time.perf_counter() - t0, 3),
            )
        return out

    def _tag(self, jobs: list[Job]) -> list[Outcome]:
        carried = {_ck(j): self._carry.pop(_ck(j)) for j in jobs if _ck(j) in self._carry}
        fresh = [j for j in jobs if _ck(j) not in carried]
        try:
            outcomes = self.tagger.run(fresh, self.engines.generate) if fresh else []
        except EnginePoolError as exc:
            raise FatalError(f"engine pool: {exc}") from exc
        by_key = {_ck(o.job): o for o in outcomes}
        transient = [o for o in outcomes if o.transient]
        if transient:
            # The endpoint is rate-limiting or down: pause and retry, never dead-letter for that.
            if len(self._carry) > MAX_CARRIED:  # the batch never came back (rebalanced away)
                self._carry.clear()
            self._carry.update({_ck(o.job): o for o in outcomes if not o.transient})
            self._carry.update(carried)
            raise Backpressure(f"{len(transient)} items failed in the engine: {transient[0].error}", retry_after=5.0)
        merged = []
        for j in jobs:
            o = carried.get(_ck(j)) or by_key[_ck(j)]
            o.job.ref = j.ref  # the carried outcome answers this batch's record
            merged.append(o)
        return merged

    def flush(self) -> None:
        self.state.checkpoint()

    def close(self) -> None:
        # Inside the runtime's `finally`: an exception in flight means it crashed, and the
        # last checkpoint's producer flush may not have happened (see state.py).
        clean = sys.exc_info()[0] is None
        try:
            self.engines.close()
        finally:
            self.state.close(clean=clean)
            for fn in self.on_close:
                fn()


def _ck(job: Job) -> tuple[str, str]:
    return job.key, job.change.event_id
