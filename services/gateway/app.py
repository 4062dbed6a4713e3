"""The OpenAI-compatible HTTP API: /v1/chat/completions (also SSE), /v1/embeddings, /v1/models.

Every response says who answered (x-ladle-deployment), what was tried
(x-ladle-tried), the cache status (x-ladle-cache) and the gateway's own share
of the latency (x-ladle-overhead-ms). Errors carry their real HTTP status and
OpenAI's error shape; a stream that breaks after its first byte ends with an
error event and no [DONE].
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import Counter, Histogram, make_asgi_app

from schemas import LLMCall, PromptRef, Usage
from services.gateway.cache import ExactCache, cache_key
from services.gateway.config import GatewayConfig
from services.gateway.providers import UpstreamError
from services.gateway.router import AllFailed, Attempts, NoDeployment, Router
from services.gateway.teams import Refused, Teams
from shared.prompts.model import PromptError, render, resolve
from workers.sink.pricing import Pricing

log = structlog.get_logger(__name__)

OVERHEAD = Histogram(
    "ladle_gateway_overhead_seconds", "Gateway time on a request, upstream time excluded", ["route"],
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1),
)  # fmt: skip
REQUESTS = Counter("ladle_gateway_requests_total", "Requests by outcome", ["route", "status", "cache"])


def error(status: int, message: str, code: str, headers: dict | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "upstream_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "code": code}}, status_code=status, headers=headers
    )


def usage_of(resp: dict) -> Usage:
    u = resp.get("usage") or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Usage(
        input_tokens=u.get("prompt_tokens", 0), output_tokens=u.get("completion_tokens", 0), cached_input_tokens=cached
    )


class Gateway:
    def __init__(self, config: GatewayConfig, router: Router, pricing: Pricing, events=None, prompts=None) -> None:
        self.config, self.router, self.pricing, self.events = config, router, pricing, events
        self.prompts = prompts  # a PromptRegistry, or None when the prompts topic is not reachable
        self.teams = Teams(config, pricing)
        self.cache = ExactCache(config.exact_cache_ttl_s, config.exact_cache_entries)

    def price_model(self, deployment: str | None, fallback: str) -> str:
        if deployment and deployment in self.router.providers:
            d = self.router.providers[deployment].deployment
            return d.pricing_model or d.model
        return fallback

    def expand_prompt(self, body: dict) -> dict:
        """A request naming {"prompt": {"name", "label"?, "variables"}} gets the rendered messages."""
        spec = body.get("prompt")
        if spec is None:
            return body
        if self.prompts is None:
            raise PromptError("this gateway has no prompt registry (the prompts topic is unreachable)")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise PromptError('`prompt` must be {"name": ..., "label": ..., "variables": {...}}')
        state = self.prompts.get(spec["name"])
        label, version = resolve(state, spec.get("label"), body.get("user"))
        text = render(version, spec.get("variables") or {})
        out = {**version.parameters, **{k: v for k, v in body.items() if k != "prompt"}}
        out["messages"] = [*body.get("messages", []), {"role": "user", "content": text}]
        out.setdefault("model", version.model)
        out["_prompt_ref"] = PromptRef(name=state.name, version=version.version, label=label)
        return out

    def record(self, *, team, body, model, attempts, usage, cost, latency_s, ttft_s, cache, status, err=None) -> None:
        if self.events is None:
            return
        self.events.emit(
            LLMCall(
                call_id=uuid.uuid4().hex, team=team.name, use_case=str(body.get("metadata", {}).get("use_case", "unknown"))
                if isinstance(body.get("metadata"), dict) else "unknown",
                model=model, deployment=attempts.answered or "", provider=self._provider(attempts.answered),
                usage=usage, cost_usd=cost, latency_ms=latency_s * 1000, ttft_ms=None if ttft_s is None else ttft_s * 1000,
                cache_status=cache, fallback_chain=attempts.tried, status=status, error=err,
                prompt=body.get("_prompt_ref"),
            )
        )  # fmt: skip

    def _provider(self, deployment: str | None) -> str:
        if deployment and deployment in self.router.providers:
            return self.router.providers[deployment].deployment.provider
        return "gateway"


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(title="Ladle gateway", version="1")
    app.mount("/metrics", make_asgi_app())

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "deployments": list(gateway.router.providers)}

    @app.get("/v1/models")
    async def models() -> dict:
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "owned_by": "ladle"} for m in gateway.router.models()],
        }

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
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
        bypass = request.headers.get("x-ladle-cache", "").lower() in ("bypass", "no", "off")
        key = None if bypass else cache_key(team.name, model, body)
        if key is not None and (hit := gateway.cache.get(key)) is not None:
            return _cached(gateway, team, body, model, hit, t0)
        estimate = gateway.teams.estimate(gateway.price_model(chain[0], model), body)
        try:
            gateway.teams.admit(team, estimate)
        except Refused as exc:
            REQUESTS.labels("chat", str(exc.status), "none").inc()
            return error(exc.status, str(exc), exc.code)
        attempts = Attempts()
        cache_status = "bypass" if bypass else "miss"
        upstream_body = {k: v for k, v in body.items() if k != "_prompt_ref"}
        if body.get("stream"):
            return await _stream(gateway, team, body, model, attempts, estimate, cache_status, t0)
        try:
            resp = await gateway.router.call(model, upstream_body, attempts)
        except (AllFailed, UpstreamError) as exc:
            gateway.teams.settle(team, estimate, 0.0)
            status = exc.status
            gateway.record(team=team, body=body, model=model, attempts=attempts, usage=Usage(), cost=0.0,
                           latency_s=time.perf_counter() - t0, ttft_s=None, cache=cache_status,
                           status="timeout" if status == 504 else "rate_limited" if status == 429 else "error", err=str(exc))  # fmt: skip
            REQUESTS.labels("chat", str(status), cache_status).inc()
            return error(status, str(exc), "upstream_failed", {"x-ladle-tried": ",".join(attempts.tried)})
        usage = usage_of(resp)
        cost = gateway.pricing.cost_for(gateway.price_model(attempts.answered, model), usage) or 0.0
        gateway.teams.settle(team, estimate, cost)
        if key is not None:
            gateway.cache.put(key, resp)
        total = time.perf_counter() - t0
        overhead = max(0.0, total - attempts.upstream_s)
        OVERHEAD.labels("chat").observe(overhead)
        REQUESTS.labels("chat", "200", cache_status).inc()
        gateway.record(team=team, body=body, model=model, attempts=attempts, usage=usage, cost=cost,
                       latency_s=total, ttft_s=None, cache=cache_status, status="ok")  # fmt: skip
        headers = _headers(attempts, cache_status, time.perf_counter() - t0 - attempts.upstream_s)
        return Response(orjson.dumps(resp), media_type="application/json", headers=headers)

    @app.get("/v1/prompts")
    async def prompts_list() -> Response:
        if gateway.prompts is None:
            return error(503, "no prompt registry", "prompts_unavailable")
        return JSONResponse({"data": [s.model_dump(mode="json") for s in gateway.prompts.states.values()]})

    @app.get("/v1/prompts/{name}")
    async def prompts_get(name: str, user: str | None = None, label: str | None = None) -> Response:
        if gateway.prompts is None:
            return error(503, "no prompt registry", "prompts_unavailable")
        try:
            state = gateway.prompts.get(name)
            chosen, version = resolve(state, label, user)
        except PromptError as exc:
            return error(404, str(exc), "prompt_not_found")
        return JSONResponse(
            {"prompt": state.model_dump(mode="json"), "resolved": {"label": chosen, "version": version.version}}
        )

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        t0 = time.perf_counter()
        try:
            gateway.teams.authenticate(request.headers.get("authorization"))
            body = await request.json()
            gateway.router.chain(body.get("model", ""))
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        except NoDeployment as exc:
            return error(404, str(exc), "model_not_found")
        except (ValueError, AttributeError):
            return error(400, "an embeddings request needs a JSON body with `model` and `input`", "invalid_request")
        attempts = Attempts()
        try:
            resp = await gateway.router.call(body["model"], body, attempts, op="embed")
        except (AllFailed, UpstreamError) as exc:
            return error(exc.status, str(exc), "upstream_failed", {"x-ladle-tried": ",".join(attempts.tried)})
        overhead = max(0.0, time.perf_counter() - t0 - attempts.upstream_s)
        OVERHEAD.labels("embeddings").observe(overhead)
        return JSONResponse(resp, headers=_headers(attempts, "bypass", overhead))

    return app


def _headers(attempts: Attempts, cache: str, overhead_s: float | None) -> dict:
    h = {
        "x-ladle-deployment": attempts.answered or "",
        "x-ladle-tried": ",".join(attempts.tried),
        "x-ladle-cache": cache,
    }
    if overhead_s is not None:
        h["x-ladle-overhead-ms"] = f"{overhead_s * 1000:.3f}"
    return h


def _cached(gateway: Gateway, team, body: dict, model: str, hit: dict, t0: float) -> Response:
    attempts = Attempts(answered="cache")
    overhead = time.perf_counter() - t0
    REQUESTS.labels("chat", "200", "exact_hit").inc()
    gateway.record(team=team, body=body, model=model, attempts=attempts, usage=usage_of(hit), cost=0.0,
                   latency_s=overhead, ttft_s=overhead, cache="exact_hit", status="ok")  # fmt: skip
    headers = _headers(attempts, "exact_hit", overhead)
    if not body.get("stream"):
        return JSONResponse(hit, headers=headers)

    async def replay() -> AsyncIterator[bytes]:
        choice = hit["choices"][0]
        chunk = {"id": hit.get("id"), "object": "chat.completion.chunk", "created": hit.get("created"), "model": hit.get("model"),
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": choice["message"].get("content")},
                              "finish_reason": choice.get("finish_reason")}]}  # fmt: skip
        yield f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()

    return StreamingResponse(replay(), media_type="text/event-stream", headers=headers)


async def _stream(
    gateway: Gateway, team, body, model, attempts: Attempts, estimate: float, cache_status: str, t0: float
) -> Response:
    agen = gateway.router.stream(model, {k: v for k, v in body.items() if k != "_prompt_ref"}, attempts)
    try:
        first = await agen.__anext__()  # fallback happens in here, before any byte is sent
    except (AllFailed, UpstreamError) as exc:
        gateway.teams.settle(team, estimate, 0.0)
        REQUESTS.labels("chat_stream", str(exc.status), cache_status).inc()
        gateway.record(team=team, body=body, model=model, attempts=attempts, usage=Usage(), cost=0.0,
                       latency_s=time.perf_counter() - t0, ttft_s=None, cache=cache_status, status="error", err=str(exc))  # fmt: skip
        return error(exc.status, str(exc), "upstream_failed", {"x-ladle-tried": ",".join(attempts.tried)})
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
                           latency_s=time.perf_counter() - t0, ttft_s=ttft, cache=cache_status, status=status, err=err)  # fmt: skip

    return StreamingResponse(relay(), media_type="text/event-stream", headers=_headers(attempts, cache_status, None))
