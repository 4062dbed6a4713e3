"""One model call through the gateway, from routing to its last byte: what its LLMCall says.

A request gets a ChatCall once it names a served model; whichever way it ends (a cache hit,
a guardrail block, an upstream failure, a finished or broken stream) ends in ``finish``,
which records the LLMCall exactly once.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from schemas import LLMCall, PromptRef, Usage
from services.gateway.config import Team
from services.gateway.providers import UpstreamError
from services.gateway.responses import REQUESTS, use_case_of
from services.gateway.router import AllFailed, Attempts

if TYPE_CHECKING:
    from services.gateway.state import Gateway


class ChatCall:
    __slots__ = ("gateway", "team", "body", "model", "prompt", "t0", "route", "call_id", "cache", "attempts",
                 "usage", "cost", "ttft_s", "reserved", "done", "semantic")  # fmt: skip

    def __init__(self, gateway: Gateway, team: Team, body: dict, model: str, prompt: PromptRef | None, t0: float,
                 route: str = "chat") -> None:  # fmt: skip
        self.gateway, self.team, self.body, self.model, self.prompt = gateway, team, body, model, prompt
        self.t0, self.route = t0, route
        self.call_id = uuid.uuid4().hex  # the LLMCall's id, and the subject id of its guardrail verdicts
        self.cache = "miss"
        self.attempts = Attempts()
        self.usage = Usage()
        self.cost = 0.0
        self.ttft_s: float | None = None
        self.reserved: float | None = 0.0  # the budget held for this call; None once settled
        self.done = False
        self.semantic = None  # the semantic cache's candidate (semantic.Found), served or refused

    @property
    def use_case(self) -> str:
        return use_case_of(self.body)

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def settle(self, cost: float) -> None:
        """Replace the call's reservation by what it cost; a second call does nothing."""
        if self.reserved is None:
            return
        if self.reserved or cost:
            self.gateway.teams.settle(self.team, self.reserved, cost)
        self.reserved = None

    def finish(self, status: str = "ok", err: str | None = None, http: int = 200, record: bool = True) -> None:
        """Count the request and record its LLMCall; a second call does nothing."""
        if self.done:
            return
        self.done = True
        REQUESTS.labels(self.route, str(http), self.cache).inc()
        if self.gateway.events is None or not record:
            return
        answered, found = self.attempts.answered, self.semantic
        verdict = found.verdict if found is not None else None
        self.gateway.emit(
            LLMCall(
                call_id=self.call_id, trace_id=self.call_id, team=self.team.name, use_case=self.use_case,
                model=self.model, deployment=answered or "", provider=self.gateway.provider(answered),
                usage=self.usage, cost_usd=self.cost, latency_ms=self.elapsed() * 1000,
                ttft_ms=None if self.ttft_s is None else self.ttft_s * 1000, cache_status=self.cache,
                fallback_chain=self.attempts.tried, status=status, error=err, prompt=self.prompt,
                semantic_score=found.score if found is not None else None,
                semantic_verifier_score=verdict.score if verdict is not None else None,
                semantic_verdict=verdict.reason if verdict is not None else None,
            )
        )  # fmt: skip


def status_of(exc: AllFailed | UpstreamError) -> str:
    """An LLMCall's status for a failed call: whose fault it was, and what kind of failure."""
    if 400 <= exc.status < 500 and exc.status not in (408, 409, 429):  # refused, or no deployment serves it
        return "client_error"
    return "timeout" if exc.status == 504 else "rate_limited" if exc.status == 429 else "error"


def counted_usage(body: dict, deltas: int) -> Usage:
    """Usage for a stream whose upstream reported none (llama.cpp's server never does): one
    token per streamed delta, which is what llama.cpp and vLLM send, and the prompt estimated
    at 4 bytes a token (OpenAI's rule of thumb for English) plus 4 per message for the chat
    template's role markers."""
    prompt = 0
    for m in body.get("messages") or []:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            content = " ".join(
                p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        prompt += len(content.encode()) // 4 + 4 if isinstance(content, str) else 4
    return Usage(input_tokens=prompt, output_tokens=deltas)
