"""What every gateway route answers with: OpenAI's error shape, the x-ladle-* headers, a whole
answer as JSON or as a one-chunk stream, and the request metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import Counter, Histogram

from schemas import Usage
from services.gateway.providers import UpstreamError
from services.gateway.router import AllFailed, Attempts

OVERHEAD = Histogram(
    "ladle_gateway_overhead_seconds", "Gateway time on a request, upstream time excluded", ["route"],
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)  # fmt: skip
REQUESTS = Counter("ladle_gateway_requests_total", "Requests by outcome", ["route", "status", "cache"])


def error_body(message: str, kind: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error(status: int, message: str, code: str | None, headers: dict | None = None, kind: str | None = None,
          param: str | None = None) -> JSONResponse:  # fmt: skip
    kind = kind or ("invalid_request_error" if status < 500 else "upstream_error")
    return JSONResponse(error_body(message, kind, code, param), status_code=status, headers=headers)


class ApiError(Exception):
    """A request that ends in an error answer: its status and OpenAI's error shape."""

    def __init__(self, status: int, message: str, code: str | None, headers: dict | None = None,
                 kind: str | None = None, param: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.status, self.code, self.headers, self.kind, self.param = status, code, headers, kind, param

    def response(self) -> JSONResponse:
        return error(self.status, str(self), self.code, self.headers, self.kind, self.param)


def failure(exc: AllFailed | UpstreamError, headers: dict) -> ApiError:
    """The answer to a call no deployment answered. The request's own fault (an upstream 400,
    422, ...) goes back as the upstream said it, with its status; anything else is upstream_failed."""
    if isinstance(exc, UpstreamError) and exc.client_fault:
        e = exc.error or {}
        return ApiError(exc.status, e.get("message") or str(exc), e.get("code") or "invalid_request", headers,
                        kind=e.get("type") or "invalid_request_error", param=e.get("param"))  # fmt: skip
    return ApiError(exc.status, str(exc), exc.code, headers)


def usage_of(resp: dict) -> Usage:
    u = resp.get("usage") or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(
        input_tokens=u.get("prompt_tokens", 0), output_tokens=u.get("completion_tokens", 0), cached_input_tokens=cached
    )


def usage_json(usage: Usage) -> dict:
    """A Usage in the chat completions shape."""
    return {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
            "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens}}  # fmt: skip


def wants_usage(body: dict) -> bool:
    """Whether a streaming client asked for the final usage chunk (stream_options.include_usage)."""
    opts = body.get("stream_options")
    return isinstance(opts, dict) and opts.get("include_usage") is True


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


def as_chunks(resp: dict, usage: bool) -> list[dict]:
    """A whole chat completion as the chunks a stream of it would have been: one with every
    choice's whole message, and the usage chunk when the client asked for it."""
    head = {"id": resp.get("id"), "object": "chat.completion.chunk", "created": resp.get("created"),
            "model": resp.get("model")}  # fmt: skip
    choices = []
    for i, c in enumerate(resp.get("choices") or []):
        message = c.get("message") or {}
        delta = {"role": "assistant", "content": message.get("content")}
        if message.get("tool_calls"):
            delta["tool_calls"] = [{**t, "index": k} for k, t in enumerate(message["tool_calls"])]
        choices.append({"index": c.get("index", i), "finish_reason": c.get("finish_reason"), "delta": delta})
    chunks = [{**head, "choices": choices}]
    if usage:
        chunks.append({**head, "choices": [], "usage": resp.get("usage") or usage_json(Usage())})
    return chunks


def answer(resp: dict, headers: dict, stream: bool, usage: bool = False) -> Response:
    """A whole answer as JSON, or as one SSE chunk (and the usage chunk, when asked for) and
    [DONE] when the client asked for a stream."""
    if not stream:
        return Response(orjson.dumps(resp), media_type="application/json", headers=headers)

    async def replay() -> AsyncIterator[bytes]:
        events = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in as_chunks(resp, usage))
        yield events + b"data: [DONE]\n\n"

    return StreamingResponse(replay(), media_type="text/event-stream", headers=headers)
