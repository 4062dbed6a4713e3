"""POST /v1/chat/completions: one request through guardrails, caches, budget and the router.

A stream falls back only before its first byte; one that breaks later ends with an
error event and no [DONE]. A route whose answers are checked is buffered: the whole
answer is checked, then sent (as one chunk when the client asked for a stream).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from schemas import Usage
from services.gateway.cache import cache_key
from services.gateway.providers import UpstreamError
from services.gateway.responses import OVERHEAD, REQUESTS, answer, error, ladle_headers, usage_of, use_case_of
from services.gateway.router import AllFailed, Attempts, NoDeployment
from services.gateway.teams import Refused
from shared.prompts.model import PromptError

CHAT_OVERHEAD = OVERHEAD.labels("chat")  # the child once: a labels() lookup per request is measurable

if TYPE_CHECKING:
    from services.gateway.app import Gateway


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
    if isinstance(body, dict) and "prompt" in body:
        try:
            body = gateway.expand_prompt(body)
        except PromptError as exc:
            return error(404 if "no prompt named" in str(exc) else 400, str(exc), "prompt_error")
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("model"), str)
        or not isinstance(body.get("messages"), list)
    ):
        return error(400, "a chat request needs a string `model` and a list of `messages`", "invalid_request")
    model = body["model"]
    try:
        chain = gateway.router.chain(model)
    except NoDeployment as exc:
        return error(404, str(exc), "model_not_found")
    call_id = uuid.uuid4().hex  # the LLMCall's id, and the subject id of its guardrail verdicts
    bypass = request.headers.get("x-ladle-cache", "").lower() in ("bypass", "no", "off")
    cache_status = "bypass" if bypass else "miss"
    guard = gateway.guards.route(model) if gateway.guards is not None else None
    extra: dict[str, str] = {}  # x-ladle-guardrails, x-ladle-semantic-score
    if guard is not None and guard.input:
        checked = await gateway.guards.check_request(guard, body, call_id, team.name, use_case_of(body))
        gateway.verdict(checked.verdict)
        extra["x-ladle-guardrails"] = f"input={checked.verdict.action}"
        if checked.blocked:
            gateway.record(team=team, body=body, model=model, attempts=Attempts(), usage=Usage(), cost=0.0,
                           latency_s=time.perf_counter() - t0, ttft_s=None, cache=cache_status, status="blocked",
                           err=checked.reason(), call_id=call_id)  # fmt: skip
            REQUESTS.labels("chat", "400", cache_status).inc()
            return error(400, f"the request was blocked by guardrails: {checked.reason()}", "guardrail_blocked",
                         extra, kind="guardrail_error")  # fmt: skip
        body = checked.body
    key = None if bypass or not gateway.cache.enabled else cache_key(team.name, model, body)
    if key is not None and (hit := gateway.cache.get(key)) is not None:
        return _cached(gateway, team, body, model, hit, t0, "exact_hit", call_id, extra)
    probe = None
    if not bypass and gateway.semantic is not None and model in gateway.semantic.serves:
        probe = await gateway.semantic.lookup(team.name, model, body)
        if probe is not None and probe.hit is not None:
            extra["x-ladle-semantic-score"] = f"{probe.score:.4f}"
            return _cached(gateway, team, body, model, probe.hit, t0, "semantic_hit", call_id, extra)
    estimate = gateway.teams.estimate(gateway.price_model(chain[0], model), body)
    try:
        gateway.teams.admit(team, estimate)
    except Refused as exc:
        REQUESTS.labels("chat", str(exc.status), "none").inc()
        return error(exc.status, str(exc), exc.code)
    attempts = Attempts()
    upstream_body = {k: v for k, v in body.items() if k != "_prompt_ref"}
    checks_answer = guard is not None and guard.output is not None
    if body.get("stream") and not checks_answer:  # a checked answer is buffered: checked whole, then sent
        return await _stream(gateway, team, body, model, attempts, estimate, cache_status, t0, call_id, extra)
    try:
        resp = await gateway.router.call(model, upstream_body, attempts)
    except (AllFailed, UpstreamError) as exc:
        gateway.teams.settle(team, estimate, 0.0)
        status = exc.status
        gateway.record(team=team, body=body, model=model, attempts=attempts, usage=Usage(), cost=0.0,
                       latency_s=time.perf_counter() - t0, ttft_s=None, cache=cache_status, call_id=call_id,
                       status="timeout" if status == 504 else "rate_limited" if status == 429 else "error", err=str(exc))  # fmt: skip
        REQUESTS.labels("chat", str(status), cache_status).inc()
        return error(status, str(exc), "upstream_failed", {"x-ladle-tried": ",".join(attempts.tried), **extra})
    usage = usage_of(resp)
    cost = gateway.pricing.cost_for(gateway.price_model(attempts.answered, model), usage) or 0.0
    gateway.teams.settle(team, estimate, cost)
    if checks_answer:
        checked = await gateway.guards.check_answer(guard, resp, call_id, team.name, use_case_of(body))
        gateway.verdict(checked.verdict)
        extra["x-ladle-guardrails"] = ",".join(filter(None, [extra.get("x-ladle-guardrails"),
                                                            f"output={checked.verdict.action}"]))  # fmt: skip
        if checked.blocked:  # 422, not 5xx: clients retry a 5xx, and would pay for the same answer again
            gateway.record(team=team, body=body, model=model, attempts=attempts, usage=usage, cost=cost,
                           latency_s=time.perf_counter() - t0, ttft_s=None, cache=cache_status, status="blocked",
                           err=checked.reason(), call_id=call_id)  # fmt: skip
            REQUESTS.labels("chat", "422", cache_status).inc()
            return error(422, f"the answer was blocked by guardrails: {checked.reason()}", "guardrail_blocked",
                         {**ladle_headers(attempts, cache_status, None), **extra}, kind="guardrail_error")  # fmt: skip
        resp = checked.body
    if key is not None:
        gateway.cache.put(key, resp)
    if probe is not None:
        await gateway.semantic.store(probe, resp)
    total = time.perf_counter() - t0
    overhead = max(0.0, total - attempts.upstream_s)
    CHAT_OVERHEAD.observe(overhead)
    REQUESTS.labels("chat", "200", cache_status).inc()
    gateway.record(team=team, body=body, model=model, attempts=attempts, usage=usage, cost=cost, call_id=call_id,
                   latency_s=total, ttft_s=total if body.get("stream") else None, cache=cache_status, status="ok")  # fmt: skip
    headers = {**ladle_headers(attempts, cache_status, time.perf_counter() - t0 - attempts.upstream_s), **extra}
    return answer(resp, headers, bool(body.get("stream")))


def _cached(gateway: Gateway, team, body: dict, model: str, hit: dict, t0: float, status: str, call_id: str,
            extra: dict) -> Response:  # fmt: skip
    attempts = Attempts(answered="cache")
    overhead = time.perf_counter() - t0
    REQUESTS.labels("chat", "200", status).inc()
    gateway.record(team=team, body=body, model=model, attempts=attempts, usage=usage_of(hit), cost=0.0,
                   latency_s=overhead, ttft_s=overhead, cache=status, status="ok", call_id=call_id)  # fmt: skip
    return answer(hit, {**ladle_headers(attempts, status, overhead), **extra}, bool(body.get("stream")))


async def _stream(
    gateway: Gateway, team, body, model, attempts: Attempts, estimate: float, cache_status: str, t0: float,
    call_id: str, extra: dict,
) -> Response:  # fmt: skip
    agen = gateway.router.stream(model, {k: v for k, v in body.items() if k != "_prompt_ref"}, attempts)
    try:
        first = await agen.__anext__()  # fallback happens in here, before any byte is sent
    except (AllFailed, UpstreamError) as exc:
        gateway.teams.settle(team, estimate, 0.0)
        REQUESTS.labels("chat_stream", str(exc.status), cache_status).inc()
        gateway.record(team=team, body=body, model=model, attempts=attempts, usage=Usage(), cost=0.0,
                       latency_s=time.perf_counter() - t0, ttft_s=None, cache=cache_status, status="error", err=str(exc),
                       call_id=call_id)  # fmt: skip
        return error(exc.status, str(exc), "upstream_failed", {"x-ladle-tried": ",".join(attempts.tried), **extra})
    ttft = time.perf_counter() - t0

    async def relay() -> AsyncIterator[bytes]:
        usage, pieces, status, err = Usage(), 0, "ok", None
        try:
            chunk = first
            while True:
                if chunk.get("usage"):
                    usage = usage_of(chunk)
                pieces += 1
                yield f"data: {json.dumps(chunk)}\n\n".encode()
                try:
                    chunk = await agen.__anext__()
                except StopAsyncIteration:
                    break
            yield b"data: [DONE]\n\n"
        except UpstreamError as exc:
            status, err = "error", str(exc)
            # Never a clean end after a failure: the client sees an error, not a short answer.
            payload = {"error": {"message": str(exc), "type": "upstream_error", "code": "stream_interrupted"}}
            yield f"event: error\ndata: {json.dumps(payload)}\n\n".encode()
        finally:
            if usage.output_tokens == 0:
                usage = Usage(input_tokens=usage.input_tokens, output_tokens=max(0, pieces - 1))
            cost = gateway.pricing.cost_for(gateway.price_model(attempts.answered, model), usage) or 0.0
            gateway.teams.settle(team, estimate, cost)
            REQUESTS.labels("chat_stream", "200" if status == "ok" else "502", cache_status).inc()
            gateway.record(team=team, body=body, model=model, attempts=attempts, usage=usage, cost=cost,
                           latency_s=time.perf_counter() - t0, ttft_s=ttft, cache=cache_status, status=status, err=err,
                           call_id=call_id)  # fmt: skip

    headers = {**ladle_headers(attempts, cache_status, None), **extra}
    return StreamingResponse(relay(), media_type="text/event-stream", headers=headers)
