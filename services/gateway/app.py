"""The OpenAI-compatible HTTP API: /v1/chat/completions (also SSE; chat.py), /v1/embeddings,
/v1/models, /v1/prompts, and the Gateway those routes share.

Every response says who answered (x-ladle-deployment), what was tried
(x-ladle-tried), the cache status (x-ladle-cache: miss, exact_hit, semantic_hit,
bypass), the guardrail verdicts (x-ladle-guardrails, on guarded aliases) and the
gateway's own share of the latency (x-ladle-overhead-ms). Errors carry their real
HTTP status and OpenAI's error shape.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import make_asgi_app

from schemas import GuardrailVerdict, LLMCall, PromptRef
from services.gateway.cache import ExactCache
from services.gateway.chat import chat
from services.gateway.config import GatewayConfig
from services.gateway.providers import UpstreamError
from services.gateway.responses import OVERHEAD, error, ladle_headers, use_case_of
from services.gateway.router import AllFailed, Attempts, NoDeployment, Router
from services.gateway.spend import SpendLedger
from services.gateway.teams import Refused, Teams
from shared.pricing import Pricing
from shared.prompts.model import PromptError, render, resolve
from shared.runtime.errors import UserError

log = structlog.get_logger(__name__)


class Gateway:
    def __init__(
        self, config: GatewayConfig, router: Router, pricing: Pricing, events=None, prompts=None,
        data_dir: Path | None = None,
    ) -> None:  # fmt: skip
        """``data_dir`` (<LADLE_DATA_DIR>/gateway) holds the spend ledger and the semantic cache;
        without one, spend lives in memory only and a configured semantic cache is an error."""
        self.config, self.router, self.pricing, self.events = config, router, pricing, events
        self.prompts = prompts  # a PromptRegistry, or None when the prompts topic is not reachable
        self.teams = Teams(config, pricing, SpendLedger(data_dir / "spend.jsonl") if data_dir else None)
        self.cache = ExactCache(config.exact_cache_ttl_s, config.exact_cache_entries)
        self.semantic = self.guards = None
        if config.semantic_cache is not None:  # imported only when configured: the plain path stays light
            from services.gateway.encoder import shared_encoder
            from services.gateway.semantic import SemanticCache
            from shared.encoder import slug

            if data_dir is None:
                raise UserError("semantic_cache needs the gateway's data folder (LADLE_DATA_DIR)")
            sc = config.semantic_cache
            self.semantic = SemanticCache(sc, data_dir / "semantic" / slug(sc.model), shared_encoder(sc.model))
        if config.guardrails is not None:
            from services.gateway.guard import RouteGuards

            self.guards = RouteGuards(config.guardrails)

    def close(self) -> None:
        for part in (self.teams.spend, self.semantic, self.guards):
            if part is not None:
                part.close()

    def verdict(self, verdict: GuardrailVerdict) -> None:
        if self.events is not None:
            self.events.verdict(verdict)

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

    def record(self, *, team, body, model, attempts, usage, cost, latency_s, ttft_s, cache, status, err=None,
               call_id: str | None = None) -> None:  # fmt: skip
        if self.events is None:
            return
        self.events.emit(
            LLMCall(
                call_id=call_id or uuid.uuid4().hex, trace_id=call_id, team=team.name, use_case=use_case_of(body),
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


class ChatFastPath:
    """POST /v1/chat/completions straight to its handler. FastAPI's routing, endpoint wrapping
    and exception layers cost about a quarter of the gateway's CPU per request (py-spy, 500
    req/s); this ASGI middleware sits inside ServerErrorMiddleware, so an unexpected error is
    still a 500. Every other route goes through FastAPI; the route below stays for the docs."""

    def __init__(self, app, gateway: Gateway) -> None:
        self.app, self.gateway = app, gateway

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/chat/completions" and scope["method"] == "POST":
            response = await chat(self.gateway, Request(scope, receive))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(title="Ladle gateway", version="1")
    app.mount("/metrics", make_asgi_app())
    app.add_middleware(ChatFastPath, gateway=gateway)

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
    async def chat_completions(request: Request) -> Response:
        return await chat(gateway, request)

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
        # orjson: a batch of vectors is thousands of floats, which json.dumps writes slowly
        return Response(
            orjson.dumps(resp), media_type="application/json", headers=ladle_headers(attempts, "bypass", overhead)
        )

    return app
