"""POST /v1/chat/completions: one request through guardrails, caches, budget and the router.

A stream falls back only before its first byte; one that breaks later ends with an
error event and no [DONE]. A route whose answers are checked is buffered: the whole
answer is checked, then sent (as one chunk when the client asked for a stream).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass

import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from schemas import PromptRef, Usage
from services.gateway.cache import cache_key
from services.gateway.calls import ChatCall
from services.gateway.config import Team
from services.gateway.providers import UpstreamError
from services.gateway.responses import OVERHEAD, REQUESTS, ApiError, answer, error, ladle_headers, usage_of
from services.gateway.router import AllFailed, Attempts, NoDeployment
from services.gateway.state import Gateway
from services.gateway.teams import Refused
from shared.prompts.model import PromptError, PromptNotFound

CHAT_OVERHEAD = OVERHEAD.labels("chat")  # the child once: a labels() lookup per request is measurable
BYPASS = ("bypass", "no", "off")


@dataclass(slots=True)
class Outcome:
    """What a routed request came to: a whole completion (an upstream's, a cache's, or a checked
    and buffered answer) or a live stream of chunks, with the x-ladle-* headers. The call's
    LLMCall is recorded already, or, for a live stream, when the stream ends."""

    call: ChatCall
    headers: dict
    completion: dict | None = None
    chunks: AsyncGenerator[dict, None] | None = None


async def chat(gateway: Gateway, request: Request) -> Response:
    """Input guardrails -> exact cache -> semantic cache -> budget -> upstream -> output guardrails
    -> both caches store what the client gets."""
    t0 = time.perf_counter()
    try:
        team = gateway.teams.authenticate(request.headers.get("authorization"))
        body = orjson.loads(await request.body())
    except Refused as exc:
        return error(exc.status, str(exc), exc.code)
    except orjson.JSONDecodeError:
        return error(400, "the request body is not JSON", "invalid_json")
    try:
        body, prompt = parse(gateway, body)
        outcome = await complete(gateway, team, body, prompt, request.headers, t0)
    except ApiError as exc:
        return exc.response()
    if outcome.chunks is not None:
        return StreamingResponse(sse(outcome.chunks), media_type="text/event-stream", headers=outcome.headers)
    return answer(outcome.completion, outcome.headers, bool(body.get("stream")))


def parse(gateway: Gateway, body: object) -> tuple[dict, PromptRef | None]:
    """The chat request a body asks for (a named prompt rendered into its messages)."""
    prompt = None
    if isinstance(body, dict) and "prompt" in body:
        try:
            body, prompt = gateway.expand_prompt(body)
        except PromptNotFound as exc:
            raise ApiError(404, str(exc), "prompt_error") from None
        except PromptError as exc:
            raise ApiError(400, str(exc), "prompt_error") from None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("model"), str)
        or not isinstance(body.get("messages"), list)
    ):
        raise ApiError(400, "a chat request needs a string `model` and a list of `messages`", "invalid_request")
    return body, prompt


async def complete(gateway: Gateway, team: Team, body: dict, prompt: PromptRef | None, headers: Mapping[str, str],
                   t0: float) -> Outcome:  # fmt: skip
    """Route one parsed chat request; raises ApiError for every answer that is an error."""
    model = body["model"]
    try:
        chain = gateway.router.chain(model)
    except NoDeployment as exc:
        raise ApiError(404, str(exc), "model_not_found") from None
    call = ChatCall(gateway, team, body, model, prompt, t0)
    bypass = headers.get("x-ladle-cache", "").lower() in BYPASS
    call.cache = "bypass" if bypass else "miss"
    guard = gateway.guards.route(model) if gateway.guards is not None else None
    extra: dict[str, str] = {}  # x-ladle-guardrails, x-ladle-semantic-score
    if guard is not None and guard.input:
        checked = await gateway.guards.check_request(guard, body, call.call_id, team.name, call.use_case)
        gateway.verdict(checked.verdict)
        extra["x-ladle-guardrails"] = f"input={checked.verdict.action}"
        if checked.blocked:
            call.finish("blocked", checked.reason(), http=400)
            raise ApiError(400, f"the request was blocked by guardrails: {checked.reason()}", "guardrail_blocked",
                           extra, kind="guardrail_error")  # fmt: skip
        body = call.body = checked.body
    key = None if bypass or not gateway.cache.enabled else cache_key(team.name, model, body)
    if key is not None and (hit := gateway.cache.get(key)) is not None:
        return _cached(call, hit, "exact_hit", extra)
    probe = None
    if not bypass and gateway.semantic is not None and model in gateway.semantic.serves:
        probe = await gateway.semantic.lookup(team.name, model, body, prompt)
        if probe is not None and probe.hit is not None:
            extra["x-ladle-semantic-score"] = f"{probe.score:.4f}"
            return _cached(call, probe.hit, "semantic_hit", extra)
    estimate = gateway.teams.estimate(gateway.price_model(chain[0], model), body)
    try:
        gateway.teams.admit(team, estimate)
    except Refused as exc:  # counted, not recorded: no model was asked
        REQUESTS.labels("chat", str(exc.status), "none").inc()
        raise ApiError(exc.status, str(exc), exc.code) from None
    checks_answer = guard is not None and guard.output is not None
    if body.get("stream") and not checks_answer:  # a checked answer is buffered: checked whole, then sent
        return await _stream(call, estimate, extra)
    attempts = call.attempts
    try:
        resp = await gateway.router.call(model, body, attempts)
    except (AllFailed, UpstreamError) as exc:
        gateway.teams.settle(team, estimate, 0.0)
        status = exc.status
        call.finish("timeout" if status == 504 else "rate_limited" if status == 429 else "error", str(exc), status)
        raise ApiError(
            status, str(exc), "upstream_failed", {"x-ladle-tried": ",".join(attempts.tried), **extra}
        ) from None
    call.usage = usage_of(resp)
    call.cost = gateway.pricing.cost_for(gateway.price_model(attempts.answered, model), call.usage) or 0.0
    gateway.teams.settle(team, estimate, call.cost)
    if checks_answer:
        checked = await gateway.guards.check_answer(guard, resp, call.call_id, team.name, call.use_case)
        gateway.verdict(checked.verdict)
        extra["x-ladle-guardrails"] = ",".join(filter(None, [extra.get("x-ladle-guardrails"),
                                                            f"output={checked.verdict.action}"]))  # fmt: skip
        if checked.blocked:  # 422, not 5xx: clients retry a 5xx, and would pay for the same answer again
            call.finish("blocked", checked.reason(), http=422)
            raise ApiError(422, f"the answer was blocked by guardrails: {checked.reason()}", "guardrail_blocked",
                           {**ladle_headers(attempts, call.cache, None), **extra}, kind="guardrail_error")  # fmt: skip
        resp = checked.body
    if key is not None:
        gateway.cache.put(key, resp)
    if probe is not None:
        await gateway.semantic.store(probe, resp)
    total = call.elapsed()
    CHAT_OVERHEAD.observe(max(0.0, total - attempts.upstream_s))
    if body.get("stream"):
        call.ttft_s = total
    call.finish("ok")
    headers = {**ladle_headers(attempts, call.cache, call.elapsed() - attempts.upstream_s), **extra}
    return Outcome(call, headers, completion=resp)


def _cached(call: ChatCall, hit: dict, status: str, extra: dict) -> Outcome:
    call.cache, call.attempts, call.usage = status, Attempts(answered="cache"), usage_of(hit)
    call.ttft_s = overhead = call.elapsed()
    call.finish("ok")
    return Outcome(call, {**ladle_headers(call.attempts, status, overhead), **extra}, completion=hit)


async def _stream(call: ChatCall, estimate: float, extra: dict) -> Outcome:
    gateway, attempts = call.gateway, call.attempts
    call.route = "chat_stream"
    agen = gateway.router.stream(call.model, call.body, attempts)
    try:
        first = await agen.__anext__()  # fallback happens in here, before any byte is sent
    except (AllFailed, UpstreamError) as exc:
        gateway.teams.settle(call.team, estimate, 0.0)
        call.finish("error", str(exc), exc.status)
        raise ApiError(
            exc.status, str(exc), "upstream_failed", {"x-ladle-tried": ",".join(attempts.tried), **extra}
        ) from None
    call.ttft_s = call.elapsed()

    async def chunks() -> AsyncGenerator[dict, None]:
        usage, pieces, status, err = Usage(), 0, "ok", None
        try:
            chunk = first
            while True:
                if chunk.get("usage"):
                    usage = usage_of(chunk)
                pieces += 1
                yield chunk
                try:
                    chunk = await agen.__anext__()
                except StopAsyncIteration:
                    break
        except UpstreamError as exc:
            status, err = "error", str(exc)
            raise
        finally:
            if usage.output_tokens == 0:
                usage = Usage(input_tokens=usage.input_tokens, output_tokens=max(0, pieces - 1))
            call.usage = usage
            call.cost = gateway.pricing.cost_for(gateway.price_model(attempts.answered, call.model), usage) or 0.0
            gateway.teams.settle(call.team, estimate, call.cost)
            call.finish(status, err, 200 if status == "ok" else 502)

    return Outcome(call, {**ladle_headers(attempts, call.cache, None), **extra}, chunks=chunks())


async def sse(chunks: AsyncGenerator[dict, None]) -> AsyncIterator[bytes]:
    """Chunks as server-sent events and [DONE]; never a clean end after a failure: the client
    sees an error event, not a short answer."""
    try:
        async for chunk in chunks:
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"
    except UpstreamError as exc:
        payload = {"error": {"message": str(exc), "type": "upstream_error", "code": "stream_interrupted"}}
        yield b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"
    finally:
        await chunks.aclose()  # a client that went away: the call is still settled and recorded now
