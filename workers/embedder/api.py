"""The embedder's HTTP API: /search, /health and /points over the index this process owns, and /reindex.

Served by uvicorn from a thread of the worker process, because an embedded
index admits one process: whoever wants to search it asks this one.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, Field

from shared.settings import LadleSettings
from workers.embedder import metrics
from workers.embedder.apply import Index
from workers.embedder.settings import EmbedderSettings
from workers.embedder.store import SearchFilter

log = structlog.get_logger(__name__)

RESULT_FIELDS = ("name", "store_id", "category", "cuisine", "price", "currency", "version")


def run_search(index: Index, q: str, flt: SearchFilter | None = None, limit: int = 10) -> dict:
    """Encode the query with the index's own model and query the index; used by the API and the CLI."""
    t0 = time.perf_counter()
    vector = index.encoder.encode_query(q)
    hits = index.store.search(vector, limit, flt)
    took = time.perf_counter() - t0
    metrics.SEARCH_SECONDS.observe(took)
    return {
        "query": q,
        "collection": index.info.name,
        "model": index.info.model,
        "took_ms": round(took * 1000, 2),
        "results": [
            {"item_id": h.item_id, "score": round(h.score, 4), **{k: h.payload.get(k) for k in RESULT_FIELDS}}
            for h in hits
        ],
    }


class ReindexRequest(BaseModel):
    model: str = Field(min_length=1, description="A sentence-transformers model path or name.")


def team_key_check(settings: EmbedderSettings):
    """A dependency that admits a request carrying one of the gateway's team keys (Authorization:
    Bearer KEY); /health stays open for the supervisor and compose."""
    from shared.keyhash import sha256_hex, team_key_hashes

    teams = team_key_hashes(settings.gateway_config_file)
    if not teams:
        log.warning("api.no_team_keys", file=str(settings.gateway_config_file), effect="every request is refused")

    def check(request: Request) -> str:
        auth = request.headers.get("authorization") or ""
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        team = teams.get(sha256_hex(key)) if key else None
        if team is None:
            raise HTTPException(
                401, "missing or unknown team key: send Authorization: Bearer <key> (the gateway's team keys)",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
        return team

    return check


def create_app(worker, ladle: LadleSettings, settings: EmbedderSettings) -> FastAPI:
    app = FastAPI(title="Ladle embedder", description="Search over the catalog index this service owns.")
    team = [Depends(team_key_check(settings or EmbedderSettings()))]

    @app.get("/health")
    def health() -> dict:
        with worker.reading() as index:
            return {
                "status": "ok",
                "backend": worker.collections.kind,
                "collection": index.info.name,
                "model": index.info.model,
                "dim": index.info.dim,
                "points": index.store.count(),
                "reindex": worker.reindex_job.state.phase if worker.reindex_job else None,
            }

    @app.get("/search", dependencies=team)
    def search(
        q: Annotated[str, Query(min_length=1, max_length=2000, description="What to look for.")],
        store: Annotated[str | None, Query(description="Only this store_id.")] = None,
        category: Annotated[str | None, Query(description="Only this category.")] = None,
        max_price: Annotated[float | None, Query(ge=0, description="Price at most this.")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> dict:
        with worker.reading() as index:
            return run_search(index, q, SearchFilter(store, category, max_price), limit)

    @app.get("/points", dependencies=team)
    def points(
        offset: Annotated[str | None, Query(description="Start at this point id: the last page's next_offset.")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict:
        """Read-only: one page of points (id, item_id, version, tombstone, has a vector), for `ladle check`."""
        with worker.reading() as index:
            try:
                rows, nxt = index.store.points(offset, limit)
            except ValueError:
                raise HTTPException(400, f"offset {offset!r} is not a point id") from None
            return {"collection": index.info.name, "points": [r.to_json() for r in rows], "next_offset": nxt}

    @app.post("/reindex", status_code=202, dependencies=team)
    def reindex(req: ReindexRequest) -> dict:
        from workers.embedder.reindex import Reindexer, ReindexJob

        job = worker.reindex_job
        if job is not None and job.running:
            raise HTTPException(409, f"a reindex to {job.state.model} is running ({job.state.phase})")
        reindexer = Reindexer(ladle, settings, worker.collections, req.model)
        worker.reindex_job = ReindexJob(worker, reindexer).start()
        return worker.reindex_job.state.public()

    @app.get("/reindex", dependencies=team)
    def reindex_state() -> dict:
        if worker.reindex_job is None:
            raise HTTPException(404, "no reindex has run in this process")
        return worker.reindex_job.state.public()

    return app


class ApiServer:
    """uvicorn in a daemon thread; it installs no signal handlers there, so SIGTERM stays the runtime's."""

    def __init__(self, worker, ladle: LadleSettings, settings: EmbedderSettings) -> None:
        import uvicorn

        self.host, self.port = settings.api_host, settings.api_port
        config = uvicorn.Config(
            create_app(worker, ladle, settings),
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="ladle-embedder-api", daemon=True)

    def start(self) -> ApiServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            log.error("api.not_started", host=self.host, port=self.port)
        else:
            log.info("api.started", url=f"http://{self.host}:{self.port}")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
