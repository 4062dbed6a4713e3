"""structlog set-up: JSON lines for services, readable lines for people."""

from __future__ import annotations

import logging
import sys

import structlog


def configure(level: str = "INFO", fmt: str = "json", service: str | None = None) -> None:
    renderer = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        renderer,
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    if service:
        structlog.contextvars.bind_contextvars(service=service)


class _RdkafkaHandler(logging.Handler):
    """librdkafka's own log lines, as structlog events; a repeated line at most every 10 s."""

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        import time

        msg = record.getMessage()
        key = msg.split("]:", 1)[-1][:120]
        now = time.monotonic()
        if now - self._last.get(key, 0.0) < 10.0:
            return
        self._last[key] = now
        level = (
            "error" if record.levelno >= logging.ERROR else "warning" if record.levelno >= logging.WARNING else "info"
        )
        getattr(structlog.get_logger("rdkafka"), level)("rdkafka", message=msg)


RDKAFKA_LOGGER = logging.getLogger("ladle.rdkafka")
RDKAFKA_LOGGER.propagate = False
RDKAFKA_LOGGER.setLevel(logging.WARNING)
RDKAFKA_LOGGER.addHandler(_RdkafkaHandler())
