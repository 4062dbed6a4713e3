"""finetune.jobs: a fine-tuning job's life as events. Key: job_id.

A ``FineTuneJob`` is either a status change (``kind="status"``, OpenAI's fine-tuning statuses:
validating_files, queued, running, succeeded, failed, cancelled) or a progress report while it runs
(``kind="progress"``: step, loss, tokens/s, time left). The latest status event of a job is its
state; ``owner`` (host:pid) lets the next start mark a job whose process died as failed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Event, stable_id

JobStatus = Literal["validating_files", "queued", "running", "succeeded", "failed", "cancelled"]
FINAL: tuple[str, ...] = ("succeeded", "failed", "cancelled")


class FineTuneJob(Event):
    job_id: str = Field(min_length=1)
    kind: Literal["status", "progress"] = "status"
    status: JobStatus
    use_case: str = Field(min_length=1)
    base_model: str = ""
    training_files: list[str] = Field(default_factory=list, description="Label sources or uploaded file ids.")
    hyperparameters: dict = Field(default_factory=dict)
    fine_tuned_model: str | None = Field(default=None, description="name@version of the adapter made.")
    step: int = Field(default=0, ge=0)
    steps: int = Field(default=0, ge=0)
    loss: float | None = None
    trained_tokens: int = Field(default=0, ge=0)
    tokens_per_s: float = Field(default=0.0, ge=0)
    eta_s: float | None = Field(default=None, description="Estimated seconds left (progress events).")
    machine_s: float = Field(default=0.0, ge=0, description="Training seconds so far: the job's cost basis.")
    message: str = ""
    error: str | None = None
    owner: str = Field(default="", description="host:pid of the process that runs it.")
    team: str = ""

    def default_event_id(self) -> str:
        return stable_id("finetune.jobs", self.job_id, self.kind, self.status, str(self.step))
