"""prompts: the compacted registry of versioned prompts. Key: name."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.base import Event, stable_id


class PromptVersion(BaseModel):
    version: int = Field(ge=1)
    template: str
    variables: list[str] = Field(default_factory=list)
    model: str | None = None
    parameters: dict = Field(default_factory=dict)
    created_by: str = ""


class PromptState(Event):
    """The whole state of one prompt; the latest record per name wins (compaction)."""

    name: str = Field(min_length=1)
    versions: list[PromptVersion] = Field(default_factory=list)
    labels: dict[str, int] = Field(default_factory=dict, description="label -> version, e.g. production -> 3.")
    ab_weights: dict[str, float] = Field(default_factory=dict, description="label -> weight for A/B splits.")
    revision: int = Field(default=0, ge=0, description="Bumped on every change; orders states of one name.")

    def default_event_id(self) -> str:
        return stable_id("prompts", self.name, self.revision)
