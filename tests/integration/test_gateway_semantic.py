"""The semantic cache, its verifier and Ladle's own embeddings, end to end: the official
openai client, llama.cpp's server as the upstream, the bundled MiniLM, the shipped verifier
and a real Qdrant Edge shard in the test's data folder."""

from __future__ import annotations

import io
import json

import numpy as np
import openai
import pytest
from prometheus_client import REGISTRY
from rich.console import Console

from services.gateway.app import Gateway, create_app
from services.gateway.config import GatewayConfig, hash_key
from services.gateway.events import CallEvents
from services.gateway.router import Router
from shared.pricing import Pricing
from tests.integration.gateway_helpers import Served
from tests.integration.kafka_helpers import read_all

KEY, OTHER_KEY = "team-a-key", "team-b-key"
QUESTION = "Is the pad thai spicy?"
PARAPHRASE = "Is pad thai spicy?"  # MiniLM cosine with QUESTION: 0.985; the verifier's model: 0.9997
HARD_NEGATIVE = "Is the pad thai vegan?"  # 0.69, a candidate (>= 0.60): the verifier's scope guard refuses it
# (system prompt: one scope per case; cached question; asked question; served?; x-ladle-semantic-verdict;
# LLMCall.semantic_verdict). Cosines (MiniLM): 0.99, 0.61, 0.97, 0.79, 0.92, 0.93, 0.85, 0.95.
VERIFIER_CASES = [
    ("accounts", "How do I reset my password?", "How can I reset my password?", True, "ok", "ok"),
    ("accounts", "How do I reset my password?", "how do i reset my pasword", True, "same", "same words"),
    ("plans", "Which plans include international calls?", "Which plans don't include international calls?",
     False, "negation", "negation 0 != 1"),
    ("contacts", "How do I import my contacts from Outlook?", "How do I import my contacts from Gmail?",
     False, "names", "names outlook != gmail"),
    ("returns", "Can I return shoes after 14 days?", "Can I return shoes after 40 days?",
     False, "numbers", "numbers 14 != 40"),
    ("library", "Is the library open on Sundays?", "Is the library open on Mondays?",
     False, "dates", "dates sunday != monday"),
    ("tickets", "What is the ticket price for adults?", "What is the ticket price for children?",
     False, "scope", "scope audience: adult != child"),
    ("opening", "Is the library open on Sundays?", "Is the library closed on Sundays?",
     False, "opposites", "opposites open / closed"),
]  # fmt: skip


@pytest.fixture(scope="module")
def llama(llama_server):
    return llama_server


def make_config(llama) -> GatewayConfig:
    return GatewayConfig.model_validate({
        "deployments": [
            {"name": "local", "provider": "openai_compatible", "model": "smollm2", "base_url": llama.url, "max_retries": 0},
            {"name": "minilm", "provider": "ladle", "model": "all-minilm-l6-v2"},
        ],
        "aliases": {"cached": ["local"], "plain": ["local"], "embed": ["minilm"]},
        "teams": [{"name": "team-a", "key_sha256": [hash_key(KEY)]}, {"name": "team-b", "key_sha256": [hash_key(OTHER_KEY)]}],
        "semantic_cache": {"aliases": ["cached"], "ttl_s": 600, "max_entries": 1000},  # the default: the shipped verifier
    })  # fmt: skip


def start(llama, settings, events=None) -> Gateway:
    cfg = make_config(llama)
    gw = Gateway(cfg, Router(cfg), Pricing.load(), events, data_dir=settings.data_dir / "gateway")
    gw.served = Served(create_app(gw))
    gw.url = gw.served.url
    return gw


def stop(gw: Gateway) -> None:
    gw.served.stop()
    gw.close()


@pytest.fixture
def gateway(llama, settings, topics):
    gw = start(llama, settings, CallEvents(settings))
    yield gw
    stop(gw)
    gw.events.close()


def client(gw, key=KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url, api_key=key, max_retries=0, timeout=120)


def ask(gw, text: str, model: str = "cached", key: str = KEY, system: str | None = None, **kw):
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    raw = client(gw, key).chat.completions.with_raw_response.create(
        model=model, messages=messages, max_tokens=12, temperature=0, **kw
    )
    return raw.headers, raw.parse()


