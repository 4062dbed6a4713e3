"""Prometheus metrics of the enricher (on the worker's metrics port, beside the runtime's)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ITEMS = Counter(
    "ladle_enricher_items_total",
    "Changes by outcome: enriched, skipped (content and prompt already enriched), deleted, failed (dead-lettered)",
    ["use_case", "outcome"],
)
CALLS = Counter(
    "ladle_enricher_model_calls_total",
    "Model calls by result: ok, malformed, error, timeout, rate_limited",
    ["use_case", "model", "result"],
)
TOKENS = Counter("ladle_enricher_tokens_total", "Tokens by direction (input, output)", ["model", "direction"])
COST = Counter("ladle_enricher_cost_usd_total", "Cost of model calls from the pricing table", ["model"])
LATENCY = Histogram(
    "ladle_enricher_call_seconds",
    "Wall time of one model call",
    ["engine"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 60),
)
TTFT = Histogram(
    "ladle_enricher_ttft_seconds",
    "Time to first token of one model call",
    ["engine"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
IN_FLIGHT = Gauge("ladle_enricher_in_flight_chunks", "Actor calls in flight in the engine pool")
ACTOR_RESTARTS = Counter("ladle_enricher_actor_restarts_total", "Engine actors replaced after dying")
ANSWERED = Counter(
    "ladle_enricher_fields_total",
    "Fields of enriched items by who answered them: classifier (a cascade) or engine",
    ["use_case", "by"],
)
