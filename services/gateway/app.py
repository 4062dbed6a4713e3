"""The OpenAI-compatible HTTP API: /v1/chat/completions (also SSE; chat.py), /v1/responses
(responses_api.py), /v1/embeddings, /v1/models, /v1/prompts. The Gateway those routes share
lives in state.py. Every request body is checked against OpenAI's schema first (validate.py).

Every response says who answered (x-ladle-deployment), what was tried
(x-ladle-tried), the cache status (x-ladle-cache: miss, exact_hit, semantic_hit,
bypass), the guardrail verdicts (x-ladle-guardrails, on guarded aliases) and the
gateway's own share of the latency (x-ladle-overhead-ms). Errors carry their real
HTTP status and OpenAI's error shape.
"""

from __future__ import annotations

import time

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import make_asgi_app
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.gateway.chat import chat
from services.gateway.providers import UpstreamError
from services.gateway.responses import OVERHEAD, error, failure, ladle_headers
from services.gateway.responses_api import responses
from services.gateway.router import AllFailed, Attempts, NoDeployment
from services.gateway.state import Gateway
from services.gateway.teams import Refused
from services.gateway.validate import Invalid, embeddings_request
from shared.prompts.model import PromptError, resolve

log = structlog.get_logger(__name__)

__all__ = ["ChatFastPath", "Gateway", "create_app"]


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


def model_card(model: str) -> dict:
    return {"id": model, "object": "model", "created": 0, "owned_by": "ladle"}


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(title="Ladle gateway", version="1")
    app.mount("/metrics", make_asgi_app())
    app.add_middleware(ChatFastPath, gateway=gateway)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "deployments": list(gateway.router.providers)}

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        try:
            team = gateway.teams.authenticate(request.headers.get("authorization"))
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        visible = gateway.teams.visible(team, gateway.router.models())
        return JSONResponse({"object": "list", "data": [model_card(m) for m in visible]})

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str, request: Request) -> Response:
        try:
            team = gateway.teams.authenticate(request.headers.get("authorization"))
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        if model_id not in gateway.teams.visible(team, gateway.router.models()):  # as OpenAI: not yours, not found
            return error(404, f"The model '{model_id}' does not exist", "model_not_found", param="model")
        return JSONResponse(model_card(model_id))

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
            team = gateway.teams.authenticate(request.headers.get("authorization"))
            body = embeddings_request(orjson.loads(await request.body()))
            gateway.router.chain(body["model"])
            gateway.teams.allow(team, body["model"])
            gateway.teams.admit(team, 0.0)  # the team's request rate; embeddings are not budgeted
        except Refused as exc:
            return error(exc.status, str(exc), exc.code)
        except orjson.JSONDecodeError:
            return error(400, "the request body is not JSON", "invalid_json")
        except Invalid as exc:
            return error(400, str(exc), exc.code, param=exc.param)
        except NoDeployment as exc:
            return error(404, str(exc), "model_not_found", param="model")
        attempts = Attempts()
        try:
            resp = await gateway.router.call(body["model"], body, attempts, op="embed")
        except (AllFailed, UpstreamError) as exc:
            return failure(exc, {"x-ladle-tried": ",".join(attempts.tried)}).response()
        overhead = max(0.0, time.perf_counter() - t0 - attempts.upstream_s)
        OVERHEAD.labels("embeddings").observe(overhead)
        # orjson: a batch of vectors is thousands of floats, which json.dumps writes slowly
        return Response(
            orjson.dumps(resp), media_type="application/json", headers=ladle_headers(attempts, "bypass", overhead)
        )

    @app.post("/v1/responses")
    async def create_response(request: Request) -> Response:
        return await responses(gateway, request)

    from services.gateway.finetune_api import add_routes

    add_routes(app, gateway)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # an unknown path or method: OpenAI's error shape, like every other answer
        code = "not_found" if exc.status_code == 404 else "method_not_allowed" if exc.status_code == 405 else None
        return error(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}", code, exc.headers)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        # a bug, not a client's mistake: logged with its traceback, answered in OpenAI's shape
        log.exception("gateway.unexpected_error", path=request.url.path)
        return error(500, f"internal error: {type(exc).__name__}", "internal_error", kind="server_error")

    return app
