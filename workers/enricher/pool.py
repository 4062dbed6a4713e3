"""Engines in a pool of Ray actors.

Each actor loads its engine once in ``__init__`` and exposes one async method over
a chunk of requests. The pool splits a batch into chunks, sends each to the
least-loaded actor, and bounds the actor calls in flight with a semaphore. When
an actor dies (killed, out of memory, its engine raised), the pool replaces it
and resends the chunk to a fresh actor, a bounded number of times; then it gives
up with ``EnginePoolError`` and the worker crashes (the supervisor restarts it and
Kafka replays the batch). Every request comes out exactly once.
"""

from __future__ import annotations

import asyncio
import os
import time

import structlog

from shared.runtime.errors import FatalError
from workers.enricher import metrics
from workers.enricher.engines.base import EngineRequest, EngineResult, EngineSpec

log = structlog.get_logger(__name__)


class EnginePoolError(FatalError):
    """The pool could not start, or could not get a chunk through any actor: the process must restart."""


class EngineActor:
    """Made a Ray actor by ``EnginePool``; kept a plain class so it imports without Ray."""

    def __init__(self, spec: EngineSpec) -> None:
        from workers.enricher.engines import make_engine

        self.spec = spec
        self.engine = make_engine(spec)

    def ready(self) -> str:
        return f"{self.spec.engine}/{self.spec.model} in pid {os.getpid()}"

    async def generate(self, requests: list[EngineRequest]) -> list[EngineResult]:
        return await self.engine.generate(requests)


class EnginePool:
    def __init__(
        self,
        spec: EngineSpec,
        *,
        actors: int = 1,
        chunk_size: int = 4,
        max_in_flight: int = 0,
        max_actor_retries: int = 2,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        start_timeout_s: float = 600.0,
    ) -> None:
        self.spec = spec
        self.size = actors
        self.chunk_size = chunk_size
        self.max_in_flight = max_in_flight or 2 * actors
        self.max_actor_retries = max_actor_retries
        self.options = {"num_cpus": num_cpus, "num_gpus": num_gpus, "max_restarts": 0}
        self.start_timeout_s = start_timeout_s
        self.actors: list = []
        self.load: list[int] = []
        self.restarts = 0
        self.in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._sem: asyncio.Semaphore | None = None
        self._rr = 0

    def start(self) -> EnginePool:
        import ray

        self._actor_cls = ray.remote(EngineActor)
        self.actors = [self._new_actor() for _ in range(self.size)]
        self.load = [0] * self.size
        t0 = time.monotonic()
        try:
            where = ray.get([a.ready.remote() for a in self.actors], timeout=self.start_timeout_s)
        except ray.exceptions.GetTimeoutError:
            raise EnginePoolError(
                f"engine actors did not start in {self.start_timeout_s:.0f}s; each needs {self.options}"
                f" and the cluster has {ray.available_resources()}"
            ) from None
        except ray.exceptions.RayError as exc:
            raise EnginePoolError(f"engine actors failed to start: {_cause(exc)}") from None
        log.info(
            "pool.started",
            engine=self.spec.engine,
            model=self.spec.model,
            actors=where,
            seconds=round(time.monotonic() - t0, 2),
        )
        return self

    def _new_actor(self):
        return self._actor_cls.options(**self.options).remote(self.spec)

    # -- calls ---------------------------------------------------------------

    def generate(self, requests: list[EngineRequest]) -> list[EngineResult]:
        """From synchronous code (the worker): runs on the pool's own event loop."""
        return self._loop.run_until_complete(self.agenerate(requests))

    async def agenerate(self, requests: list[EngineRequest]) -> list[EngineResult]:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_in_flight)
        size = self.chunk_size
        chunks = [requests[i : i + size] for i in range(0, len(requests), size)]
        parts = await asyncio.gather(*(self._chunk(c) for c in chunks), return_exceptions=True)
        # Wait for every chunk before raising, so none is left running on the loop.
        errors = [p for p in parts if isinstance(p, BaseException)]
        if errors:
            raise errors[0]
        return [r for part in parts for r in part]

    async def _chunk(self, chunk: list[EngineRequest]) -> list[EngineResult]:
        import ray

        errors = []
        async with self._sem:
            for _ in range(self.max_actor_retries + 1):
                slot = self._pick()
                actor = self.actors[slot]
                self.load[slot] += 1
                self.in_flight += 1
                metrics.IN_FLIGHT.inc()
                try:
                    return await actor.generate.remote(chunk)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                    errors.append(_cause(exc))
                    self._replace(slot, actor, exc)
                finally:
                    self.load[slot] -= 1
                    self.in_flight -= 1
                    metrics.IN_FLIGHT.dec()
        raise EnginePoolError(f"{len(errors)} actors failed one chunk of {len(chunk)} requests; last: {errors[-1]}")

    def _pick(self) -> int:
        low = min(self.load)
        slots = [i for i, n in enumerate(self.load) if n == low]
        self._rr += 1
        return slots[self._rr % len(slots)]

    def _replace(self, slot: int, dead, exc: BaseException) -> None:
        import ray

        if self.actors[slot] is not dead:  # another chunk on the same actor replaced it already
            return
        ray.kill(dead, no_restart=True)  # an engine that raised may still be alive: end it
        self.actors[slot] = self._new_actor()
        self.restarts += 1
        metrics.ACTOR_RESTARTS.inc()
        log.warning("pool.actor_replaced", slot=slot, error=_cause(exc)[:300], restarts=self.restarts)

    def close(self) -> None:
        import ray

        for a in self.actors:
            try:
                ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone, or Ray shut down first
                pass
        self.actors = []
        self._loop.close()


def _cause(exc: BaseException) -> str:
    """The line that says what went wrong: Ray wraps it after its own preamble and traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line.split(":", 1)[0]]
    return (errors[-1] if errors else lines[-1] if lines else type(exc).__name__)[:500]
