"""Prometheus metrics of the embedder (on the worker's metrics port, beside the runtime's)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ITEMS = Counter(
    "ladle_embedder_items_total",
    "Changes by outcome: embedded (model call), skipped (text unchanged), deleted, stale (older version), "
    "replayed (same version again), failed (no text)",
    ["outcome"],
)
ENCODE_BATCH = Histogram(
    "ladle_embedder_encode_batch_size", "Texts per model call", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
)
MODEL_SECONDS = Histogram(
    "ladle_embedder_model_seconds",
    "Wall time of one model call",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
STORE_SECONDS = Histogram(
    "ladle_embedder_store_seconds",
    "Wall time of the vector store's reads and writes for one batch",
    ["op"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
FRESHNESS = Histogram(
    "ladle_embedder_freshness_seconds",
    "From the change's occurred_at to the index applying it",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300, 3600),
)
SEARCH_SECONDS = Histogram(
    "ladle_embedder_search_seconds",
    "Wall time of one search: encode the query, query the index",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


def observe_encode(texts: int, seconds: float) -> None:
    """The embedder's view of one model call (``Encoder(observe=...)``)."""
    MODEL_SECONDS.observe(seconds)
    ENCODE_BATCH.observe(texts)
