"""enrichment.results and enrichment.accepted / .review / .rejected."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from schemas.base import Event, stable_id
from schemas.guardrails import GuardrailVerdict


class PromptRef(BaseModel):
    name: str
    version: int
    label: str | None = None


class Usage(BaseModel):
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cached_input_tokens: int = Field(default=0, ge=0)


class EnrichmentResult(Event):
    """What an LLM (and a cascade's classifier before it) said about one item for one task. Key: item_id.

    With a cascade, ``answered_by`` names per field who answered: ``cascade/NAME@VERSION`` or
    ``ENGINE/MODEL``; a result the classifier answered whole has engine ``cascade``, model
    ``NAME@VERSION``, no prompt, and no LLMCall. Results without a cascade leave both fields empty.
    """

    item_id: str = Field(min_length=1)
    item_version: int = Field(ge=0)
    task: str = Field(min_length=1, description="e.g. 'tag'.")
    output: dict = Field(default_factory=dict, description="Parsed output (tags for the tag task).")
    raw_output: str = ""
    item_text: str = Field(default="", description="The text the model saw; guardrails check it for injection.")
    engine: str
    model: str
    prompt: PromptRef | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = Field(default=0, ge=0)
    ttft_ms: float | None = Field(default=None, ge=0)
    cost_usd: float | None = Field(default=None, ge=0)
    pricing_version: str | None = None
    attempts: int = Field(default=1, ge=1)
    mode: Literal["stream", "batch"] = "stream"
    cascade: str | None = Field(default=None, description="NAME@VERSION of the cascade that answered first.")
    answered_by: dict[str, str] = Field(
        default_factory=dict, description="field -> cascade/NAME@VERSION or ENGINE/MODEL; empty: all the model."
    )

    def default_event_id(self) -> str:
        prompt = f"{self.prompt.name}@{self.prompt.version}" if self.prompt else ""
        parts = (self.item_id, self.item_version, self.task, prompt, self.model)
        # A new cascade version answers anew: its result must not be taken for a replay of the old one.
        return stable_id("enrichment.results", *parts, *((self.cascade,) if self.cascade else ()))


class GuardedResult(Event):
    """A result after guardrails, on the topic its action chose. Key: item_id."""

    result: EnrichmentResult
    verdict: GuardrailVerdict
    route: Literal["accepted", "review", "rejected"]

    def default_event_id(self) -> str:
        return stable_id("guarded", self.result.event_id, self.verdict.policy_version)
