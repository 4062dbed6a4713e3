"""EnricherWorker.process_batch with a scripted engine: outputs, skips, dead letters, backpressure."""

from __future__ import annotations

import json

import pytest

from schemas import EnrichmentResult, LLMCall
from shared.runtime.errors import Backpressure, FatalError
from shared.runtime.worker import Record
from tests.unit.enricher_fakes import GOOD, FakeEngine, change, tagger
from workers.enricher.engines.base import EngineResult
from workers.enricher.parse import MalformedOutput
from workers.enricher.pool import EnginePoolError
from workers.enricher.settings import EnricherSettings
from workers.enricher.state import DoneState
from workers.enricher.worker import EnricherWorker


def record(c, offset=0):
    return Record("catalog.changes", 0, offset, c.item_id, c, c.model_dump_json().encode())


def make(tmp_path, engine=None, **kw):
    engine = engine or FakeEngine()
    return EnricherWorker(EnricherSettings(), tagger(**kw), engine, DoneState(tmp_path / "done.sqlite")), engine


def test_one_result_and_its_calls_per_upsert_and_nothing_for_a_delete(tmp_path):
    w, eng = make(tmp_path)
    batch = [record(change(i), i) for i in range(3)] + [record(change(9, op="delete"), 3)]
    res = w.process_batch(batch)
    results = [o for o in res.outputs if o.topic == "enrichment.results"]
    calls = [o for o in res.outputs if o.topic == "llm.calls"]
    assert [o.key for o in results] == ["item-0000", "item-0001", "item-0002"]
    assert all(isinstance(o.value, EnrichmentResult) and o.value.output == GOOD for o in results)
    assert all(isinstance(o.value, LLMCall) and o.key == o.value.call_id for o in calls) and len(calls) == 3
    assert [o.source for o in results] == batch[:3] and not res.failed


def test_already_enriched_content_is_skipped_even_at_a_new_version(tmp_path):
    w, eng = make(tmp_path)
    w.process_batch([record(change(1))])
    w.flush()
    res = w.process_batch([record(change(1, version=2, price=99)), record(change(2))])
    assert [o.key for o in res.outputs if o.topic == "enrichment.results"] == ["item-0002"]
    assert len(eng.requests) == 2
    res = w.process_batch([record(change(1, version=3, name="New recipe"))])
    assert len([o for o in res.outputs if o.topic == "enrichment.results"]) == 1


def test_the_same_content_twice_in_a_batch_is_tagged_once_for_its_latest_version(tmp_path):
    w, eng = make(tmp_path)
    res = w.process_batch([record(change(1), 0), record(change(1, version=2, price=11), 1)])
    [result] = [o for o in res.outputs if o.topic == "enrichment.results"]
    assert result.value.item_version == 2 and result.source.offset == 1 and len(eng.requests) == 1


def test_malformed_output_is_dead_lettered_with_the_raw_output_and_its_calls_published(tmp_path):
    w, eng = make(
        tmp_path, FakeEngine(lambda r: "no idea" if "Pizza 2" in r.messages[1]["content"] else json.dumps(GOOD))
    )
    res = w.process_batch([record(change(1), 0), record(change(2), 1)])
    [f] = res.failed
    assert f.record.key == "item-0002" and isinstance(f.error, MalformedOutput) and f.raw_output == "no idea"
    failed_calls = [o for o in res.outputs if o.topic == "llm.calls" and o.value.status == "error"]
    assert len(failed_calls) == 3
    w.flush()
    w.flush()
    assert w.state.count() == 1  # only the tagged item counts as done


def test_a_rate_limited_engine_pauses_and_the_retry_reuses_finished_results(tmp_path):
    limited = {"on": True}

    def reply(req):
        if limited["on"] and "Pizza 2" in req.messages[1]["content"]:
            return EngineResult(id="", status="rate_limited", error="RateLimitError")
        return json.dumps(GOOD)

    w, eng = make(tmp_path, FakeEngine(reply))
    batch = [record(change(1), 0), record(change(2), 1)]
    with pytest.raises(Backpressure):
        w.process_batch(batch)
    assert w.state.seen([w.tagger.job(change(1)).key]) == set()  # nothing published, nothing done
    limited["on"] = False
    calls_before = len(eng.requests)
    res = w.process_batch(batch)
    assert len([o for o in res.outputs if o.topic == "enrichment.results"]) == 2
    assert len(eng.requests) == calls_before + 1  # item 1 came from the carried result


def test_a_pool_that_cannot_get_through_is_fatal(tmp_path):
    class Dead(FakeEngine):
        def generate(self, requests):
            raise EnginePoolError("3 actors failed")

    w, _ = make(tmp_path, Dead())
    with pytest.raises(FatalError, match="engine pool"):
        w.process_batch([record(change(1))])


def test_close_keeps_the_last_checkpoint_only_when_clean(tmp_path):
    w, eng = make(tmp_path)
    w.process_batch([record(change(1))])
    w.flush()
    w.close()
    assert eng.closed and DoneState(tmp_path / "done.sqlite").count() == 1

    w2, _ = make(tmp_path / "crash")
    w2.process_batch([record(change(1))])
    w2.flush()
    try:
        raise FatalError("publishing failed")
    except FatalError:
        w2.close()  # as the runtime does, from its `finally` with the error in flight
    assert DoneState(tmp_path / "crash" / "done.sqlite").count() == 0
