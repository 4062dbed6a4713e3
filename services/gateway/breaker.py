"""A circuit breaker per deployment: after N consecutive failures it is skipped for a cool-down."""

from __future__ import annotations

import time


class CircuitBreaker:
    def __init__(self, failures: int, cooldown_s: float, clock=time.monotonic) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self._count: dict[str, int] = {}
        self._open_until: dict[str, float] = {}

    def is_open(self, name: str) -> bool:
        until = self._open_until.get(name)
        if until is None:
            return False
        if self.clock() >= until:
            # Half-open: let one call through; a failure re-opens at once.
            del self._open_until[name]
            self._count[name] = self.failures - 1
            return False
        return True

    def success(self, name: str) -> None:
        self._count.pop(name, None)

    def failure(self, name: str) -> None:
        n = self._count.get(name, 0) + 1
        self._count[name] = n
        if n >= self.failures:
            self._open_until[name] = self.clock() + self.cooldown_s
