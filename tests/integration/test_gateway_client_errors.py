"""A client's mistake is that client's 400, never everyone's outage. llama.cpp's server is the
real upstream; a proxy that cuts every connection is an upstream that really fails; the
LLMCall events are read back from the real broker."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from services.gateway.app import create_app
from services.gateway.config import GatewayConfig, hash_key
from services.gateway.events import CallEvents
from services.gateway.router import Router
from services.gateway.state import Gateway
from shared.pricing import Pricing
from tests.integration.gateway_helpers import CuttingProxy, Served
from tests.integration.kafka_helpers import read_all

CARELESS, CAREFUL = "careless-key", "careful-key"
TOO_LONG = "pasta " * 3000  # past the 1024-token context: llama.cpp's own 400, context_length_exceeded
MALFORMED = [  # each one a mistake the gateway's schema check refuses before any upstream sees it
    b'{"model": "fast", "messages": [{"role": "wizard", "content": "hi"}]}',
    b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "max_tokens": "many"}',
    b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "temperature": 9}',
    b'{"model": "fast", "messages": [{"role": "user", "content": 42}]}',
    b'{"model": "fast", "messages": []}',
    b'{"model": "fast"}',
    b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "n": 0}',
    b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}',
    b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]}',
    b'{"model": "fast", "messages": [{"role": "user", "content": "hi"}',  # not even JSON
]


@pytest.fixture(scope="module")
def llama(llama_server):
    return llama_server


@pytest.fixture
def gateway(llama, settings, topics):
    cut = CuttingProxy(llama.port, cut_after=64)  # every answer dies inside its headers
    local = {"provider": "openai_compatible", "model": "smollm2", "max_retries": 0, "pricing_model": "gpt-4o-mini",
             "dialect": "llama_cpp"}  # fmt: skip
    cfg = GatewayConfig.model_validate({
        "deployments": [{"name": "local", "base_url": llama.url, **local},
                        {"name": "dying", "base_url": f"http://127.0.0.1:{cut.port}/v1", **local}],
        "aliases": {"fast": ["local"], "failing": ["dying"]},
        "teams": [{"name": "careless", "key_sha256": [hash_key(CARELESS)]},
                  {"name": "careful", "key_sha256": [hash_key(CAREFUL)]}],
        "breaker_failures": 3,
        "breaker_cooldown_s": 60,
    })  # fmt: skip
    gw = Gateway(cfg, Router(cfg), Pricing.load(), CallEvents(settings))
    served = Served(create_app(gw))
    gw.url = served.url
    yield gw
    served.stop()
    gw.close()
    gw.events.close()


def calls(gw, settings, expected: int) -> list[dict]:
    assert gw.events.producer.flush(30) == 0 and gw.events.failed == 0  # every event delivered
    got = read_all(settings, "llm.calls", expected=expected)
    if len(got) < expected:  # seen on a just-started broker: a reader one short of what was acknowledged
        got = read_all(settings, "llm.calls", expected=expected, timeout=30)
    return [json.loads(m.value()) for m in got]


def test_fifty_malformed_requests_from_one_team_never_cost_another_team_an_answer(gateway, settings):
    # 40 refused by the schema check (each mistake four times), 10 by the upstream itself
    bodies = [MALFORMED[k % len(MALFORMED)] for k in range(40)]
    for i in range(10):
        long = {"model": "fast", "messages": [{"role": "user", "content": f"{i} {TOO_LONG}"}], "max_tokens": 4}
        bodies.insert(5 * i + 4, json.dumps(long).encode())

    async def bad(http: httpx.AsyncClient, i: int) -> httpx.Response:
        headers = {"authorization": f"Bearer {CARELESS}"}
        return await http.post("/chat/completions", content=bodies[i], headers=headers)

    async def good(client: openai.AsyncOpenAI, i: int):
        return await client.chat.completions.with_raw_response.create(
            model="fast", messages=[{"role": "user", "content": f"Say {i}."}], max_tokens=4
        )

    async def run():
        careful = openai.AsyncOpenAI(base_url=gateway.url, api_key=CAREFUL, max_retries=0, timeout=300)
        async with httpx.AsyncClient(base_url=gateway.url, timeout=300) as http:
            tasks = []
            for i in range(50):  # one valid request from the other team after every five mistakes
                tasks.append(bad(http, i))
                if i % 5 == 4:
                    tasks.append(good(careful, i))
            return await asyncio.gather(*tasks)

    results = asyncio.run(run())
    refused = [r for r in results if isinstance(r, httpx.Response)]
    answered = [r for r in results if not isinstance(r, httpx.Response)]
    assert len(refused) == 50 and len(answered) == 10
    assert [r.status_code for r in refused] == [400] * 50
    for r in refused:
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        assert r.json()["error"]["type"] == "invalid_request_error"
    codes = sorted(r.json()["error"]["code"] for r in refused)
    assert codes.count("context_length_exceeded") == 10 and codes.count("invalid_json") == 4
    assert [a.status_code for a in answered] == [200] * 10
    assert all(a.parse().choices[0].message.content for a in answered)
    assert not gateway.router.breaker.is_open("local") and gateway.router.breaker._count == {}

    # the upstream's refusals are LLMCalls that say whose fault they were; schema refusals never
    # reached a model and are not
    events = calls(gateway, settings, expected=20)
    by_team = sorted((c["team"], c["status"]) for c in events)
    assert by_team == [("careful", "ok")] * 10 + [("careless", "client_error")] * 10
    assert all("context length" in c["error"] for c in events if c["status"] == "client_error")


def test_an_upstream_that_really_fails_still_opens_the_breaker(gateway, settings):
    c = openai.OpenAI(base_url=gateway.url, api_key=CAREFUL, max_retries=0, timeout=60)
    seen = []
    for _ in range(4):
        with pytest.raises(openai.InternalServerError) as failed:
            c.chat.completions.create(model="failing", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
        seen.append((failed.value.status_code, failed.value.response.headers["x-ladle-tried"]))
    # three real failures open the circuit; the fourth request is not even sent
    assert seen == [(502, "dying"), (502, "dying"), (502, "dying"), (503, "dying:open")]
    assert gateway.router.breaker.is_open("dying") and not gateway.router.breaker.is_open("local")
    assert c.chat.completions.create(model="fast", messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    assert sorted(e["status"] for e in calls(gateway, settings, expected=5)) == ["error"] * 4 + ["ok"]


def test_a_streamed_call_reports_its_usage_to_a_client_that_asks_and_to_its_llmcall(gateway, settings):
    c = openai.OpenAI(base_url=gateway.url, api_key=CAREFUL, max_retries=0, timeout=120)
    pieces = list(c.chat.completions.create(model="fast", messages=[{"role": "user", "content": "Name a pasta."}],
                                            max_tokens=12, stream=True, stream_options={"include_usage": True}))  # fmt: skip
    *chunks, last = pieces
    deltas = sum(1 for p in chunks if p.choices and p.choices[0].delta.content)
    assert last.choices == [] and last.usage.completion_tokens == deltas and last.usage.prompt_tokens > 0
    assert all(p.usage is None for p in chunks)
    plain = list(c.chat.completions.create(model="fast", messages=[{"role": "user", "content": "Name a soup."}],
                                           max_tokens=12, stream=True))  # fmt: skip
    assert all(p.choices for p in plain) and all(p.usage is None for p in plain)  # not asked: no usage chunk

    plain_deltas = sum(1 for p in plain if p.choices[0].delta.content)

    # both LLMCalls carry the counted tokens and their cost, asked for or not
    events = calls(gateway, settings, expected=2)
    assert sorted(e["usage"]["output_tokens"] for e in events) == sorted([deltas, plain_deltas])
    assert last.usage.prompt_tokens in {e["usage"]["input_tokens"] for e in events}
    assert all(e["cost_usd"] > 0 and e["ttft_ms"] > 0 and e["status"] == "ok" for e in events)
