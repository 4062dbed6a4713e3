"""Read-only SQL over HTTP, served by the process that owns the embedded store (the sink).

GET /query?sql=... or POST /query {"sql": ..., "parameters": {...}} returns
{"columns": [...], "rows": [[...], ...]}; a refused or failed query is a 400
with {"detail": "<one line>"}. GET /reports/{name}?since=7d&by=model,team runs a
canned report. The store's own readonly session enforces read-only.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from shared.runtime.errors import UserError

log = structlog.get_logger(__name__)


class QueryBody(BaseModel):
    sql: str
    parameters: dict[str, Any] | None = None


def create_app(store) -> FastAPI:
    from workers.sink.readonly import run_readonly
    from workers.sink.reports import run_report

    app = FastAPI(title="Ladle query API", version="1")

    def answer(fn, *args, **kwargs) -> dict:
        try:
            rows = fn(store, *args, **kwargs)
        except UserError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        return {"columns": rows.columns, "rows": jsonable_encoder(rows.rows)}

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "store": store.describe(), "database": store.database}

    @app.get("/query")
    def query_get(sql: str) -> dict:
        return answer(run_readonly, sql)

    @app.post("/query")
    def query_post(body: QueryBody) -> dict:
        return answer(run_readonly, body.sql, body.parameters)

    @app.get("/reports/{name}")
    def report(name: str, since: str = "7d", by: str | None = None) -> dict:
        group_by = [b for b in by.split(",") if b] if by else None
        return answer(run_report, name, since, group_by)

    return app


def serve_in_thread(store, host: str, port: int) -> ApiThread:
    """Runs the API beside the worker's loop; stop it before the store closes."""
    config = uvicorn.Config(create_app(store), host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="query-api", daemon=True)
    thread.start()
    log.info("query_api.started", url=f"http://{host}:{port}")
    return ApiThread(server, thread)


class ApiThread:
    def __init__(self, server: uvicorn.Server, thread: threading.Thread) -> None:
        self.server, self.thread = server, thread

    def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the requests in flight and stop serving: no query may touch a closed store
        (a chDB query racing the interpreter's exit can crash the process)."""
        self.server.should_exit = True
        self.thread.join(timeout_s)