def lookups(outcome: str) -> float:
    return REGISTRY.get_sample_value("ladle_gateway_semantic_lookups_total", {"outcome": outcome}) or 0.0


def test_a_paraphrase_gets_the_answer_and_anything_else_in_the_request_must_match(gateway, settings):
    hits, misses, rejected = lookups("hit"), lookups("miss"), lookups("rejected")
    embeds = REGISTRY.get_sample_value("ladle_gateway_semantic_lookup_seconds_count", {"stage": "embed"}) or 0.0
    h, first = ask(gateway, QUESTION)
    assert (h["x-ladle-cache"], h["x-ladle-deployment"]) == ("miss", "local")
    answer = first.choices[0].message.content
    assert answer

    h, para = ask(gateway, PARAPHRASE)
    assert (h["x-ladle-cache"], h["x-ladle-deployment"]) == ("semantic_hit", "cache")
    assert para.id == first.id and para.choices[0].message.content == answer
    assert 0.95 <= float(h["x-ladle-semantic-score"]) < 1.0 and h["x-ladle-semantic-verdict"] == "ok"

    h, _ = ask(gateway, HARD_NEGATIVE)
    assert (h["x-ladle-cache"], h["x-ladle-deployment"], h["x-ladle-semantic-verdict"]) == ("miss", "local", "scope")
    assert ask(gateway, PARAPHRASE, system="Answer in French.")[0]["x-ladle-cache"] == "miss"  # another system prompt
    assert ask(gateway, PARAPHRASE, key=OTHER_KEY)[0]["x-ladle-cache"] == "miss"  # another team's cache
    assert ask(gateway, PARAPHRASE, extra_headers={"x-ladle-cache": "bypass"})[0]["x-ladle-cache"] == "bypass"
    h, _ = ask(gateway, PARAPHRASE, model="plain")  # an alias without a semantic cache
    assert (h["x-ladle-cache"], h["x-ladle-deployment"]) == ("miss", "local")
    # parameters are part of the scope too: another max_tokens is another question
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="cached", messages=[{"role": "user", "content": PARAPHRASE}], max_tokens=13, temperature=0
    )
    assert raw.headers["x-ladle-cache"] == "miss"

    raw = client(gateway).chat.completions.with_raw_response.create(
        model="cached", messages=[{"role": "user", "content": PARAPHRASE}], max_tokens=12, temperature=0, stream=True
    )
    assert raw.headers["x-ladle-cache"] == "semantic_hit"
    assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices) == answer

    assert lookups("hit") - hits == 2
    assert lookups("rejected") - rejected == 1  # the hard negative: a candidate the verifier refused
    assert lookups("miss") - misses == 4  # question, system prompt, other team, max_tokens: no candidate
    after = REGISTRY.get_sample_value("ladle_gateway_semantic_lookup_seconds_count", {"stage": "embed"})
    assert after - embeds == 7
    gateway.events.producer.flush(10)
    calls = [json.loads(m.value()) for m in read_all(settings, "llm.calls", expected=9)]
    assert sorted(c["cache_status"] for c in calls) == ["bypass", *["miss"] * 6, "semantic_hit", "semantic_hit"]
    assert {c["deployment"] for c in calls if c["cache_status"] == "semantic_hit"} == {"cache"}
    assert all(c["cost_usd"] == 0 for c in calls if c["cache_status"] == "semantic_hit")
    assert sorted(c["semantic_verdict"] or "-" for c in calls) == [*["-"] * 6, "ok", "ok", "scope diet: - != vegan"]


