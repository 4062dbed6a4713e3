"""Kafka workers, one package per stage. Each exposes `build()` returning (worker, settings)."""

import importlib

from shared.runtime.errors import UserError

KNOWN = ("echo", "sink", "embedder", "enricher")


def load(name: str):
    """The (worker, settings) pair of a stage by name, for `ladle worker run NAME`."""
    if name not in KNOWN:
        raise UserError(f"unknown worker {name!r}; known workers: {', '.join(KNOWN)}")
    return importlib.import_module(f"workers.{name}").build()
