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

from schemas import PromptRef
from services.gateway.cache import cache_key
from services.gateway.calls import ChatCall, counted_usage, status_of
from services.gateway.config import Team
from services.gateway.providers import UpstreamError
from services.gateway.responses import (
    OVERHEAD,
    ApiError,
    answer,
    error_body,
    failure,
    ladle_headers,
    usage_json,
    usage_of,
    wants_usage,
)
from services.gateway.router import AllFailed, Attempts, NoDeployment
from services.gateway.state import Gateway
from services.gateway.teams import Refused
from services.gateway.validate import Invalid, chat_request
from shared.prompts.model import PromptError, PromptNotFound

# the children once: a labels() lookup per request is measurable
ROUTE_OVERHEAD = {route: OVERHEAD.labels(route) for route in ("chat", "responses")}
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
        team, body = await authenticated_body(gateway, request)
        body, prompt = parse(gateway, body)
        outcome = await complete(gateway, team, body, prompt, request.headers, t0)
    except ApiError as exc:
        return exc.response()
    if outcome.chunks is not None:
        return StreamingResponse(sse(outcome.chunks), media_type="text/event-stream", headers=outcome.headers)
    return answer(outcome.completion, outcome.headers, bool(body.get("stream")), wants_usage(body))


async def authenticated_body(gateway: Gateway, request: Request) -> tuple[Team, object]:
    """The calling team (by its key) and the request's JSON body; ApiError for a bad key or bad JSON."""
    try:
        team = gateway.teams.authenticate(request.headers.get("authorization"))
        return team, orjson.loads(await request.body())
    except Refused as exc:
        raise ApiError(exc.status, str(exc), exc.code) from None
    except orjson.JSONDecodeError:
        raise ApiError(400, "the request body is not JSON", "invalid_json") from None


def parse(gateway: Gateway, body: object) -> tuple[dict, PromptRef | None]:
    """The chat request a body asks for (a named prompt rendered into its messages), checked
    against OpenAI's schema before any cache, budget or upstream sees it."""
    prompt = None
    if isinstance(body, dict) and "prompt" in body:
        try:
            body, prompt = gateway.expand_prompt(body)
        except PromptNotFound as exc:
            raise ApiError(404, str(exc), "prompt_error", param="prompt.name") from None
        except PromptError as exc:
            raise ApiError(400, str(exc), "prompt_error", param="prompt") from None
    try:
        return chat_request(body), prompt
    except Invalid as exc:
        raise ApiError(400, str(exc), exc.code, param=exc.param) from None


async def complete(gateway: Gateway, team: Team, body: dict, prompt: PromptRef | None, headers: Mapping[str, str],
                   t0: float, route: str = "chat") -> Outcome:  # fmt: skip
    """Route one parsed chat request; raises ApiError for every answer that is an error."""
    model = body["model"]
    try:
        chain = gateway.router.chain(model)
        gateway.teams.allow(team, model)
    except NoDeployment as exc:
        raise ApiError(404, str(exc), "model_not_found", param="model") from None
    except Refused as exc:
        raise ApiError(exc.status, str(exc), exc.code, param="model") from None
    call = ChatCall(gateway, team, body, model, prompt, t0, route)
    try:
        return await _route(call, chain, headers)
    except BaseException as exc:  # a bug, or a client gone mid-call: still its one LLMCall
        call.settle(0.0)  # the reservation is released (nothing when an exit settled it)
        call.finish("error", f"{type(exc).__name__}: {exc}", 500)  # nothing when an exit recorded it
        raise


