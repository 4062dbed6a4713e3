"""The gateway with the official openai client, llama.cpp's OpenAI-compatible server as the
real upstream, and real network faults in front of it."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from services.gateway.app import Gateway, create_app
from services.gateway.config import GatewayConfig, hash_key
from services.gateway.events import CallEvents
from services.gateway.router import Router
from shared.kafka.broker import free_port
from shared.pricing import Pricing
from tests.integration.gateway_helpers import CuttingProxy, Served
from tests.integration.kafka_helpers import read_all

KEY, POOR_KEY = "team-a-key", "team-poor-key"


@pytest.fixture(scope="module")
def llama(llama_server):
    return llama_server


def config(llama, budget: float) -> GatewayConfig:
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    cut = CuttingProxy(llama.port, cut_after=900)  # headers plus a chunk or two, then the line drops
    return GatewayConfig.model_validate({
        "deployments": [
            # priced as gpt-4o-mini so budgets bind; the model is SmolLM2 on llama.cpp
            {"name": "local", "provider": "openai_compatible", "model": "smollm2", "base_url": llama.url, "pricing_model": "gpt-4o-mini", "max_retries": 0},
            {"name": "dead", "provider": "openai_compatible", "model": "smollm2", "base_url": dead, "timeout_s": 2, "max_retries": 1},
            {"name": "flaky", "provider": "openai_compatible", "model": "smollm2", "base_url": f"http://127.0.0.1:{cut.port}/v1", "max_retries": 0},
        ],
        "aliases": {"fast": ["local"], "resilient": ["dead", "local"], "broken": ["flaky"]},
        "teams": [
            {"name": "team-a", "key_sha256": [hash_key(KEY)]},
            {"name": "poor", "key_sha256": [hash_key(POOR_KEY)], "budget_usd": budget},
        ],
        "breaker_failures": 2,
        "breaker_cooldown_s": 60,
    })  # fmt: skip


@pytest.fixture
def gateway(llama, settings, topics):
    # Budget: room for a handful of 8-token answers at gpt-4o-mini prices, not for 50.
    gw = Gateway(config(llama, budget=0.00005), None, Pricing.load(), CallEvents(settings))
    gw.router = Router(gw.config)
    served = Served(create_app(gw))
    gw.url = served.url
    yield gw
    served.stop()
    gw.events.close()


def client(gw, key=KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url, api_key=key, max_retries=0, timeout=120)


MSG = [{"role": "user", "content": "Name one Italian pasta dish."}]


def test_chat_stream_models_cache_fallback_and_one_event_per_call(gateway, settings):
    c = client(gateway)
    assert {"fast", "resilient", "local"} <= {m.id for m in c.models.list().data}

    raw = c.chat.completions.with_raw_response.create(model="fast", messages=MSG, max_tokens=12, temperature=0)
    first = raw.parse()
    assert first.choices[0].message.content and first.usage.completion_tokens > 0
    assert raw.headers["x-ladle-deployment"] == "local" and raw.headers["x-ladle-cache"] == "miss"
    assert float(raw.headers["x-ladle-overhead-ms"]) >= 0

    again = c.chat.completions.with_raw_response.create(model="fast", messages=MSG, max_tokens=12, temperature=0)
    assert again.headers["x-ladle-cache"] == "exact_hit"
    assert again.parse().choices[0].message.content == first.choices[0].message.content
    bypass = c.chat.completions.with_raw_response.create(
        model="fast", messages=MSG, max_tokens=12, temperature=0, extra_headers={"x-ladle-cache": "bypass"}
    )
    assert bypass.headers["x-ladle-cache"] == "bypass"

    pieces = list(c.chat.completions.create(model="fast", messages=MSG, max_tokens=12, stream=True))
    text = "".join(p.choices[0].delta.content or "" for p in pieces if p.choices)
    assert text

    fell = c.chat.completions.with_raw_response.create(model="resilient", messages=MSG, max_tokens=8)
    assert fell.headers["x-ladle-deployment"] == "local"
    assert fell.headers["x-ladle-tried"] == "dead,dead,local"  # one retry on dead, then the backup
    # the dead deployment's circuit is open now: skipped without a connection attempt
    fell2 = c.chat.completions.with_raw_response.create(
        model="resilient", messages=MSG, max_tokens=8, extra_headers={"x-ladle-cache": "bypass"}
    )
    assert fell2.headers["x-ladle-tried"] == "dead:open,local"

    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="no-such-model", messages=MSG)
    with pytest.raises(openai.AuthenticationError):
        client(gateway, key="wrong").chat.completions.create(model="fast", messages=MSG)

    gateway.events.producer.flush(10)
    calls = [json.loads(m.value()) for m in read_all(settings, "llm.calls", expected=6)]
    assert len(calls) == 6  # every answered call, cache hits included; refused ones (404/401) never reach routing
    assert sorted(c["cache_status"] for c in calls) == ["bypass", "bypass", "exact_hit", "miss", "miss", "miss"]
    assert {c["deployment"] for c in calls} == {"local", "cache"}
    assert all(c["team"] == "team-a" for c in calls)
    assert len({c["call_id"] for c in calls}) == 6
    by_chain = sorted(",".join(c["fallback_chain"]) for c in calls)
    assert "dead,dead,local" in by_chain and "dead:open,local" in by_chain


def test_a_stream_cut_mid_way_ends_with_an_error_never_a_clean_end(gateway):
    c = client(gateway)
    seen = []
    with pytest.raises(openai.APIError):
        for chunk in c.chat.completions.create(model="broken", messages=MSG, max_tokens=200, stream=True):
            seen.append(chunk)
    with httpx.stream(
        "POST",
        f"{gateway.url}/chat/completions",
        headers={"authorization": f"Bearer {KEY}"},
        json={"model": "broken", "messages": MSG, "max_tokens": 200, "stream": True},
        timeout=60,
    ) as r:
        body = r.read().decode()
    assert "event: error" in body and "[DONE]" not in body


def test_a_budget_stops_a_team_under_50_concurrent_requests(gateway):
    pricing = Pricing.load()
    team = next(t for t in gateway.config.teams if t.name == "poor")

    async def one(ac: openai.AsyncOpenAI, i: int):
        try:
            r = await ac.chat.completions.create(
                model="fast",
                messages=[{"role": "user", "content": f"Say {i}."}],
                max_tokens=8,
                extra_headers={"x-ladle-cache": "bypass"},
            )
            return r.usage
        except openai.RateLimitError as exc:
            assert exc.body["code"] == "budget_exceeded"
            return None

    async def burst():
        ac = openai.AsyncOpenAI(base_url=gateway.url, api_key=POOR_KEY, max_retries=0, timeout=300)
        return await asyncio.gather(*(one(ac, i) for i in range(50)))

    results = asyncio.run(burst())
    served = [u for u in results if u is not None]
    refused = len(results) - len(served)
    assert served and refused, (len(served), refused)
    from schemas import Usage

    spent = sum(
        pricing.cost_for("gpt-4o-mini", Usage(input_tokens=u.prompt_tokens, output_tokens=u.completion_tokens))
        for u in served
    )
    ledger = gateway.teams.ledgers["poor"]
    assert ledger.spent_usd == pytest.approx(spent) and ledger.reserved_usd == pytest.approx(0.0, abs=1e-12)
    # reservations cover the worst case, so a burst never spends past the budget
    assert spent <= team.budget_usd


def test_a_chat_request_may_name_a_prompt_and_label_instead_of_messages(gateway, settings):
    from shared.prompts import PromptRegistry

    reg = PromptRegistry(settings).load()
    reg.push(
        "dish", "Name one dish from {cuisine} cuisine.", model="fast", parameters={"max_tokens": 10, "temperature": 0}
    )
    reg.promote("dish", 1, "production")
    gateway.prompts = reg
    raw = httpx.post(f"{gateway.url}/chat/completions", headers={"authorization": f"Bearer {KEY}"}, timeout=120,
                     json={"prompt": {"name": "dish", "variables": {"cuisine": "Thai"}}, "user": "u-1"})  # fmt: skip
    assert raw.status_code == 200, raw.text
    assert raw.json()["choices"][0]["message"]["content"]
    assert raw.json()["usage"]["completion_tokens"] <= 10  # the version's parameters applied
    missing = httpx.post(f"{gateway.url}/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                         json={"prompt": {"name": "dish", "variables": {}}})  # fmt: skip
    assert missing.status_code == 400 and "cuisine" in missing.json()["error"]["message"]
    unknown = httpx.post(f"{gateway.url}/chat/completions", headers={"authorization": f"Bearer {KEY}"},
                         json={"prompt": {"name": "nope"}})  # fmt: skip
    assert unknown.status_code == 404
    resolved = httpx.get(f"{gateway.url}/prompts/dish", params={"user": "u-1"}).json()["resolved"]
    assert resolved == {"label": "production", "version": 1}

    gateway.events.producer.flush(10)
    calls = [json.loads(m.value()) for m in read_all(settings, "llm.calls", expected=1)]
    assert [c["prompt"] for c in calls] == [{"name": "dish", "version": 1, "label": "production"}]
