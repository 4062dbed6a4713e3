"""The tagging core with a scripted engine: retries, dead letters, usage, cost, deterministic ids."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.unit.enricher_fakes import GOOD, FakeEngine, change, tagger, use_case
from workers.enricher.engines.base import EngineResult
from workers.enricher.parse import MalformedOutput
from workers.enricher.tagging import EngineError


def test_a_valid_reply_gives_one_result_and_one_call():
    t = tagger()
    eng = FakeEngine()
    [o] = t.run([t.job(change(1))], eng.generate)
    assert o.ok and o.result.output == GOOD and o.result.attempts == 1
    jsonschema.validate(o.result.output, t.schema)
    r = o.result
    assert (r.item_id, r.item_version, r.task, r.engine, r.model) == (
        "item-0001",
        1,
        "tag",
        "llamacpp",
        "SmolLM2-135M-Instruct",
    )
    assert (r.prompt.name, r.prompt.version) == ("catalog-tagging", 1)
    assert (r.usage.input_tokens, r.usage.output_tokens, r.latency_ms, r.ttft_ms) == (300, 60, 1000.0, 100.0)
    # self-hosted CPU: 1 busy second at $0.10/h
    assert r.cost_usd == pytest.approx(0.10 / 3600, abs=1e-9) and r.pricing_version
    assert "Margherita Pizza 1" in r.item_text and "Use only these values" not in r.item_text
    [call] = o.calls
    assert call.status == "ok" and call.cost_usd == r.cost_usd and call.use_case == "tag"
    assert call.provider == "llamacpp" and call.deployment == "llamacpp/SmolLM2-135M-Instruct"
    assert json.loads(call.request_body)["messages"][1]["content"].startswith("Tag the catalog item")
    assert call.response_body == json.dumps(GOOD)


def test_malformed_then_valid_retries_with_the_error_shown_to_the_model():
    t = tagger()
    replies = iter(['{"cuisine": "martian"}', json.dumps(GOOD)])
    eng = FakeEngine(lambda req: next(replies))
    [o] = t.run([t.job(change(1))], eng.generate)
    assert o.ok and o.result.attempts == 2
    first, second = eng.requests
    assert second.temperature > first.temperature == 0.0
    assert second.messages[-2] == {"role": "assistant", "content": '{"cuisine": "martian"}'}
    assert "martian" in second.messages[-1]["content"]
    assert [c.status for c in o.calls] == ["error", "ok"] and "taxonomy" in o.calls[0].error
    assert len({c.call_id for c in o.calls}) == 2
    assert o.result.usage.output_tokens == 120 and o.result.cost_usd == pytest.approx(sum(c.cost_usd for c in o.calls))


def test_still_malformed_after_the_attempts_fails_with_the_raw_output():
    t = tagger(max_attempts=3)
    eng = FakeEngine(lambda req: "Sorry, I can't")
    [o] = t.run([t.job(change(1))], eng.generate)
    assert not o.ok and isinstance(o.error, MalformedOutput) and "after 3 attempts" in str(o.error)
    assert o.raw_output == "Sorry, I can't" and len(o.calls) == 3 and not o.transient


def test_engine_errors_retry_and_transient_ones_are_flagged():
    t = tagger(max_attempts=2)
    limited = FakeEngine(lambda req: EngineResult(id="", status="rate_limited", error="RateLimitError: slow down"))
    [o] = t.run([t.job(change(1))], limited.generate)
    assert isinstance(o.error, EngineError) and o.transient and o.raw_output is None
    assert [c.status for c in o.calls] == ["rate_limited", "rate_limited"]
    broken = FakeEngine(lambda req: EngineResult(id="", status="error", error="BadRequestError: no"))
    [o] = t.run([t.job(change(2))], broken.generate)
    assert isinstance(o.error, EngineError) and not o.transient


def test_every_job_comes_out_once_in_order_and_only_failures_are_retried():
    t = tagger()
    eng = FakeEngine(lambda req: "nope" if "Pizza 3" in req.messages[1]["content"] else json.dumps(GOOD))
    jobs = [t.job(change(i)) for i in range(6)]
    outs = t.run(jobs, eng.generate)
    assert [o.job for o in outs] == jobs
    assert [o.ok for o in outs] == [True, True, True, False, True, True]
    assert len(eng.requests) == 6 + 2  # item 3 twice more


def test_ids_are_deterministic_and_keys_follow_content_not_price():
    t = tagger()
    a = t.run([t.job(change(1))], FakeEngine().generate)[0]
    b = t.run([t.job(change(1))], FakeEngine().generate)[0]
    assert a.result.event_id == b.result.event_id
    assert [c.call_id for c in a.calls] == [c.call_id for c in b.calls]
    assert t.job(change(1, version=2, price=20)).key == t.job(change(1)).key  # content unchanged
    assert t.job(change(1, name="Calzone")).key != t.job(change(1)).key
    other_model = tagger(uc=use_case(model="qwen2.5-0.5b-instruct"))
    assert other_model.job(change(1)).key != t.job(change(1)).key


def test_deletes_make_no_job_and_unknown_models_have_no_cost():
    t = tagger(uc=use_case(model="house-model"))
    assert t.job(change(1, op="delete")) is None
    [o] = t.run([t.job(change(1))], FakeEngine().generate)
    assert o.ok and o.result.cost_usd is None and o.calls[0].cost_usd is None
