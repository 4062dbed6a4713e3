"""eval.runs and eval.items: evaluation runs of a use case on a golden dataset. Key: run_id.

An ``EvalRun`` says what was evaluated (use case, prompt version, model, engine, cascade
or adapter), on what (the dataset's name and content hash) and how well (one number per
field and metric); each ``EvalItem`` is one row's outcome, so two runs on the same dataset
can be compared item by item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from schemas.base import Event, stable_id, utcnow
from schemas.enrichment import PromptRef


class EvalMetric(BaseModel):
    field: str = Field(min_length=1, description="A taxonomy field, or 'all' for the run.")
    metric: str = Field(min_length=1, description="accuracy, macro_f1, micro_f1, invalid_rate, ...")
    value: float


class EvalRun(Event):
    run_id: str = Field(min_length=1)
    use_case: str = Field(min_length=1)
    task: str = ""
    dataset: str = Field(min_length=1, description="The dataset's name (its file's stem).")
    dataset_sha256: str = Field(min_length=64, max_length=64)
    prompt: PromptRef | None = None
    model: str = ""
    engine: str = ""
    cascade: str | None = Field(default=None, description="name@version of the cascade that answered first.")
    adapter: str | None = Field(default=None, description="name@version of the LoRA adapter.")
    items: int = Field(ge=0, description="Rows scored.")
    failed_rows: int = Field(default=0, ge=0, description="Rows that could not be scored (bad rows).")
    metrics: list[EvalMetric] = Field(default_factory=list)
    started_at: datetime = Field(default_factory=utcnow)
    seconds: float = Field(default=0.0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    status: Literal["ok", "partial"] = "ok"

    def default_event_id(self) -> str:
        return stable_id("eval.runs", self.run_id)

    def metric(self, field: str, metric: str) -> float | None:
        return next((m.value for m in self.metrics if m.field == field and m.metric == metric), None)


class EvalItem(Event):
    run_id: str = Field(min_length=1)
    row: int = Field(ge=1, description="Line number in the dataset file.")
    item_id: str = Field(min_length=1)
    expected: dict = Field(default_factory=dict)
    predicted: dict | None = Field(default=None, description="What the use case answered; None: no valid answer.")
    correct: dict[str, bool] = Field(default_factory=dict, description="field -> exactly right (a set, for many).")
    route: str = Field(default="", description="accepted, review or rejected by guardrails; '' when not guarded.")
    answered_by: dict[str, str] = Field(default_factory=dict, description="field -> cascade@version or the model.")
    llm_calls: int = Field(default=0, ge=0)
    latency_ms: float = Field(default=0.0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0)
    error: str | None = None

    def default_event_id(self) -> str:
        return stable_id("eval.items", self.run_id, self.row)
