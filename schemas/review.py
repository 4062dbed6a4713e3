"""review.decisions: what a person decided about a result the guardrails sent for review."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from schemas.base import Event, stable_id, utcnow


class ReviewDecision(Event):
    """A reviewer's accept, correction or rejection of one reviewed result. Key: item_id.

    The id derives from the reviewed result's event id alone, so a result is decided once: a
    second decision on the same result carries the same id, and every consumer keeps the first.
    ``before`` is the output the model proposed, ``after`` what the reviewer let through
    (equal to ``before`` on accept, empty on reject). Decisions are labels: an item's text
    (redacted as the guardrails left it) with the fields a person confirmed or corrected.
    """

    reviewer: str = Field(min_length=1)
    decided_at: datetime = Field(default_factory=utcnow)
    action: Literal["accept", "correct", "reject"]
    item_id: str = Field(min_length=1)
    item_version: int = Field(default=0, ge=0)
    task: str = Field(min_length=1)
    result_event_id: str = Field(min_length=1, description="The reviewed EnrichmentResult's event id.")
    guarded_event_id: str = Field(default="", description="The GuardedResult on enrichment.review.")
    route: Literal["accepted", "rejected"]
    before: dict = Field(default_factory=dict)
    after: dict = Field(default_factory=dict)
    failed_checks: list[str] = Field(default_factory=list)
    note: str = ""

    def default_event_id(self) -> str:
        return stable_id("review.decisions", self.result_event_id)

    def changed_fields(self) -> list[str]:
        """Fields whose value the reviewer changed (a correction's labels)."""
        keys = sorted(set(self.before) | set(self.after))
        return [k for k in keys if _norm(self.before.get(k)) != _norm(self.after.get(k))]


def _norm(value: object) -> object:
    return sorted(value) if isinstance(value, list) else value
