"""The Ray Data side of `ladle enrich`: a callable class that loads the engine once per
actor and tags one chunk per call with the same Tagger as the streaming worker."""

from __future__ import annotations

import asyncio
import json

import pyarrow as pa

from schemas import CatalogChange
from workers.enricher.engines.base import EngineSpec
from workers.enricher.tagging import Outcome, Tagger


class TagBatch:
    """The Ray Data UDF: loads the engine once per actor, tags one chunk per call."""

    def __init__(self, tagger: Tagger, spec: EngineSpec) -> None:
        from workers.enricher.engines import make_engine

        self.tagger = tagger
        self.engine = make_engine(spec)
        self.loop = asyncio.new_event_loop()

    def __call__(self, batch: pa.Table) -> pa.Table:
        changes = [CatalogChange.model_validate_json(s) for s in batch.column("change").to_pylist()]
        jobs = [self.tagger.job(c, None) for c in changes]
        outcomes = self.tagger.run(jobs, lambda reqs: self.loop.run_until_complete(self.engine.generate(reqs)))
        return pa.Table.from_pylist([row(o) for o in outcomes])


def row(o: Outcome) -> dict:
    r = o.result
    status = "ok" if o.ok else "retry" if o.transient else "failed"
    return {
        "key": o.job.key,
        "item_id": r.item_id,
        "item_version": r.item_version,
        "task": r.task,
        "status": status,
        "error": None if o.ok else str(o.error),
        "output": json.dumps(r.output) if o.ok else None,
        "raw_output": r.raw_output,
        "engine": r.engine,
        "model": r.model,
        "prompt_name": r.prompt.name,
        "prompt_version": r.prompt.version,
        "input_tokens": r.usage.input_tokens,
        "output_tokens": r.usage.output_tokens,
        "latency_ms": r.latency_ms,
        "ttft_ms": r.ttft_ms,
        "cost_usd": r.cost_usd,
        "attempts": r.attempts,
        "event_id": r.event_id,
        "result_json": r.model_dump_json() if o.ok else None,
        "calls_json": json.dumps([c.model_dump(mode="json") for c in o.calls]),
        "raw_json": o.raw_output if o.raw_output is not None else o.job.change.model_dump_json(),
        "dead": status == "failed",
        "error_class": None if o.ok else type(o.error).__name__,
    }
