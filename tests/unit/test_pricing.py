"""Pricing: exact costs from the versioned pricing file, no store needed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from schemas import Usage
from shared.pricing import DEFAULT_PRICING_FILE, Pricing, PricingFile
from shared.runtime.errors import UserError

SPEC = {
    "version": "test-1",
    "models": {
        "vendor-a": {"kind": "vendor", "input_per_1m": 2.5, "cached_input_per_1m": 1.25, "output_per_1m": 10,
                     "aliases": ["Vendor-A-2024"]},
        "vendor-nocache": {"kind": "vendor", "input_per_1m": 1, "output_per_1m": 2},
        "cpu-model": {"kind": "self_hosted", "hardware": "cpu", "usd_per_hour": 0.36, "tokens_per_second": 50},
        "gpu-model": {"kind": "self_hosted", "hardware": "gpu", "usd_per_hour": 3.6, "tokens_per_second": 1000,
                      "prompt_tokens_per_second": 10000},
    },
}  # fmt: skip


@pytest.fixture
def pricing() -> Pricing:
    return Pricing(PricingFile.model_validate(SPEC))


def cost_decimal(pricing: Pricing, *args, **kw) -> Decimal | None:
    """The exact cost in USD: nano-dollars as a Decimal."""
    nanos = pricing.cost_nanos(*args, **kw)
    return None if nanos is None else Decimal(nanos).scaleb(-9)


def test_vendor_cost_charges_cached_input_at_its_own_price(pricing):
    usage = Usage(input_tokens=2000, cached_input_tokens=1000, output_tokens=100)
    # 1000 uncached * 2.5 + 1000 cached * 1.25 + 100 * 10, per 1M tokens
    assert cost_decimal(pricing, "vendor-a", usage) == Decimal("0.004750000")
    assert pricing.cost_for("vendor-a", usage) == 0.00475


def test_cached_input_defaults_to_input_price_and_is_capped_at_input(pricing):
    assert pricing.cost_for("vendor-nocache", Usage(input_tokens=1000, cached_input_tokens=500)) == 0.001
    # more cached than input tokens is a producer bug; never a negative uncached count
    assert pricing.cost_for("vendor-a", Usage(input_tokens=100, cached_input_tokens=400)) == 0.000125


def test_self_hosted_cost_from_measured_throughput(pricing):
    # 100 generated tokens at 50 tokens/s = 2 s of a $0.36/h machine
    assert cost_decimal(pricing, "cpu-model", Usage(input_tokens=999, output_tokens=100)) == Decimal("0.000200000")
    # prefill counts when its throughput is given: 1000/1000 s + 10000/10000 s = 2 s at $3.6/h
    assert pricing.cost_for("gpu-model", Usage(input_tokens=10_000, output_tokens=1000)) == 0.002


def test_seconds_given_overrides_the_throughput_estimate(pricing):
    assert pricing.cost_for("cpu-model", Usage(output_tokens=100), seconds=10) == 0.001


def test_rounding_is_to_the_nano_dollar(pricing):
    # 1 token at 50 tok/s on $0.36/h = 0.000002 exactly; 1 token at $2.5/1M = 0.0000025
    assert cost_decimal(pricing, "cpu-model", Usage(output_tokens=1)) == Decimal("0.000002000")
    assert cost_decimal(pricing, "vendor-a", Usage(input_tokens=1)) == Decimal("0.000002500")
    assert cost_decimal(pricing, "cpu-model", Usage(output_tokens=1), seconds=1 / 3) == Decimal("0.000033333")


def test_sub_nano_costs_round_half_to_even():
    tiny = Pricing(PricingFile.model_validate({"version": "t", "models": {
        "m": {"kind": "vendor", "input_per_1m": "0.0015", "output_per_1m": "0.0025"}}}))  # fmt: skip
    assert tiny.cost_nanos("m", Usage(input_tokens=1)) == 2  # 1.5 -> 2
    assert tiny.cost_nanos("m", Usage(input_tokens=3)) == 4  # 4.5 -> 4
    assert tiny.cost_nanos("m", Usage(output_tokens=1)) == 2  # 2.5 -> 2
    assert tiny.cost_for("m", Usage(input_tokens=3, output_tokens=1)) == 7e-9  # 4.5 + 2.5 = 7 exactly


def test_prices_finer_than_a_nano_dollar_per_1m_tokens_are_refused():
    with pytest.raises(ValueError, match="decimal places"):
        PricingFile.model_validate({"version": "t", "models": {
            "m": {"kind": "vendor", "input_per_1m": "0.0000000001", "output_per_1m": 1}}})  # fmt: skip


def test_aliases_and_case_find_the_same_price(pricing):
    usage = Usage(input_tokens=1_000_000)
    assert pricing.cost_for("vendor-a-2024", usage) == pricing.cost_for("VENDOR-A", usage) == 2.5


def test_unknown_model_has_no_price(pricing):
    assert pricing.cost_for("nope", Usage(input_tokens=10)) is None
    assert pricing.price("nope") is None


def test_the_shipped_pricing_file_loads_with_a_version():
    pricing = Pricing.load()
    assert pricing.version and DEFAULT_PRICING_FILE.name == "pricing.yaml"
    assert pricing.cost_for("gpt-4o-mini", Usage(input_tokens=1000, output_tokens=200)) == 0.00027
    assert pricing.price("qwen2.5-0.5b-instruct").kind == "self_hosted"


def test_bad_or_missing_pricing_file_is_a_one_line_user_error(tmp_path):
    bad = tmp_path / "pricing.yaml"
    bad.write_text("version: v1\nmodels:\n  m: {kind: vendor, input_per_1m: -1, output_per_1m: 1}\n")
    with pytest.raises(UserError, match="is invalid") as err:
        Pricing.load(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="not found"):
        Pricing.load(tmp_path / "missing.yaml")
