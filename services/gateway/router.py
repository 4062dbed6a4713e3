"""Routing: an alias names deployments in order; each one is a backup for the one before.

Retries (with backoff and jitter) stay on a deployment for transient failures;
timeouts, 429, 5xx and connection errors then fall back to the next one. An error that is
the request's fault (an upstream 400, 413, 422...) is final at once: not retried, no
fallback, and not held against the deployment's breaker; one a deployment cannot serve
(UpstreamError.unsupported) moves on to the next, not held against it either. A
stream falls back only before its first chunk; after that the error is the
client's to see (the app ends the stream with an error event).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from services.gateway.breaker import CircuitBreaker
from services.gateway.config import GatewayConfig
from services.gateway.providers import Provider, UpstreamError, build


@dataclass
class Attempts:
    """Which deployments were tried, in order, and which answered."""

    tried: list[str] = field(default_factory=list)
    answered: str | None = None
    upstream_s: float = 0.0


class NoDeployment(Exception):
    def __init__(self, model: str, known: list[str]) -> None:
        super().__init__(f"model {model!r} is not served here; known: {', '.join(sorted(known))}")


class AllFailed(Exception):
    def __init__(self, errors: list[UpstreamError]) -> None:
        last = errors[-1] if errors else UpstreamError(503, "every deployment is cooling down after failures")
        super().__init__(str(last))
        # a deployment's 401/403/404 (its key, its model) is the gateway's failure, not the client's
        self.status = 502 if last.status in (401, 403, 404) else last.status
        self.code = last.code
        self.errors = errors


class Router:
    def __init__(self, config: GatewayConfig, providers: dict[str, Provider] | None = None) -> None:
        self.config = config
        self.providers = providers or {d.name: build(d) for d in config.deployments}
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown_s)
        # Models made after start (fine-tuned adapters): a name the config lacks is asked here once.
        self.resolve: Callable[[str], Provider | None] | None = None

    def chain(self, model: str) -> list[str]:
        if model in self.config.aliases:
            return self.config.aliases[model]
        if model in self.providers:
            return [model]
        provider = self.resolve(model) if self.resolve is not None else None
        if provider is not None:
            self.providers[model] = provider
            return [model]
        raise NoDeployment(model, [*self.config.aliases, *self.providers])

    def models(self) -> list[str]:
        return [*self.config.aliases, *self.providers]

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))

    async def call(self, model: str, body: dict, attempts: Attempts, op: str = "complete") -> dict:
        errors: list[UpstreamError] = []
        loop = asyncio.get_running_loop()
        for name in self.chain(model):
            if self.breaker.is_open(name):
                attempts.tried.append(f"{name}:open")
                continue
            provider = self.providers[name]
            for attempt in range(provider.deployment.max_retries + 1):
                attempts.tried.append(name)
                t0 = loop.time()
                try:
                    result = await getattr(provider, op)(body)
                except UpstreamError as exc:
                    attempts.upstream_s += loop.time() - t0
                    errors.append(exc)
                    if not exc.fallback:
                        raise
                    if exc.unsupported:  # the next deployment may serve it; this one is not failing
                        break
                    self.breaker.failure(name)
                    if attempt < provider.deployment.max_retries and not self.breaker.is_open(name):
                        await self._backoff(attempt)
                        continue
                    break
                attempts.upstream_s += loop.time() - t0
                self.breaker.success(name)
                attempts.answered = name
                return result
        raise AllFailed(errors)

    async def stream(self, model: str, body: dict, attempts: Attempts) -> AsyncIterator[dict]:
        """Chunks from the first deployment that produced one; UpstreamError after that is final."""
        errors: list[UpstreamError] = []
        for name in self.chain(model):
            if self.breaker.is_open(name):
                attempts.tried.append(f"{name}:open")
                continue
            attempts.tried.append(name)
            it = self.providers[name].stream(body).__aiter__()
            try:
                first = await it.__anext__()
            except StopAsyncIteration:
                errors.append(UpstreamError(502, f"{name}: empty stream"))
                self.breaker.failure(name)
                continue
            except UpstreamError as exc:
                errors.append(exc)
                if not exc.fallback:
                    raise
                if not exc.unsupported:
                    self.breaker.failure(name)
                continue
            attempts.answered = name
            yield first
            try:
                async for chunk in it:
                    yield chunk
            except UpstreamError:
                self.breaker.failure(name)
                raise
            self.breaker.success(name)
            return
        raise AllFailed(errors)

    async def aclose(self) -> None:
        for p in self.providers.values():
            await p.aclose()