def test_the_verifier_serves_paraphrases_and_sends_every_hard_negative_upstream(gateway, settings):
    """Each case in a scope of its own (its system prompt): the cached question goes upstream and
    is stored; the asked one is served from the cache only when the verifier agrees, and headers
    and LLMCall say what it decided."""
    rejections = {kind: REGISTRY.get_sample_value("ladle_gateway_semantic_rejections_total", {"kind": kind}) or 0.0
                  for *_, kind, _ in VERIFIER_CASES}  # fmt: skip
    answers = {}
    for system, cached, asked, served, kind, _ in VERIFIER_CASES:
        if (system, cached) not in answers:
            h, first = ask(gateway, cached, system=system)
            assert (h["x-ladle-cache"], h["x-ladle-deployment"]) == ("miss", "local")
            assert "x-ladle-semantic-score" not in h  # an empty scope: no candidate
            answers[system, cached] = first
        h, resp = ask(gateway, asked, system=system)
        cosine, score = float(h["x-ladle-semantic-score"]), float(h["x-ladle-semantic-verifier-score"])
        assert h["x-ladle-semantic-verdict"] == kind, asked
        if served:
            assert (h["x-ladle-cache"], h["x-ladle-deployment"]) == ("semantic_hit", "cache"), asked
            assert resp.id == answers[system, cached].id
            assert resp.choices[0].message.content == answers[system, cached].choices[0].message.content
            assert score >= gateway.semantic.verifier.threshold
        else:  # answered by the upstream, not the cache
            assert (h["x-ladle-cache"], h["x-ladle-deployment"], score) == ("miss", "local", 0.0), asked
            assert resp.id != answers[system, cached].id and resp.choices[0].message.content
        assert 0.6 <= cosine < 1.0
    for *_, served, kind, _ in VERIFIER_CASES:
        after = REGISTRY.get_sample_value("ladle_gateway_semantic_rejections_total", {"kind": kind}) or 0.0
        assert after - rejections[kind] == (0 if served else 1)

    gateway.events.producer.flush(10)
    calls = [json.loads(m.value()) for m in read_all(settings, "llm.calls", expected=15)]
    verdicts = sorted((c["cache_status"], c["semantic_verdict"]) for c in calls if c["semantic_verdict"] is not None)
    assert verdicts == sorted(("semantic_hit" if served else "miss", reason)
                              for *_, served, _, reason in VERIFIER_CASES)  # fmt: skip
    assert sum(c["semantic_verdict"] is None and c["semantic_score"] is None for c in calls) == 7  # the cached ones
    for c in calls:
        if c["semantic_verdict"] in ("ok", "same words"):
            assert c["deployment"] == "cache" and c["semantic_verifier_score"] >= gateway.semantic.verifier.threshold
        elif c["semantic_verdict"] is not None:
            assert c["deployment"] == "local" and c["semantic_verifier_score"] == 0.0 and 0.6 <= c["semantic_score"] < 1


def test_expired_entries_are_never_served_and_are_evicted(gateway):
    ask(gateway, QUESTION)
    assert ask(gateway, PARAPHRASE)[0]["x-ladle-cache"] == "semantic_hit"
    cache = gateway.semantic
    assert cache.count() == 1
    real = cache.clock
    cache.clock = lambda: real() + cache.config.ttl_s + 1
    h, _ = ask(gateway, PARAPHRASE)
    assert h["x-ladle-cache"] == "miss"  # the entry is too old to serve, though still in the shard until...
    assert cache.count() == 1  # ...this miss's store purged it; the paraphrase's fresh answer is the one left
    assert ask(gateway, "is pad thai spicy")[0]["x-ladle-cache"] == "semantic_hit"  # not an exact hit: new text


def test_the_semantic_cache_outlives_a_restart(llama, settings):
    gw = start(llama, settings)
    _, first = ask(gw, QUESTION)
    stop(gw)
    gw = start(llama, settings)
    try:
        h, para = ask(gw, PARAPHRASE)
        assert h["x-ladle-cache"] == "semantic_hit" and para.id == first.id
    finally:
        stop(gw)


