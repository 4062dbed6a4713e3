"""The cost model: a versioned pricing file and `Pricing.cost_for`.

Shared by the sink (which prices events that arrive without a cost), the gateway
and the enricher, so it depends on nothing but pydantic and PyYAML. Arithmetic is
in Decimal and rounded to the nano-dollar, so the same usage always gives the same
cost in every process and sums in ClickHouse (Decimal columns) are exact.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Annotated, Literal, Protocol

import yaml
from pydantic import BaseModel, Field, ValidationError

from shared.runtime.errors import UserError

DEFAULT_PRICING_FILE = Path(__file__).resolve().parents[2] / "deploy" / "pricing" / "pricing.yaml"
NANO = Decimal("0.000000001")
MILLION = Decimal(1_000_000)
HOUR = Decimal(3600)


class UsageLike(Protocol):
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int


class VendorPrice(BaseModel):
    kind: Literal["vendor"]
    provider: str = ""
    input_per_1m: Decimal = Field(ge=0)
    output_per_1m: Decimal = Field(ge=0)
    cached_input_per_1m: Decimal | None = Field(default=None, ge=0, description="Defaults to the input price.")
    aliases: list[str] = Field(default_factory=list)

    def cost(self, usage: UsageLike, seconds: float | None) -> Decimal:
        cached = min(usage.cached_input_tokens, usage.input_tokens)
        cached_price = self.input_per_1m if self.cached_input_per_1m is None else self.cached_input_per_1m
        total = (
            (usage.input_tokens - cached) * self.input_per_1m
            + cached * cached_price
            + usage.output_tokens * self.output_per_1m
        )
        return total / MILLION


class SelfHostedPrice(BaseModel):
    kind: Literal["self_hosted"]
    hardware: Literal["gpu", "cpu"]
    usd_per_hour: Decimal = Field(ge=0)
    tokens_per_second: Decimal = Field(gt=0, description="Measured generation throughput at the usual concurrency.")
    prompt_tokens_per_second: Decimal | None = Field(default=None, gt=0, description="Prefill; omitted = free.")
    aliases: list[str] = Field(default_factory=list)

    def cost(self, usage: UsageLike, seconds: float | None) -> Decimal:
        # `seconds` is the machine time the caller knows it held exclusively; without
        # it the time is estimated from the measured throughput, which is right for a
        # server that batches many requests (a request's latency would overcount).
        if seconds is not None:
            busy = Decimal(str(seconds))
        else:
            busy = usage.output_tokens / self.tokens_per_second
            if self.prompt_tokens_per_second is not None:
                busy += usage.input_tokens / self.prompt_tokens_per_second
        return busy * self.usd_per_hour / HOUR


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
        for name, price in spec.models.items():
            for alias in [name, *price.aliases]:
                self.models[alias.lower()] = price

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

    def cost_decimal(self, model: str, usage: UsageLike, seconds: float | None = None) -> Decimal | None:
        """Exact cost in USD (rounded to the nano-dollar), or None for a model the file does not know."""
        price = self.price(model)
        if price is None:
            return None
        return price.cost(usage, seconds).quantize(NANO, rounding=ROUND_HALF_EVEN)

    def cost_for(self, model: str, usage: UsageLike, seconds: float | None = None) -> float | None:
        """Cost in USD as events carry it, or None for a model the file does not know."""
        cost = self.cost_decimal(model, usage, seconds)
        return None if cost is None else float(cost)
