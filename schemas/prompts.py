"""prompts: the compacted registry of versioned prompts. Key: name."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from schemas.base import Event, stable_id, utcnow


class PromptVersion(BaseModel):
    version: int = Field(ge=1)
    template: str
    variables: list[str] = Field(default_factory=list)
    model: str | None = None
    parameters: dict = Field(default_factory=dict)
    created_by: str = ""


class LabelMove(BaseModel):
    """One move of a label: who moved it where, what the release gate said, and any override."""

    label: str
    version: int
    previous: int | None = None
    at: datetime = Field(default_factory=utcnow)
    by: str = ""
    gate: str = Field(default="", description="The gate's verdict in one line; empty when no gate applies.")
    forced: bool = Field(default=False, description="Moved although the gate refused (--force).")
    reason: str = Field(default="", description="Why, for a forced move.")


class PromptState(Event):
    """The whole state of one prompt; the latest record per name wins (compaction)."""

    name: str = Field(min_length=1)
    versions: list[PromptVersion] = Field(default_factory=list)
    labels: dict[str, int] = Field(default_factory=dict, description="label -> version, e.g. production -> 3.")
    ab_weights: dict[str, float] = Field(default_factory=dict, description="label -> weight for A/B splits.")
    revision: int = Field(default=0, ge=0, description="Bumped on every change; orders states of one name.")
    history: list[LabelMove] = Field(default_factory=list, description="Every label move, oldest first.")

    def default_event_id(self) -> str:
        return stable_id("prompts", self.name, self.revision)
