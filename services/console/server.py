"""Builds the console from settings and serves it with uvicorn."""

from __future__ import annotations

import structlog
import uvicorn

from services.console.app import Console, create_app
from services.console.settings import ConsoleSettings
from shared.settings import ladle_settings

log = structlog.get_logger(__name__)


def serve() -> None:
    settings = ConsoleSettings()
    app = create_app(Console(settings, ladle_settings()))
    log.info("console.starting", url=f"http://{settings.host}:{settings.port}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
