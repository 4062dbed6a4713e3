"""Fine-tuning jobs' life cycle (shared.finetune.jobs) with a fake training function: OpenAI's statuses
in order with progress events between, cancel at the next step, and a job whose process died marked
failed by the next start. No broker: the events go to the job's folder only (Publisher(publish=False))."""

from __future__ import annotations

import socket
import subprocess
from types import SimpleNamespace

import pytest

from ladle.finetune.train import Progress
from schemas import FineTuneJob
from shared.finetune import jobs
from shared.finetune.jobs import Cancelled
from shared.runtime.errors import UserError
from shared.settings import LadleSettings


def fake_training(steps: int, on_step=None):
    """A stand-in for create(): reports `steps` progress events, then returns a card-like object."""

    def work(started, progress, cancelled):
        started()
        for i in range(1, steps + 1):
            if cancelled():
                raise Cancelled(f"cancelled at step {i - 1} of {steps}")
            progress(Progress(i, steps, 1.0 / i, 100 * i, 50.0, 2.0 * i, 2.0 * (steps - i)))
            if on_step:
                on_step(i)
        return SimpleNamespace(ref="food-group@3", train={"seconds": 6.5, "tokens": 100 * steps})

    return work


def new_job(ladle) -> FineTuneJob:
    return FineTuneJob(job_id=jobs.new_job_id(), status="validating_files", use_case="food-group",
                       training_files=["food-group-train"])  # fmt: skip


def test_a_job_goes_through_openai_statuses_with_progress_between(tmp_path):
    ladle = LadleSettings(data_dir=tmp_path)
    job = new_job(ladle)
    card = jobs.run(ladle, job, fake_training(3), publisher=jobs.Publisher(ladle, publish=False))
    assert card.ref == "food-group@3"
    seen = [(e.kind, e.status, e.step) for e in jobs.events(ladle, job.job_id)]
    assert seen == [("status", "validating_files", 0), ("status", "queued", 0), ("status", "running", 0),
                    ("progress", "running", 1), ("progress", "running", 2), ("progress", "running", 3),
                    ("status", "succeeded", 3)]  # fmt: skip
    final = jobs.load(ladle, job.job_id)
    assert (final.status, final.fine_tuned_model, final.trained_tokens, final.machine_s) == (
        "succeeded", "food-group@3", 300, 6.5)  # fmt: skip
    assert len({e.event_id for e in jobs.events(ladle, job.job_id)}) == 7
    assert [j.job_id for j in jobs.list_jobs(ladle)] == [job.job_id]
    with pytest.raises(UserError, match="is succeeded already"):
        jobs.cancel(ladle, job.job_id)


def test_cancel_stops_a_running_job_at_its_next_step(tmp_path):
    ladle = LadleSettings(data_dir=tmp_path)
    job = new_job(ladle)
    pub = jobs.Publisher(ladle, publish=False)
    asked = []

    def on_step(i: int) -> None:
        if i == 2:
            asked.append(jobs.cancel(ladle, job.job_id, publisher=pub))

    with pytest.raises(Cancelled, match="cancelled at step 2 of 5"):
        jobs.run(ladle, job, fake_training(5, on_step), publisher=pub)
    assert asked[0].status == "running"  # asked while it ran: the job itself stops
    final = jobs.load(ladle, job.job_id)
    assert (final.status, final.step) == ("cancelled", 2)


def test_a_job_whose_process_died_is_marked_failed_on_the_next_start(tmp_path):
    ladle = LadleSettings(data_dir=tmp_path)
    pub = jobs.Publisher(ladle, publish=False)
    dead = subprocess.Popen(["true"])
    dead.wait()
    job = pub.emit(
        new_job(ladle).model_copy(update={"status": "running", "owner": f"{socket.gethostname()}:{dead.pid}"})
    )
    elsewhere = pub.emit(new_job(ladle).model_copy(update={"status": "running", "owner": "other-host:1"}))
    marked = jobs.reap(ladle, pub)
    assert [(j.job_id, j.status) for j in marked] == [(job.job_id, "failed")]
    assert jobs.load(ladle, job.job_id).error == f"owner process {socket.gethostname()}:{dead.pid} died"
    assert jobs.load(ladle, elsewhere.job_id).status == "running"
    assert jobs.reap(ladle, pub) == []
    with pytest.raises(UserError, match="no fine-tuning job 'ftjob-nope'"):
        jobs.load(ladle, "ftjob-nope")
