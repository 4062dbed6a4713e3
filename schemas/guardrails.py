"""guardrail.verdicts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from schemas.base import Event, stable_id

Action = Literal["accept", "redact", "drop_tag", "review", "reject"]


class CheckOutcome(BaseModel):
    check: str
    passed: bool
    score: float | None = None
    action: Action = "accept"
    detail: str = ""
    latency_ms: float = Field(default=0, ge=0)


class GuardrailVerdict(Event):
    """Every check's outcome on one subject (a result, a request, a response). Key: subject_id."""

    subject_id: str
    subject_kind: Literal["enrichment_result", "gateway_request", "gateway_response"] = "enrichment_result"
    policy: str
    policy_version: str
    checks: list[CheckOutcome] = Field(default_factory=list)
    action: Action
    latency_ms: float = Field(default=0, ge=0)
    team: str | None = None
    use_case: str | None = None

    def default_event_id(self) -> str:
        return stable_id("guardrail.verdicts", self.subject_kind, self.subject_id, self.policy, self.policy_version)
