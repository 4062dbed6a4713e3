"""Fine-tuning jobs as events (`ladle finetune`, the gateway's /v1/fine_tuning/jobs): every status change and progress report goes onto finetune.jobs (the
sink lands it in ClickHouse's finetune_jobs) when a broker answers, and into the job's folder under
<LADLE_DATA_DIR>/finetune/jobs/ (job.json: the job as its latest event has it; events.jsonl), which `ladle finetune
list|show|cancel` and the gateway read.

Cancel: a marker file the training loop checks between steps. A job found running (or queued)
whose owner process on this host is gone is marked failed by the next start (``reap``), never left
running.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import structlog

from schemas import FineTuneJob
from schemas.finetune import FINAL
from shared.runtime.errors import UserError
from shared.settings import LadleSettings

log = structlog.get_logger(__name__)


def jobs_dir(ladle: LadleSettings) -> Path:
    return Path(ladle.data_dir) / "finetune" / "jobs"


def new_job_id() -> str:
    return f"ftjob-{uuid.uuid4().hex[:24]}"


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Publisher:
    """finetune.jobs when a broker answers (checked once); the job's folder always."""

    def __init__(self, ladle: LadleSettings, publish: bool = True) -> None:
        self.ladle = ladle
        self._producer = None
        self._topic = ""
        if publish:
            from shared.kafka import clients
            from topics.registry import Namespace

            try:
                clients.require_broker(ladle, timeout=1.0)
            except UserError as exc:
                log.warning("finetune.jobs_unpublished", reason=str(exc))
            else:
                self._producer = clients.producer(ladle, **{"client.id": "ladle-finetune"})
                self._topic = Namespace(ladle.topic_prefix).physical("finetune.jobs")

    def emit(self, job: FineTuneJob) -> FineTuneJob:
        job = FineTuneJob.model_validate(job.model_dump(exclude={"event_id", "occurred_at"}))  # a new event, now
        folder = jobs_dir(self.ladle) / job.job_id
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "events.jsonl", "a") as f:
            f.write(job.model_dump_json() + "\n")
        self.save(job)
        if self._producer is not None:
            from shared.runtime import codec

            self._producer.produce(self._topic, codec.encode(job), key=job.job_id.encode())
            self._producer.poll(0)
        return job

    def save(self, job: FineTuneJob) -> FineTuneJob:
        """job.json: the job as its latest event has it (status, step, loss, owner)."""
        folder = jobs_dir(self.ladle) / job.job_id
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"job.json.{os.getpid()}.tmp"
        tmp.write_text(job.model_dump_json())
        tmp.replace(folder / "job.json")
        return job

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(30)


class Cancelled(Exception):
    """Training stopped because a cancel was asked for."""


def run(ladle: LadleSettings, job: FineTuneJob, work, *, publisher: Publisher | None = None):
    """Run ``work(started, progress, cancelled)`` as the job: validating_files, queued, running (when
    ``started`` is called), progress events, then succeeded (``work`` returns the adapter card),
    cancelled or failed. Returns the card, or raises what ``work`` raised after marking the job."""
    pub = publisher or Publisher(ladle)
    reap(ladle, pub)
    if (jobs_dir(ladle) / job.job_id / "job.json").is_file():  # the gateway recorded it: this process owns it now
        job = pub.save(load(ladle, job.job_id).model_copy(update={"owner": owner()}))
    else:
        job = pub.emit(job.model_copy(update={"status": "validating_files", "owner": owner()}))
    last = {"progress": None}

    def started() -> None:
        nonlocal job
        job = pub.emit(job.model_copy(update={"status": "queued"}))
        job = pub.emit(job.model_copy(update={"status": "running"}))

    def progress(p) -> None:
        last["progress"] = p
        pub.emit(job.model_copy(update={"kind": "progress", "step": p.step, "steps": p.steps, "loss": p.loss,
                                        "trained_tokens": p.tokens, "tokens_per_s": p.tokens_per_s, "eta_s": p.eta_s,
                                        "machine_s": p.elapsed_s,
                                        "message": f"step {p.step}/{p.steps}: training loss {p.loss:.4f}"}))  # fmt: skip

    def done(status: str, **extra):
        p = last["progress"]
        moved = {"step": p.step, "steps": p.steps, "trained_tokens": p.tokens, "machine_s": p.elapsed_s} if p else {}
        return pub.emit(job.model_copy(update={"status": status, "kind": "status", **moved, **extra}))

    try:
        try:
            card = work(started, progress, lambda: cancel_requested(ladle, job.job_id))
        except Cancelled as exc:
            done("cancelled", message=str(exc))
            raise
        except BaseException as exc:
            done("failed", error=f"{type(exc).__name__}: {exc}"[:1000])
            raise
        done("succeeded", fine_tuned_model=card.ref, machine_s=card.train.get("seconds", 0.0),
             trained_tokens=card.train.get("tokens", 0), message=f"adapter {card.ref}")  # fmt: skip
    finally:
        pub.close()
    return card


def load(ladle: LadleSettings, job_id: str) -> FineTuneJob:
    path = jobs_dir(ladle) / job_id / "job.json"
    if not path.is_file():
        raise UserError(f"no fine-tuning job {job_id!r}")
    return FineTuneJob.model_validate_json(path.read_text())


def events(ladle: LadleSettings, job_id: str) -> list[FineTuneJob]:
    load(ladle, job_id)
    path = jobs_dir(ladle) / job_id / "events.jsonl"
    return [FineTuneJob.model_validate_json(line) for line in path.read_text().splitlines() if line.strip()]


def list_jobs(ladle: LadleSettings) -> list[FineTuneJob]:
    root = jobs_dir(ladle)
    found = [FineTuneJob.model_validate_json(p.read_text()) for p in root.glob("*/job.json")] if root.is_dir() else []
    return sorted(found, key=lambda j: j.occurred_at)


def _alive(who: str) -> bool:
    host, _, pid = who.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's job: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap(ladle: LadleSettings, publisher: Publisher | None = None) -> list[FineTuneJob]:
    """Mark failed every unfinished job whose owner process is gone; the jobs so marked."""
    out = []
    for job in list_jobs(ladle):
        if job.status not in FINAL and job.owner and not _alive(job.owner):
            pub = publisher or Publisher(ladle)
            out.append(pub.emit(job.model_copy(update={"status": "failed", "kind": "status",
                                                       "error": f"owner process {job.owner} died"})))  # fmt: skip
    return out


def cancel_requested(ladle: LadleSettings, job_id: str) -> bool:
    return (jobs_dir(ladle) / job_id / "cancel").exists()


def cancel(ladle: LadleSettings, job_id: str, publisher: Publisher | None = None) -> FineTuneJob:
    """Ask a running job to stop (it marks itself cancelled at its next step); one whose owner is gone
    is marked cancelled here. A finished job is left as it is (UserError)."""
    job = load(ladle, job_id)
    if job.status in FINAL:
        raise UserError(f"job {job_id} is {job.status} already")
    (jobs_dir(ladle) / job_id / "cancel").touch()
    if not job.owner or not _alive(job.owner):
        return (publisher or Publisher(ladle)).emit(job.model_copy(update={"status": "cancelled", "kind": "status"}))
    return job
