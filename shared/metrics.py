"""Prometheus metrics of the worker runtime; each service exposes them on its port."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

CONSUMED = Counter("ladle_consumed_total", "Messages consumed", ["worker", "topic"])
PRODUCED = Counter("ladle_produced_total", "Messages produced", ["worker", "topic"])
DEAD_LETTERED = Counter("ladle_dead_lettered_total", "Messages sent to a DLQ", ["worker", "topic", "error_class"])
BATCH_SECONDS = Histogram(
    "ladle_batch_seconds",
    "Wall time of one batch: validate, process, publish, flush, commit",
    ["worker"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_SIZE = Histogram(
    "ladle_batch_size", "Messages per batch", ["worker"], buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000)
)
LAG = Gauge("ladle_consumer_lag", "High watermark minus position", ["worker", "topic", "partition"])
PAUSED = Gauge("ladle_paused_partitions", "Partitions paused by backpressure", ["worker"])


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Expose /metrics on the port; 0 means no endpoint."""
    if port:
        start_http_server(port, addr=addr)
