"""The cost a row carries: the event's own, or priced at ingestion with the pricing file."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import Usage
from shared.pricing import Pricing

CACHE_HITS = frozenset({"exact_hit", "semantic_hit"})


@dataclass(slots=True)
class RowContext:
    """What a mapper needs besides the event: the topic it came on and the prices."""

    topic: str
    pricing: Pricing | None = None


def cost(
    ctx: RowContext,
    model: str,
    usage: Usage,
    cost_usd: float | None,
    pricing_version: str | None,
    cache_hit: bool = False,
) -> tuple[float, str, str]:
    """(cost, cost_source, pricing_version): the event's own cost when it has one,
    0 for a cache hit (no model ran), else priced now with the pricing file."""
    if cost_usd is not None:
        return cost_usd, "event", pricing_version or ""
    if cache_hit:
        return 0.0, "cache", ""
    if ctx.pricing is None:
        return 0.0, "unpriced", ""
    priced = ctx.pricing.cost_for(model, usage)
    if priced is None:
        return 0.0, "unpriced", ctx.pricing.version
    return priced, "pricing", ctx.pricing.version
