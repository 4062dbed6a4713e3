"""What every upstream looks like to the router: OpenAI-shaped requests and responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from services.gateway.config import Deployment


class UpstreamError(Exception):
    """An upstream call failed. ``fallback`` says whether the next deployment may be tried."""

    def __init__(self, status: int, message: str, *, fallback: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.fallback = fallback

    @classmethod
    def from_status(cls, status: int, message: str) -> UpstreamError:
        # The request itself is wrong (400, 413, 422): another model would refuse it too.
        return cls(status, message, fallback=status not in (400, 413, 422))


class Provider(Protocol):
    deployment: Deployment

    async def complete(self, body: dict) -> dict:
        """A chat.completion object."""
        ...

    def stream(self, body: dict) -> AsyncIterator[dict]:
        """chat.completion.chunk objects; raises UpstreamError (before or after the first chunk)."""
        ...

    async def embed(self, body: dict) -> dict: ...

    async def aclose(self) -> None: ...
