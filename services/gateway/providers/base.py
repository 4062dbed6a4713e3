"""What every upstream looks like to the router: OpenAI-shaped requests and responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import orjson

from services.gateway.config import Deployment

# An upstream 4xx is the request's fault (another deployment would refuse it too), except:
# 408, 409 and 429 are transient, and 401, 403 and 404 are about the deployment itself (its
# key, its model name), which the client never chose; those fall back and count toward its
# breaker like a 5xx.
NOT_THE_REQUEST = frozenset({401, 403, 404, 408, 409, 429})


class UpstreamError(Exception):
    """An upstream call failed, and whose fault it was:

    - the request's (``fallback=False``): final at once, back to its client as it came
      (``error``: the upstream's OpenAI-shaped error object, when it sent one);
    - the deployment's health (the default): retried, then the next deployment, and counted
      by the deployment's breaker;
    - ``unsupported``: this deployment cannot serve this request (an Anthropic model asked
      for embeddings, llama.cpp's server given an image): the next deployment may, so no
      retry and nothing held against the breaker."""

    def __init__(self, status: int, message: str, *, fallback: bool = True, error: dict | None = None,
                 unsupported: bool = False, code: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status = status
        self.fallback = fallback
        self.error = error
        self.unsupported = unsupported
        self.code = code or ("unsupported_by_deployment" if unsupported else "upstream_failed")

    @property
    def client_fault(self) -> bool:
        return not self.fallback and 400 <= self.status < 500

    @classmethod
    def from_status(cls, status: int, message: str, raw: bytes | str | None = None) -> UpstreamError:
        if 400 <= status < 500 and status not in NOT_THE_REQUEST:
            return cls(status, message, fallback=False, error=error_object(raw))
        return cls(status, message)

    @classmethod
    def cannot_serve(cls, message: str) -> UpstreamError:
        return cls(400, message, unsupported=True)


def error_object(raw: bytes | str | None) -> dict | None:
    """The {"message", "type", "param", "code"} an upstream sent, if it sent OpenAI's shape."""
    try:
        err = orjson.loads(raw)["error"] if raw else None
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return {"message": err["message"], "type": err.get("type") or "invalid_request_error",
                "param": err.get("param"), "code": err.get("code")}  # fmt: skip
    return None


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
