"""The engine interface: a batch of requests in, one result per request out, with usage.

Every engine (llama.cpp, vLLM, OpenAI-compatible, Anthropic) implements
``generate``. A failure of one request is data (``EngineResult.error``); an
exception out of ``generate`` means the engine itself is broken, and the actor
that holds it is replaced.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

EngineName = Literal["llamacpp", "vllm", "openai", "anthropic"]
# LLMCall.status values an engine can report for one request.
CallStatus = Literal["ok", "error", "timeout", "rate_limited"]
TRANSIENT: frozenset[str] = frozenset({"timeout", "rate_limited"})


@dataclass(slots=True)
class EngineRequest:
    id: str
    messages: list[dict[str, str]]
    json_schema: dict | None = None
    max_tokens: int = 128
    temperature: float = 0.0
    params: dict = field(default_factory=dict)  # per-request extras: seed, top_p, lora adapter


@dataclass(slots=True)
class EngineResult:
    id: str
    text: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    # Machine seconds this request held the hardware alone (one llama.cpp context);
    # None where requests share it (vLLM batching, vendor APIs): pricing estimates then.
    busy_s: float | None = None
    finish_reason: str | None = None
    status: CallStatus = "ok"
    error: str | None = None

    @property
    def transient(self) -> bool:
        return self.status in TRANSIENT


class EngineSpec(BaseModel):
    """What an actor needs to build an engine: picklable, so it travels to Ray workers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: EngineName
    model: str = Field(min_length=1, description="The model name results, calls and pricing use.")
    params: dict = Field(default_factory=dict, description="Engine-specific settings (see each engine).")


@runtime_checkable
class Engine(Protocol):
    name: str
    model: str

    async def generate(self, requests: list[EngineRequest]) -> list[EngineResult]: ...

    def close(self) -> None: ...


def failed(
    req: EngineRequest, exc: BaseException, status: CallStatus = "error", latency_ms: float = 0.0
) -> EngineResult:
    message = " ".join(str(exc).split())[:500] or type(exc).__name__
    return EngineResult(id=req.id, status=status, error=f"{type(exc).__name__}: {message}", latency_ms=latency_ms)


async def generate_bounded(
    one: Callable[[EngineRequest], Awaitable[EngineResult]], requests: list[EngineRequest], limit: int
) -> list[EngineResult]:
    """Each request through ``one``, at most ``limit`` at a time (vendor APIs), results in request order."""
    sem = asyncio.Semaphore(limit)

    async def bounded(req: EngineRequest) -> EngineResult:
        async with sem:
            return await one(req)

    return list(await asyncio.gather(*(bounded(r) for r in requests)))
