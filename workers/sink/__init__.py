"""The sink: lands every analytics event and dead letter in ClickHouse, and answers read-only SQL."""

from __future__ import annotations


def build():
    """The (worker, settings) pair `ladle worker sink` runs."""
    from workers.sink.service import build as build_sink

    return build_sink()
