"""The sink: lands every analytics event and dead letter in ClickHouse, and answers read-only SQL.

Exports load lazily, so `from workers.sink.pricing import Pricing` (the gateway,
the enricher) never imports ClickHouse or Arrow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ClickHouseSink": "workers.sink.worker",
    "ClickHouseStore": "workers.sink.store",
    "open_store": "workers.sink.store",
    "migrate": "workers.sink.migrations",
    "Pricing": "workers.sink.pricing",
    "run_readonly": "workers.sink.readonly",
    "run_report": "workers.sink.reports",
    "ANALYST_QUESTIONS": "workers.sink.queries",
    "SinkSettings": "workers.sink.settings",
    "SinkWorkerSettings": "workers.sink.service",
    "build": "workers.sink.service",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workers.sink' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
