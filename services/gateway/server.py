"""Builds the gateway from settings and serves it with uvicorn."""

from __future__ import annotations

import structlog
import uvicorn

from services.gateway.app import create_app
from services.gateway.config import GatewayConfig, GatewaySettings
from services.gateway.providers.finetuned import resolver
from services.gateway.router import Router
from services.gateway.state import Gateway
from shared.pricing import Pricing
from shared.runtime.errors import FatalError, UserError
from shared.settings import ladle_settings

log = structlog.get_logger(__name__)


def build(settings: GatewaySettings | None = None):
    settings = settings or GatewaySettings()
    config = GatewayConfig.load(settings.config_file)
    events = None
    if settings.emit_events:
        from services.gateway.events import CallEvents

        events = CallEvents(ladle_settings())
    prompts = None
    try:
        from shared.prompts import PromptRegistry

        prompts = PromptRegistry(ladle_settings()).load()
        prompts.follow()
    except (UserError, FatalError) as exc:
        log.warning("gateway.no_prompt_registry", reason=str(exc))
    # The gateway owns <LADLE_DATA_DIR>/gateway: the spend ledger and the semantic cache's index.
    # Opened before the router loads any model, so a second gateway on the folder fails at once.
    gateway = Gateway(config, None, Pricing.load(), events, prompts, ladle_settings().data_dir / "gateway")
    gateway.router = Router(config)
    gateway.router.resolve = resolver(ladle_settings().data_dir)  # fine-tuned models, by their NAME@VERSION
    app = create_app(gateway)

    @app.on_event("shutdown")
    async def _close() -> None:
        await gateway.router.aclose()
        gateway.close()
        if events is not None:
            events.close()

    return app, settings


def serve() -> None:
    app, settings = build()
    log.info("gateway.starting", url=f"http://{settings.host}:{settings.port}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools")  # fmt: skip
