"""One LLMCall per routed chat request, whichever way it ends, with nothing running: the chat
pipeline over fake upstreams and a fake event sink."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.gateway.chat import complete
from services.gateway.config import Deployment, GatewayConfig, hash_key
from services.gateway.providers.base import UpstreamError
from services.gateway.responses import ApiError
from services.gateway.router import Router
from services.gateway.state import Gateway
from shared.pricing import Pricing

ANSWER = {"id": "c", "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
                                                                                   "content": "Carbonara."}}],
          "usage": {"prompt_tokens": 12, "completion_tokens": 3}}  # fmt: skip
BODY = {"model": "fast", "messages": [{"role": "user", "content": "Name a pasta."}], "max_tokens": 8}


class FakeEvents:
    """Keeps what the gateway would publish."""

    def __init__(self) -> None:
        self.calls, self.verdicts = [], []

    def emit(self, call) -> None:
        self.calls.append(call)

    def verdict(self, verdict) -> None:
        self.verdicts.append(verdict)


class FakeUpstream:
    """Answers, or fails with the exception it is given."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.deployment = Deployment(name="up", provider="openai_compatible", model="m", max_retries=0,
                                     pricing_model="gpt-4o-mini")  # fmt: skip
        self.fail = fail

    async def complete(self, body: dict) -> dict:
        if self.fail is not None:
            raise self.fail
        return ANSWER

    async def aclose(self) -> None:
        pass


def gateway_over(upstream: FakeUpstream) -> tuple[Gateway, FakeEvents]:
    cfg = GatewayConfig.model_validate({
        "deployments": [{"name": "up", "provider": "openai_compatible", "model": "m", "pricing_model": "gpt-4o-mini"}],
        "aliases": {"fast": ["up"]},
        "teams": [{"name": "t", "key_sha256": [hash_key("k")], "budget_usd": 1.0}],
        "exact_cache_entries": 0,
    })  # fmt: skip
    events = FakeEvents()
    return Gateway(cfg, Router(cfg, {"up": upstream}), Pricing.load(), events), events


def run(gw: Gateway):
    team = gw.config.teams[0]
    return asyncio.run(complete(gw, team, dict(BODY), None, {}, time.perf_counter()))


def test_an_answered_call_is_one_ok_llmcall_with_its_cost():
    gw, events = gateway_over(FakeUpstream())
    assert run(gw).completion == ANSWER
    [call] = events.calls
    assert (call.status, call.deployment, call.usage.output_tokens) == ("ok", "up", 3) and call.cost_usd > 0
    ledger = gw.teams.ledgers["t"]
    assert ledger.reserved_usd == 0 and ledger.spent_usd == call.cost_usd


@pytest.mark.parametrize(
    ("fail", "status", "answer"),
    [
        (UpstreamError.from_status(400, "up: HTTP 400", b'{"error": {"message": "bad", "code": "x"}}'),
         "client_error", 400),
        (UpstreamError(504, "up: timed out"), "timeout", 504),
        (UpstreamError(502, "up: connection refused"), "error", 502),
    ],
)  # fmt: skip
def test_a_failed_call_is_one_llmcall_saying_whose_fault_and_its_reservation_is_released(fail, status, answer):
    gw, events = gateway_over(FakeUpstream(fail))
    with pytest.raises(ApiError) as refused:
        run(gw)
    assert refused.value.status == answer
    assert [c.status for c in events.calls] == [status] and events.calls[0].cost_usd == 0
    assert gw.teams.ledgers["t"].reserved_usd == 0 and gw.teams.ledgers["t"].spent_usd == 0


def test_a_call_that_dies_of_a_bug_or_a_cancel_is_still_recorded_and_releases_its_budget():
    for dying in (RuntimeError("boom"), asyncio.CancelledError()):
        gw, events = gateway_over(FakeUpstream(dying))
        with pytest.raises(type(dying)):
            run(gw)
        [call] = events.calls
        assert call.status == "error" and call.error.startswith(type(dying).__name__)
        assert gw.teams.ledgers["t"].reserved_usd == 0
