"""Fine-tuning jobs on the real broker: a job's life (the fake training of the unit tests' kind, named
as one) goes onto finetune.jobs, keyed by job id, in order, and the sink lands every event in
chDB's finetune_jobs (one row each; events of one millisecond tie on occurred_at there)."""

from __future__ import annotations

import pytest

from schemas import FineTuneJob
from shared.finetune import jobs
from shared.finetune.jobs import Cancelled
from tests.integration.kafka_helpers import read_all

pytestmark = pytest.mark.integration


def fake_training(started, progress, cancelled):
    """Stands in for `ladle finetune create`: two steps, then a card-like answer."""
    from types import SimpleNamespace

    from ladle.finetune.train import Progress

    started()
    for i in (1, 2):
        if cancelled():
            raise Cancelled("cancelled")
        progress(Progress(i, 2, 1.0 / i, 10 * i, 5.0, float(i), float(2 - i)))
    return SimpleNamespace(ref="food-group@9", train={"seconds": 2.0, "tokens": 20})


def test_job_events_reach_the_topic_and_land_in_clickhouse(settings, topics, store):
    from shared.pricing import Pricing
    from shared.runtime.worker import Record
    from workers.sink.worker import ClickHouseSink

    job = FineTuneJob(job_id="ftjob-events", status="validating_files", use_case="food-group", team="catalog")
    jobs.run(settings, job, fake_training, publisher=jobs.Publisher(settings))
    msgs = read_all(settings, "finetune.jobs", expected=6)
    events = [FineTuneJob.from_json(m.value()) for m in msgs]
    assert {m.key() for m in msgs} == {b"ftjob-events"}
    assert [(e.kind, e.status, e.step) for e in events] == [
        ("status", "validating_files", 0), ("status", "queued", 0), ("status", "running", 0),
        ("progress", "running", 1), ("progress", "running", 2), ("status", "succeeded", 2)]  # fmt: skip
    sink = ClickHouseSink(store, Pricing.load())
    sink.process_batch([Record(topic="finetune.jobs", partition=0, offset=i, key=None, value=e, raw=b"")
                        for i, e in enumerate(events)])  # fmt: skip
    sink.flush()
    rows = store.query("SELECT kind, status, step, fine_tuned_model FROM finetune_jobs FINAL")[1]
    assert sorted(tuple(r) for r in rows) == sorted([("status", "validating_files", 0, ""), ("status", "queued", 0, ""),
                                        ("status", "running", 0, ""), ("progress", "running", 1, ""),
                                        ("progress", "running", 2, ""), ("status", "succeeded", 2, "food-group@9")])  # fmt: skip