def test_ladle_embeddings_through_the_openai_client(gateway):
    texts = ["Pad thai with tofu and peanuts", "Margherita pizza", "Vegan chocolate cake", QUESTION]
    provider = gateway.router.providers["minilm"]
    assert provider.encoder is gateway.semantic.encoder  # one MiniLM in the process
    model = provider.encoder.model  # the sentence-transformers model itself
    want = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)

    c = client(gateway)
    raw = c.embeddings.with_raw_response.create(model="embed", input=texts)  # the client asks for base64
    assert raw.headers["x-ladle-deployment"] == "minilm"
    assert all(isinstance(d["embedding"], str) for d in raw.http_response.json()["data"])
    r = raw.parse()
    assert [d.index for d in r.data] == [0, 1, 2, 3] and r.model == "all-minilm-l6-v2"
    got = np.array([d.embedding for d in r.data])
    assert got.shape == (4, 384)
    np.testing.assert_allclose(got, want, atol=1e-5)
    tokens = sum(len(ids) for ids in model.tokenizer(texts)["input_ids"])
    assert r.usage.prompt_tokens == r.usage.total_tokens == tokens

    backwards = c.embeddings.create(model="embed", input=texts[::-1])
    np.testing.assert_allclose(np.array([d.embedding for d in backwards.data]), want[::-1], atol=1e-5)
    one = c.embeddings.create(model="embed", input=texts[1], encoding_format="float")
    assert len(one.data) == 1 and isinstance(one.data[0].embedding[0], float)
    np.testing.assert_allclose(one.data[0].embedding, want[1], atol=1e-5)

    with pytest.raises(openai.BadRequestError, match="non-empty list of strings"):
        c.embeddings.create(model="embed", input=[[101, 2003]])
    with pytest.raises(openai.BadRequestError, match="384 dimensions"):
        c.embeddings.create(model="embed", input="x", dimensions=256)
    with pytest.raises(openai.BadRequestError, match="serves embeddings only"):
        c.chat.completions.create(model="embed", messages=[{"role": "user", "content": "hi"}])


def test_the_bench_scores_a_pair_file_through_the_gateways_own_decision(tmp_path):
    """`ladle bench semantic-cache --pairs`: the shipped config's lookup, store and verifier per pair;
    the ambiguous row counts as a negative; the decision before the verifier is the baseline."""
    from benchmarks.semantic_cache import pair_figures

    rows = [
        ("Is the library open on Sundays?", "is the library open on sundays", 1, "near_repeat", {}),
        ("How do I reset my password?", "How can I reset my password?", 1, "paraphrase", {}),
        ("What is the weather in Paris?", "How do I bake bread?", 1, "paraphrase", {}),  # no candidate: missed
        ("Can I return shoes after 14 days?", "Can I return shoes after 40 days?", 0, "number_date", {}),
        ("Which plans include international calls?", "Which plans don't include international calls?", 0,
         "negation", {}),
        ("Is the library open on Sundays?", "Is the library closed on Sundays?", 1, "negation", {"ambiguous": True}),
    ]  # fmt: skip
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        "".join(json.dumps({"a": a, "b": b, "label": y, "category": c, **x}) + "\n" for a, b, y, c, x in rows)
    )
    head, *categories = pair_figures(path, Console(file=io.StringIO()))
    keys = ("bench", "metric", "value", "hit_rate", "wrong_hits", "pairs", "hits", "positives")
    assert {k: head[k] for k in keys} == {"bench": "semantic-cache", "metric": "pairs_precision", "value": 1.0,
                                          "hit_rate": 0.6667, "wrong_hits": 0, "pairs": 6, "hits": 2, "positives": 3}  # fmt: skip
    assert (head["baseline"], head["baseline_hits"], head["baseline_wrong_hits"]) == (0.5, 4, 2)
    assert head["decided_by"] == {"negation": 1, "no candidate": 1, "numbers": 1, "ok": 1, "opposites": 1, "same": 1}
    assert (head["config"], head["threshold"], head["verifier"]) == (
        "deploy/gateway/gateway.yaml",
        0.6,
        "deploy/gateway/verifier/verifier.json",
    )
    assert [(c["category"], c["pairs"], c["hits"], c["wrong_hits"], c["hit_rate"], c["baseline_wrong_hits"])
            for c in categories] == [("near_repeat", 1, 1, 0, 1.0, 0), ("negation", 2, 0, 0, None, 2),
                                     ("number_date", 1, 0, 0, None, 0), ("paraphrase", 2, 1, 0, 0.5, 0)]  # fmt: skip
