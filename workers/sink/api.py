"""The sink's HTTP API, served by the process that owns the embedded store.

- ClickHouse's HTTP interface (``/``, ``/ping``; chhttp.py) for analysts' own tools;
- Ladle's JSON API for Ladle's clients: GET /query?sql=... or POST /query {"sql": ...,
  "parameters": {...}} returns {"columns": [...], "rows": [[...], ...]}, a refused or failed
  query is a 400 with {"detail": "<one line>"}; GET /reports/{name}?since=7d&by=model,team
  runs a canned report;
- /health, open to anyone (the supervisor and compose probe it).

Every data request needs an analyst account (accounts.py); every query runs in a read-only
session that ClickHouse itself enforces, beside ingestion rather than under its lock.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from shared.runtime.errors import UserError
from workers.sink.accounts import Accounts, credentials
from workers.sink.settings import SinkSettings

log = structlog.get_logger(__name__)


class QueryBody(BaseModel):
    sql: str
    parameters: dict[str, Any] | None = None


def ceilings_of(settings: SinkSettings):
    from workers.sink.chsettings import Ceilings

    return Ceilings(
        max_execution_time=settings.clickhouse_query_timeout_s,
        max_result_rows=settings.clickhouse_export_max_rows,
        max_threads=settings.clickhouse_query_max_threads,
        max_memory_usage=settings.clickhouse_query_max_memory_bytes,
        nice=settings.clickhouse_query_nice,
    )


def analysts_for(store, settings: SinkSettings):
    """Who runs analysts' ClickHouse-interface queries: sessions on the embedded engine, or the server."""
    if store.kind == "chdb":
        from workers.sink.analyst import ChdbAnalysts

        return ChdbAnalysts(store.chdb_path, settings.clickhouse_max_concurrent_queries)
    from workers.sink.analyst_server import ServerAnalysts

    return ServerAnalysts(store, settings.clickhouse_max_concurrent_queries)


def create_app(store, accounts: Accounts | None = None, settings: SinkSettings | None = None) -> FastAPI:
    """The app over ``store``; accounts default to the users file of the sink's settings."""
    from workers.sink import chhttp
    from workers.sink.readonly import run_readonly
    from workers.sink.reports import run_report
    from workers.sink.service import SinkWorkerSettings

    settings = settings or SinkSettings()
    accounts = accounts or Accounts.load(SinkWorkerSettings().users_file)
    app = FastAPI(title="Ladle query API", version="1")

    def analyst(request: Request) -> str:
        creds = credentials(request.headers, request.query_params)
        if creds is None or not accounts.check(*creds):
            raise HTTPException(
                401, "an analyst account is required: Basic auth or X-ClickHouse-User/X-ClickHouse-Key "
                "(Ladle's clients send LADLE_SINK_API_USER and LADLE_SINK_API_PASSWORD)",
                headers={"WWW-Authenticate": 'Basic realm="Ladle"'},
            )  # fmt: skip
        return creds[0]

    login = [Depends(analyst)]

    def answer(fn, *args, **kwargs) -> dict:
        try:
            rows = fn(store, *args, **kwargs)
        except UserError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return {"columns": rows.columns, "rows": jsonable_encoder(rows.rows)}

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "store": store.describe(), "database": store.database}

    @app.get("/query", dependencies=login)
    def query_get(sql: str) -> dict:
        return answer(run_readonly, sql)

    @app.post("/query", dependencies=login)
    def query_post(body: QueryBody) -> dict:
        return answer(run_readonly, body.sql, body.parameters)

    @app.get("/reports/{name}", dependencies=login)
    def report(name: str, since: str = "7d", by: str | None = None) -> dict:
        group_by = [b for b in by.split(",") if b] if by else None
        return answer(run_report, name, since, group_by)

    analysts = analysts_for(store, settings) if store is not None else None  # None: listing routes only
    app.state.analysts = analysts
    chhttp.mount(app, analysts, accounts, ceilings_of(settings), store.database if store is not None else "")
    return app


def serve_in_thread(store, host: str, port: int, accounts: Accounts, settings: SinkSettings | None = None) -> ApiThread:
    """Runs the API beside the worker's loop; stop it before the store closes."""
    app = create_app(store, accounts, settings)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="query-api", daemon=True)
    thread.start()
    log.info("query_api.started", url=f"http://{host}:{port}", accounts=len(accounts.hashes))
    return ApiThread(server, thread, app.state.analysts)


class ApiThread:
    def __init__(self, server: uvicorn.Server, thread: threading.Thread, analysts) -> None:
        self.server, self.thread, self.analysts = server, thread, analysts

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the requests in flight and stop serving, cancelling analysts' queries still
        streaming: no query may touch a closed store (a chDB query racing the interpreter's exit
        can crash the process)."""
        self.server.should_exit = True
        self.thread.join(timeout_s / 2)
        if self.analysts is not None:
            self.analysts.close_all()
        self.thread.join(timeout_s / 2)
