"""The console's HTTP app: sign-in, the review queue, the playground, evaluations and costs.

Every page but /login, /health, /metrics and /static needs a session (otherwise: 302 to
/login); every POST needs the session's CSRF token. Blocking work (Kafka, the sink, the
prompt registry) runs in the thread pool.
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from urllib.parse import parse_qs, quote

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from prometheus_client import Counter, make_asgi_app
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from services.console import dashboards, pages, playground
from services.console.auth import LOGIN_COOKIE, SESSION_COOKIE, Session, Signer, safe_next, same_token
from services.console.review import AlreadyDecided, ReviewQueue, Taxonomies
from services.console.settings import ConsoleSettings
from services.console.sinkq import SinkClient, SinkUnavailable
from shared.accounts import Accounts
from shared.pricing import Pricing
from shared.runtime.errors import LadleError, UserError
from shared.settings import REPO_ROOT, LadleSettings

log = structlog.get_logger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
REQUESTS = Counter("ladle_console_requests_total", "Console page and API requests", ["route", "status"])
DECISIONS = Counter("ladle_console_review_decisions_total", "Review decisions made in the console", ["action"])
PROMPT_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


class NeedLogin(Exception):
    pass


class BadCsrf(Exception):
    pass


class Console:
    """What the routes share: settings, accounts, the signer, the queue, the registry, the sink."""

    def __init__(self, settings: ConsoleSettings, ladle: LadleSettings) -> None:
        self.settings, self.ladle = settings, ladle
        self.accounts = Accounts.load(settings.users_file)
        self.signer = Signer(settings.secret or secrets.token_bytes(32), settings.session_hours * 3600)
        self.queue = ReviewQueue(ladle, Taxonomies(settings.use_cases_file, REPO_ROOT))
        self.sink = SinkClient(settings.sink_api_url, settings.sink_api_user, settings.sink_api_password)
        self.pricing = Pricing.load(settings.pricing_file)
        self.prices = playground.price_names(settings.gateway_config_file)
        self._registry = None
        self._registry_lock = threading.Lock()

    def registry(self):
        """The prompt registry, read to its end once and followed after."""
        from shared.prompts import PromptRegistry

        with self._registry_lock:
            if self._registry is None:
                self._registry = PromptRegistry(self.ladle).load()
                self._registry.follow()
            return self._registry

    def close(self) -> None:
        self.queue.close()
        if self._registry is not None:
            self._registry.close()


async def form_of(request: Request) -> dict[str, list[str]]:
    return parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)


def first(form: dict[str, list[str]], name: str, default: str = "") -> str:
    return (form.get(name) or [default])[0]


def create_app(console: Console | None) -> FastAPI:
    app = FastAPI(title="Ladle console", version="1", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/metrics", make_asgi_app())

    def session(request: Request) -> Session:
        s = console.signer.session(request.cookies.get(SESSION_COOKIE))
        if s is None:
            raise NeedLogin()
        return s

    async def posted(request: Request) -> tuple[Session, dict[str, list[str]]]:
        s = session(request)
        form = await form_of(request)
        if not same_token(s.csrf, first(form, "csrf")):
            raise BadCsrf()
        return s, form

    def html(body: str, status: int = 200, route: str = "page") -> HTMLResponse:
        REQUESTS.labels(route, str(status)).inc()
        return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    @app.exception_handler(NeedLogin)
    async def need_login(request: Request, exc: NeedLogin) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=302)

    @app.exception_handler(BadCsrf)
    async def bad_csrf(request: Request, exc: BadCsrf) -> Response:
        return html(pages.layout("Refused", pages.notice("The form's CSRF token is missing or stale: reload the page "
                                                         "and try again.", True)), 403, "csrf")  # fmt: skip

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/static/{name}")
    async def static(name: str) -> Response:
        path = STATIC / name
        if name not in {p.name for p in STATIC.iterdir()}:
            return Response(status_code=404)
        return FileResponse(path, media_type="text/javascript" if name.endswith(".js") else None)

    @app.get("/login")
    async def login_page(next: str = "/") -> Response:
        token = secrets.token_urlsafe(24)
        resp = html(pages.login(safe_next(next), token), route="login")
        resp.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                        secure=console.settings.secure_cookies)  # fmt: skip
        return resp

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await form_of(request)
        target = safe_next(first(form, "next", "/"))
        if not same_token(request.cookies.get(LOGIN_COOKIE), first(form, "csrf")):
            raise BadCsrf()
        user = first(form, "user").strip()
        if not console.accounts.check(user, first(form, "password")):
            log.info("console.login_refused", user=user[:64])
            token = secrets.token_urlsafe(24)
            resp = html(pages.login(target, token, "Unknown account or wrong password."), 401, "login")
            resp.set_cookie(LOGIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
                            secure=console.settings.secure_cookies)  # fmt: skip
            return resp
        cookie, _ = console.signer.issue(user)
        log.info("console.login", user=user)
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(SESSION_COOKIE, cookie, max_age=int(console.signer.max_age_s), httponly=True, samesite="lax",
                        secure=console.settings.secure_cookies)  # fmt: skip
        resp.delete_cookie(LOGIN_COOKIE)
        return resp

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await posted(request)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    @app.get("/")
    async def home(request: Request) -> Response:
        s = session(request)
        return html(pages.home(s.user, s.csrf))

    # -- review --------------------------------------------------------------------

    @app.get("/review")
    async def review_list(request: Request, message: str | None = None) -> Response:
        s = session(request)
        try:
            pending = await run_in_threadpool(console.queue.pending)
            decided = await run_in_threadpool(console.queue.decided)
        except LadleError as exc:
            return html(pages.layout("Review queue", pages.notice(str(exc), True), s.user, s.csrf), 503, "review")
        return html(pages.review_list(s.user, s.csrf, pending, decided, message), route="review")

    async def review_page(s: Session, item_id: str, message=None, error=None, status: int = 200) -> Response:
        try:
            item, decision = await run_in_threadpool(console.queue.get, item_id)
        except UserError as exc:
            return html(pages.layout("Review", pages.notice(str(exc), True), s.user, s.csrf), 404, "review_item")
        taxonomy = console.queue.taxonomies.of(item.guarded.result.task)
        body = pages.review_item(s.user, s.csrf, item, decision, taxonomy, message, error)
        return html(body, status, "review_item")

    @app.get("/review/{item_id}")
    async def review_item(request: Request, item_id: str) -> Response:
        return await review_page(session(request), item_id)

    @app.post("/review/{item_id}")
    async def review_decide(request: Request, item_id: str) -> Response:
        s, form = await posted(request)
        action = first(form, "action")
        after = None
        if action == "correct":
            item, _ = await run_in_threadpool(console.queue.get, item_id)
            taxonomy = console.queue.taxonomies.of(item.guarded.result.task)
            after = {}
            for name, f in taxonomy.fields.items():
                values = [v for v in form.get(f"f.{name}", []) if v]
                after[name] = (values[0] if values else "") if f.kind == "one" else values
        try:
            d = await run_in_threadpool(console.queue.decide, item_id, s.user, action, after, first(form, "note"))
        except AlreadyDecided as exc:
            return await review_page(s, item_id, error=str(exc), status=409)
        except UserError as exc:
            return await review_page(s, item_id, error=str(exc), status=400)
        DECISIONS.labels(d.action).inc()
        return RedirectResponse(f"/review/{quote(item_id)}", status_code=303)

    # -- playground ----------------------------------------------------------------

    def prompt_choices() -> list[tuple[str, int]]:
        reg = console.registry()
        return [(n, v.version) for n, st in sorted(reg.states.items()) for v in st.versions]

    @app.get("/playground")
    async def playground_page(request: Request, prompt: str = "") -> Response:
        s = session(request)
        chosen: dict = {"models": ["fast", "", ""], "message": "", "system": "", "name": ""}
        error = None
        try:
            choices = await run_in_threadpool(prompt_choices)
        except LadleError as exc:
            choices, error = [], f"the prompt registry is not readable: {exc}"
        if prompt:
            from shared.prompts.model import PromptError, render

            name, _, number = prompt.rpartition("@")
            try:
                state = console.registry().get(name)
                version = next(v for v in state.versions if str(v.version) == number)
            except (PromptError, StopIteration):
                error = f"no prompt version {prompt}"
            else:
                given = {k: request.query_params.get(f"var.{k}", "") for k in version.variables}
                chosen.update(prompt=prompt, name=name, variables=given, models=[version.model or "fast", "", ""])
                chosen["message"] = render(version, given) if all(given.values()) else version.template
        return html(pages.playground(s.user, s.csrf, choices, chosen, error=error), route="playground")

    @app.post("/playground/run")
    async def playground_run(request: Request) -> Response:
        s = session(request)
        if not same_token(s.csrf, request.headers.get("x-csrf-token")):
            raise BadCsrf()
        try:
            req = playground.RunRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            return JSONResponse({"detail": str(exc.errors(include_url=False)[:3])}, status_code=400)
        REQUESTS.labels("playground_run", "200").inc()
        log.info("console.playground_run", user=s.user, model=req.model)
        return StreamingResponse(playground.run(app.state.http, console.settings.gateway_url, console.pricing, console.prices,
                                                 req),
                                 media_type="application/x-ndjson", headers={"Cache-Control": "no-store"})  # fmt: skip

    @app.post("/playground/save")
    async def playground_save(request: Request) -> Response:
        s, form = await posted(request)
        name, template = first(form, "name").strip(), first(form, "message")
        models = [first(form, f"model{i}").strip() for i in range(3)]
        chosen = {"models": models, "message": template, "system": first(form, "system"), "name": name}
        error = None
        if not name or set(name) - PROMPT_NAME_CHARS:
            error = "a prompt name is letters, digits, _ . - only"
        elif not template.strip():
            error = "the user message is empty: nothing to save"
        else:
            try:
                reg = await run_in_threadpool(console.registry)
                state = await run_in_threadpool(lambda: reg.push(name, template, model=next(filter(None, models), None),
                                                                 created_by=s.user))  # fmt: skip
            except LadleError as exc:
                error = str(exc)
        if error:
            choices = await run_in_threadpool(prompt_choices)
            return html(pages.playground(s.user, s.csrf, choices, chosen, error=error), 400, "playground_save")
        version = state.versions[-1].version
        log.info("console.prompt_saved", user=s.user, prompt=name, version=version)
        choices = await run_in_threadpool(prompt_choices)
        chosen["prompt"] = f"{name}@{version}"
        message = f"saved {name}@{version} (labels unchanged: promote with `ladle prompts promote`)"
        return html(pages.playground(s.user, s.csrf, choices, chosen, message=message), route="playground_save")

    # -- evaluations and costs -----------------------------------------------------

    @app.get("/evaluations")
    async def evaluations(request: Request, a: str = "", b: str = "") -> Response:
        s = session(request)
        try:
            runs = await run_in_threadpool(dashboards.runs, console.sink)
        except SinkUnavailable as exc:
            return html(pages.layout("Evaluations", pages.notice(str(exc), True), s.user, s.csrf), 503, "evaluations")
        compare_html = ""
        if a and b:
            try:
                compare_html = await run_in_threadpool(dashboards.compare_runs, console.sink, console.queue.taxonomies,
                                                       runs, a, b)  # fmt: skip
            except SinkUnavailable as exc:
                compare_html = pages.notice(str(exc), True)
        return html(pages.layout("Evaluations", dashboards.evaluations_body(runs, compare_html), s.user, s.csrf),
                    route="evaluations")  # fmt: skip

    @app.get("/costs")
    async def costs(request: Request, since: str = "30d") -> Response:
        s = session(request)
        body = await run_in_threadpool(dashboards.costs_body, console.sink, since)
        return html(pages.layout("Costs and quality", body, s.user, s.csrf), route="costs")

    @app.on_event("startup")
    async def _start() -> None:
        app.state.http = httpx.AsyncClient()

    @app.on_event("shutdown")
    async def _stop() -> None:
        await app.state.http.aclose()
        if console is not None:
            await run_in_threadpool(console.close)

    return app
