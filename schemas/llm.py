"""llm.calls: one event per model call, from the gateway and the enricher."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from schemas.base import Event, stable_id
from schemas.enrichment import PromptRef, Usage


class LLMCall(Event):
    """Key: call_id."""

    call_id: str = Field(min_length=1)
    team: str = "unknown"
    use_case: str = "unknown"
    model: str
    deployment: str = ""
    provider: str
    prompt: PromptRef | None = None
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float | None = Field(default=None, ge=0)
    pricing_version: str | None = None
    latency_ms: float = Field(default=0, ge=0)
    ttft_ms: float | None = Field(default=None, ge=0)
    cache_status: Literal["miss", "exact_hit", "semantic_hit", "bypass"] = "miss"
    semantic_score: float | None = Field(
        default=None, ge=-1, le=1,
        description="Cosine similarity of the semantic cache's closest candidate to the asked question, served "
        "(cache_status semantic_hit) or refused by its verifier; None: no candidate, or no lookup.",
    )  # fmt: skip
    semantic_verifier_score: float | None = Field(
        default=None, ge=0, le=1,
        description="The verifier's confidence that the candidate's answer is right for the asked question: the "
        "pair model's probability, or 1 / 0 when the same words or a guard decided.",
    )  # fmt: skip
    semantic_verdict: str | None = Field(
        default=None,
        description='What the verifier decided on the candidate: "ok", "same words", or why not ("numbers 14 != '
        '40", "opposites open / closed", "model 0.412 < 0.824").',
    )
    fallback_chain: list[str] = Field(default_factory=list, description="Deployments tried, in order.")
    status: Literal["ok", "error", "timeout", "rate_limited", "budget_exceeded", "blocked", "client_error"] = Field(
        default="ok", description="client_error: an upstream refused the request itself (a 4xx such as 400 or 422)."
    )
    error: str | None = None
    request_body: str | None = Field(default=None, description="Raw prompt; subject to the store's TTL.")
    response_body: str | None = None

    def default_event_id(self) -> str:
        return stable_id("llm.calls", self.call_id)
