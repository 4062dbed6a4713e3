"""The cost model: a versioned pricing file and `Pricing.cost_for`.

Shared by the sink (which prices events that arrive without a cost), the gateway
and the enricher, so it depends on nothing but pydantic and PyYAML. Arithmetic is
exact (integers for token prices, Decimal for machine time) with one half-even
rounding to the nano-dollar, so the same usage gives the same cost in every
process and sums in ClickHouse (Decimal columns) are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Annotated, Literal, Protocol

import yaml
from pydantic import BaseModel, Field, ValidationError

from shared.runtime.errors import UserError

DEFAULT_PRICING_FILE = Path(__file__).resolve().parents[1] / "deploy" / "pricing" / "pricing.yaml"
HOUR = Decimal(3600)


class UsageLike(Protocol):
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int


Pricer = Callable[[UsageLike, float | None], int]  # usage, machine seconds -> nano-dollars


class VendorPrice(BaseModel):
    kind: Literal["vendor"]
    provider: str = ""
    input_per_1m: Decimal = Field(ge=0, decimal_places=9)
    output_per_1m: Decimal = Field(ge=0, decimal_places=9)
    cached_input_per_1m: Decimal | None = Field(
        default=None, ge=0, decimal_places=9, description="Defaults to the input price."
    )
    aliases: list[str] = Field(default_factory=list)

    def pricer(self) -> Pricer:
        # Nano-dollars per 1M tokens as integers: a call's cost is exact integer
        # arithmetic with one rounding, and cheap enough to run on every row.
        cached_price = self.input_per_1m if self.cached_input_per_1m is None else self.cached_input_per_1m
        r_in, r_cached, r_out = (int(p.scaleb(9)) for p in (self.input_per_1m, cached_price, self.output_per_1m))

        def cost_nanos(usage: UsageLike, seconds: float | None) -> int:
            cached = min(usage.cached_input_tokens, usage.input_tokens)
            total = (usage.input_tokens - cached) * r_in + cached * r_cached + usage.output_tokens * r_out
            return _divide_half_even(total, 1_000_000)

        return cost_nanos


class SelfHostedPrice(BaseModel):
    kind: Literal["self_hosted"]
    hardware: Literal["gpu", "cpu"]
    usd_per_hour: Decimal = Field(ge=0)
    tokens_per_second: Decimal = Field(gt=0, description="Measured generation throughput at the usual concurrency.")
    prompt_tokens_per_second: Decimal | None = Field(default=None, gt=0, description="Prefill; omitted = free.")
    aliases: list[str] = Field(default_factory=list)

    def pricer(self) -> Pricer:
        return self.cost_nanos

    def cost_nanos(self, usage: UsageLike, seconds: float | None) -> int:
        # `seconds` is the machine time the caller knows it held exclusively; without
        # it the time is estimated from the measured throughput, which is right for a
        # server that batches many requests (a request's latency would overcount).
        if seconds is not None:
            busy = Decimal(str(seconds))
        else:
            busy = usage.output_tokens / self.tokens_per_second
            if self.prompt_tokens_per_second is not None:
                busy += usage.input_tokens / self.prompt_tokens_per_second
        return int((busy * self.usd_per_hour / HOUR).scaleb(9).to_integral_value(ROUND_HALF_EVEN))


def _divide_half_even(numerator: int, denominator: int) -> int:
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q % 2):
        q += 1
    return q


ModelPrice = Annotated[VendorPrice | SelfHostedPrice, Field(discriminator="kind")]


class PricingFile(BaseModel):
    version: str = Field(min_length=1)
    currency: Literal["USD"] = "USD"
    models: dict[str, ModelPrice] = Field(default_factory=dict)


class Pricing:
    """Prices of every model Ladle calls, at one version of the pricing file."""

    def __init__(self, spec: PricingFile) -> None:
        self.version = spec.version
        self.models: dict[str, VendorPrice | SelfHostedPrice] = {}
        self._pricers: dict[str, Pricer] = {}
        for name, price in spec.models.items():
            pricer = price.pricer()
            for alias in [name, *price.aliases]:
                self.models[alias.lower()] = price
                self._pricers[alias.lower()] = pricer

    @classmethod
    def load(cls, path: str | Path | None = None) -> Pricing:
        path = Path(path) if path else DEFAULT_PRICING_FILE
        try:
            data = yaml.safe_load(path.read_text())
            return cls(PricingFile.model_validate(data))
        except FileNotFoundError:
            raise UserError(f"pricing file {path} not found; set LADLE_PRICING_FILE or restore it") from None
        except (yaml.YAMLError, ValidationError) as exc:
            first = str(exc).strip().splitlines()
            raise UserError(f"pricing file {path} is invalid: {' '.join(first[:3])}") from None

    def price(self, model: str) -> VendorPrice | SelfHostedPrice | None:
        return self.models.get(model.lower())

    def cost_nanos(self, model: str, usage: UsageLike, seconds: float | None = None) -> int | None:
        """Cost in nano-dollars (exact, rounded half-even), or None for a model the file does not know."""
        pricer = self._pricers.get(model.lower())
        return None if pricer is None else pricer(usage, seconds)

    def cost_for(self, model: str, usage: UsageLike, seconds: float | None = None) -> float | None:
        """Cost in USD as events carry it (the float nearest the exact cost), or None for an unknown model."""
        nanos = self.cost_nanos(model, usage, seconds)
        return None if nanos is None else nanos / 1e9