async def _route(call: ChatCall, chain: list[str], headers: Mapping[str, str]) -> Outcome:
    gateway, team, body, model, route = call.gateway, call.team, call.body, call.model, call.route
    bypass = headers.get("x-ladle-cache", "").lower() in BYPASS
    call.cache = "bypass" if bypass else "miss"
    guard = gateway.guards.route(model) if gateway.guards is not None else None
    extra: dict[str, str] = {}  # x-ladle-guardrails, x-ladle-semantic-*
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
        probe = await gateway.semantic.lookup(team.name, model, body, call.prompt)
        if probe is not None and probe.found is not None:  # a candidate: served, or refused by the verifier
            call.semantic = probe.found
            extra.update(probe.found.headers())
            if probe.hit is not None:
                return _cached(call, probe.hit, "semantic_hit", extra)
    estimate = gateway.teams.estimate(gateway.price_model(chain[0], model), body)
    try:
        gateway.teams.admit(team, estimate)
        call.reserved = estimate
    except Refused as exc:
        call.cache = "none"
        call.finish(exc.code, str(exc), exc.status, record=False)  # counted, not recorded: no model was asked
        raise ApiError(exc.status, str(exc), exc.code) from None
    checks_answer = guard is not None and guard.output is not None
    if body.get("stream") and not checks_answer:  # a checked answer is buffered: checked whole, then sent
        return await _stream(call, extra)
    attempts = call.attempts
    try:
        resp = await gateway.router.call(model, body, attempts)
    except (AllFailed, UpstreamError) as exc:
        raise _failed(call, exc, extra) from None
    call.usage = usage_of(resp)
    call.cost = gateway.pricing.cost_for(gateway.price_model(attempts.answered, model), call.usage) or 0.0
    call.settle(call.cost)
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
    ROUTE_OVERHEAD[route].observe(max(0.0, total - attempts.upstream_s))
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


def _failed(call: ChatCall, exc: AllFailed | UpstreamError, extra: dict) -> ApiError:
    call.settle(0.0)
    call.finish(status_of(exc), str(exc), exc.status)
    return failure(exc, {"x-ladle-tried": ",".join(call.attempts.tried), **extra})


async def _stream(call: ChatCall, extra: dict) -> Outcome:
    gateway, attempts = call.gateway, call.attempts
    call.route += "_stream"
    agen = gateway.router.stream(call.model, call.body, attempts)
    try:
        first = await agen.__anext__()  # fallback happens in here, before any byte is sent
    except (AllFailed, UpstreamError) as exc:
        raise _failed(call, exc, extra) from None
    call.ttft_s = call.elapsed()
    include_usage = wants_usage(call.body)

    async def chunks() -> AsyncGenerator[dict, None]:
        """The upstream's chunks without its usage; the usage chunk at the end is the gateway's,
        from the upstream's figures or counted, and only for a client that asked for it."""
        reported, deltas, status, err = None, 0, "ok", None
        try:
            chunk = first
            while True:
                if "usage" in chunk:
                    if chunk["usage"]:
                        reported = usage_of(chunk)
                    chunk = {k: v for k, v in chunk.items() if k != "usage"}
                choices = chunk.get("choices")
                if choices:
                    for c in choices:
                        delta = c.get("delta") or {}
                        if delta.get("content") or delta.get("tool_calls"):
                            deltas += 1
                    yield chunk
                try:
                    chunk = await agen.__anext__()
                except StopAsyncIteration:
                    break
            call.usage = reported if reported and reported.output_tokens else counted_usage(call.body, deltas)
            if include_usage:
                yield {"id": chunk.get("id"), "object": "chat.completion.chunk", "created": chunk.get("created"),
                       "model": chunk.get("model"), "choices": [], "usage": usage_json(call.usage)}  # fmt: skip
        except UpstreamError as exc:
            status, err = "error", str(exc)
            raise
        finally:
            if not call.usage.output_tokens:
                call.usage = reported if reported and reported.output_tokens else counted_usage(call.body, deltas)
            call.cost = gateway.pricing.cost_for(gateway.price_model(attempts.answered, call.model), call.usage) or 0.0
            call.settle(call.cost)
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
        payload = error_body(str(exc), "upstream_error", "stream_interrupted")
        yield b"event: error\ndata: " + orjson.dumps(payload) + b"\n\n"
    finally:
        await chunks.aclose()  # a client that went away: the call is still settled and recorded now
