"""Team spend survives a gateway restart: the restarted gateway starts from exactly what was
spent and keeps refusing a team over its budget. llama.cpp's server is the upstream
(priced as gpt-4o-mini so the budget binds)."""

from __future__ import annotations

import json

import openai
import pytest

from services.gateway.app import Gateway, create_app
from services.gateway.config import GatewayConfig, hash_key
from services.gateway.router import Router
from shared.pricing import Pricing
from shared.runtime.errors import FatalError
from tests.integration.gateway_helpers import Served

KEY = "team-poor-key"
BUDGET = 0.00005  # room for a few 8-token answers at gpt-4o-mini prices


@pytest.fixture(scope="module")
def llama(llama_server):
    return llama_server


def config(llama) -> GatewayConfig:
    return GatewayConfig.model_validate({
        "deployments": [{"name": "local", "provider": "openai_compatible", "model": "smollm2", "base_url": llama.url,
                         "pricing_model": "gpt-4o-mini", "max_retries": 0}],
        "aliases": {"fast": ["local"]},
        "teams": [{"name": "poor", "key_sha256": [hash_key(KEY)], "budget_usd": BUDGET}],
    })  # fmt: skip


class Running:
    def __init__(self, llama, data_dir) -> None:
        cfg = config(llama)
        self.gateway = Gateway(cfg, Router(cfg), Pricing.load(), None, data_dir=data_dir)
        self.served = Served(create_app(self.gateway))
        self.client = openai.OpenAI(base_url=self.served.url, api_key=KEY, max_retries=0, timeout=120)

    def ask(self):
        return self.client.chat.completions.create(
            model="fast", messages=[{"role": "user", "content": "Say hi."}], max_tokens=8,
            extra_headers={"x-ladle-cache": "bypass"},  # every call reaches the upstream and costs
        )  # fmt: skip

    def stop(self) -> None:
        self.served.stop()
        self.gateway.close()


def test_spend_survives_a_restart_and_the_budget_still_stops_the_team(llama, tmp_path):
    data = tmp_path / "gateway"
    first = Running(llama, data)
    answered = 0
    with pytest.raises(openai.RateLimitError) as refused:
        while answered < 20:
            first.ask()
            answered += 1
    assert refused.value.body["code"] == "budget_exceeded" and answered >= 2
    spent = first.gateway.teams.ledgers["poor"].spent_usd
    assert 0 < spent <= BUDGET
    first.stop()

    second = Running(llama, data)
    try:
        assert second.gateway.teams.ledgers["poor"].spent_usd == spent  # exactly, not approximately
        assert (data / "spend.jsonl").read_text().splitlines() == [json.dumps(["poor", spent])]  # compacted
        with pytest.raises(FatalError, match="held by another gateway"):
            Gateway(config(llama), Router(config(llama)), Pricing.load(), None, data_dir=data)
        with pytest.raises(openai.RateLimitError) as again:
            second.ask()
        assert again.value.body["code"] == "budget_exceeded"
        assert f"spent ${spent:.4f}" in again.value.body["message"]
    finally:
        second.stop()

    # the control: a gateway that does not know the spend lets the same call through
    fresh = Running(llama, tmp_path / "elsewhere")
    try:
        assert fresh.ask().usage.completion_tokens > 0
    finally:
        fresh.stop()
