"""What every gateway route answers with: OpenAI's error shape, the x-ladle-* headers, a whole
answer as JSON or as a one-chunk stream, and the request metrics."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import orjson
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import Counter, Histogram

from schemas import Usage
from services.gateway.router import Attempts

OVERHEAD = Histogram(
    "ladle_gateway_overhead_seconds", "Gateway time on a request, upstream time excluded", ["route"],
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)  # fmt: skip
REQUESTS = Counter("ladle_gateway_requests_total", "Requests by outcome", ["route", "status", "cache"])


def error(status: int, message: str, code: str, headers: dict | None = None, kind: str | None = None) -> JSONResponse:
    kind = kind or ("invalid_request_error" if status < 500 else "upstream_error")
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code}}, status_code=status, headers=headers
    )


class ApiError(Exception):
    """A request that ends in an error answer: its status and OpenAI's error shape."""

    def __init__(self, status: int, message: str, code: str, headers: dict | None = None,
                 kind: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.code, self.headers, self.kind = status, code, headers, kind

    def response(self) -> JSONResponse:
        return error(self.status, str(self), self.code, self.headers, self.kind)


def usage_of(resp: dict) -> Usage:
    u = resp.get("usage") or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(
        input_tokens=u.get("prompt_tokens", 0), output_tokens=u.get("completion_tokens", 0), cached_input_tokens=cached
    )


def use_case_of(body: dict) -> str:
    meta = body.get("metadata")
    return str(meta.get("use_case", "unknown")) if isinstance(meta, dict) else "unknown"


def ladle_headers(attempts: Attempts, cache: str, overhead_s: float | None) -> dict:
    h = {
        "x-ladle-deployment": attempts.answered or "",
        "x-ladle-tried": ",".join(attempts.tried),
        "x-ladle-cache": cache,
    }
    if overhead_s is not None:
        h["x-ladle-overhead-ms"] = f"{overhead_s * 1000:.3f}"
    return h


def answer(resp: dict, headers: dict, stream: bool) -> Response:
    """A whole answer as JSON, or as one SSE chunk and [DONE] when the client asked for a stream."""
    if not stream:
        return Response(orjson.dumps(resp), media_type="application/json", headers=headers)

    async def replay() -> AsyncIterator[bytes]:
        chunk = {"id": resp.get("id"), "object": "chat.completion.chunk", "created": resp.get("created"),
                 "model": resp.get("model"),
                 "choices": [{"index": c.get("index", i), "finish_reason": c.get("finish_reason"),
                              "delta": {"role": "assistant", "content": (c.get("message") or {}).get("content")}}
                             for i, c in enumerate(resp.get("choices") or [])]}  # fmt: skip
        yield f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()

    return StreamingResponse(replay(), media_type="text/event-stream", headers=headers)
