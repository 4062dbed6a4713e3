import json

import numpy as np
import pytest

from schemas import PromptRef
from services.gateway.breaker import CircuitBreaker
from services.gateway.cache import ExactCache, cache_key
from services.gateway.config import VERIFIER, GatewayConfig, GuardrailsConfig, SemanticCacheConfig
from services.gateway.guard import RouteGuards, _put_back, _texts
from services.gateway.providers.anthropic import to_chat_completion, to_messages_api
from services.gateway.providers.base import UpstreamError
from services.gateway.providers.ladle import LadleEmbeddings
from services.gateway.semantic import SemanticCache, split
from services.gateway.spend import SpendLedger
from services.gateway.vectors import RERANK, VectorIndex, sign_bits
from services.gateway.verifier import Verdict
from shared.runtime.errors import FatalError, UserError
from shared.settings import REPO_ROOT


def test_openai_messages_translate_to_the_messages_api_and_back():
    body = {"model": "smart", "max_tokens": 50, "temperature": 0.2, "stop": "END",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                         {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Tag: pad thai"}]}  # fmt: skip
    req = to_messages_api(body, "claude-3-5-haiku-latest")
    assert req == {
        "model": "claude-3-5-haiku-latest", "max_tokens": 50, "temperature": 0.2, "stop_sequences": ["END"],
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                     {"role": "user", "content": "Tag: pad thai"}],
    }  # fmt: skip
    msg = {"id": "msg_1", "content": [{"type": "text", "text": "noodles, "}, {"type": "text", "text": "thai"}],
           "stop_reason": "max_tokens", "usage": {"input_tokens": 30, "output_tokens": 5, "cache_read_input_tokens": 10}}  # fmt: skip
    out = to_chat_completion(msg, "smart")
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "noodles, thai"}
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["prompt_tokens"] == 40 and out["usage"]["completion_tokens"] == 5
    assert out["usage"]["prompt_tokens_details"]["cached_tokens"] == 10


def test_the_breaker_opens_after_n_failures_and_half_opens_after_the_cooldown():
    now = [0.0]
    b = CircuitBreaker(failures=2, cooldown_s=10, clock=lambda: now[0])
    b.failure("d")
    assert not b.is_open("d")
    b.failure("d")
    assert b.is_open("d")
    now[0] = 10.5
    assert not b.is_open("d")  # one trial call
    b.failure("d")
    assert b.is_open("d")  # and straight back open
    now[0] = 21
    b.is_open("d")
    b.success("d")
    b.failure("d")
    assert not b.is_open("d")


def test_cache_keys_ignore_stream_and_user_but_not_parameters():
    base = {"messages": [{"role": "user", "content": "x"}], "temperature": 0}
    k = cache_key("t", "fast", base)
    assert k == cache_key("t", "fast", {**base, "stream": True, "user": "u1"})
    assert k != cache_key("t", "fast", {**base, "temperature": 1})
    assert k != cache_key("other-team", "fast", base)
    assert k != cache_key("t", "smart", base)
    # a parameter the gateway has never heard of (llama.cpp's grammar) changes the answer too
    assert k != cache_key("t", "fast", {**base, "grammar": 'root ::= "yes"'})


def test_cache_expires_and_evicts():
    c = ExactCache(ttl_s=3600, max_entries=2)
    c.put("a", {"v": 1})
    c.put("b", {"v": 2})
    c.get("a")
    c.put("c", {"v": 3})
    assert c.get("b") is None and c.get("a") == {"v": 1}
    assert ExactCache(ttl_s=0, max_entries=10).get("a") is None


def test_request_errors_do_not_fall_back_but_upstream_errors_do():
    assert not UpstreamError.from_status(400, "bad").fallback
    assert all(UpstreamError.from_status(s, "x").fallback for s in (401, 404, 429, 500, 502, 503, 504))


# -- semantic cache ----------------------------------------------------------------------


def test_the_semantic_scope_is_everything_but_the_last_user_text():
    body = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Is it spicy?"}],
            "temperature": 0, "stream": False, "user": "u1"}  # fmt: skip
    scope, text = split("t", "fast", body)
    assert text == "Is it spicy?"
    assert split("t", "fast", {**body, "messages": [body["messages"][0], {"role": "user", "content": "Vegan?"}],
                               "stream": True, "user": "u2"})[0] == scope  # fmt: skip
    others = [
        split("t2", "fast", body), split("t", "smart", body), split("t", "fast", {**body, "temperature": 1}),
        split("t", "fast", {**body, "messages": [{"role": "system", "content": "Be long."}, body["messages"][1]]}),
        split("t", "fast", body, PromptRef(name="faq", version=1, label="production")),
        split("t", "fast", body, PromptRef(name="faq", version=2, label="production")),
    ]  # fmt: skip
    assert len({scope, *(o[0] for o in others)}) == 7
    # the label is not part of the scope: the same version under another label is the same prompt
    assert split("t", "fast", body, PromptRef(name="faq", version=1, label="staging")) == others[4]
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}
    assert split("t", "fast", parts)[1] == "a\nb"
    image = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}
    assert split("t", "fast", image) is None
    assert split("t", "fast", {"messages": [*body["messages"], {"role": "assistant", "content": "Yes"}]}) is None


class FakeEncoder:
    """Only the dimension: these tests hand the cache their own vectors."""

    dim = 3


def cache_at(path, clock, **config) -> SemanticCache:
    cfg = SemanticCacheConfig(
        aliases=["fast"], **{"threshold": 0.9, "ttl_s": 100, "max_entries": 10, "verifier": None, **config}
    )
    return SemanticCache(cfg, path, FakeEncoder(), clock=lambda: clock[0])


def test_the_semantic_cache_serves_live_close_entries_of_the_scope_only(tmp_path):
    now = [1000.0]
    c = cache_at(tmp_path / "sc", now)
    c.put([("s", "spicy?", [1, 0, 0], {"answer": "yes"})])
    found = c.search("s", [0.99, 0.1, 0], "spicy")
    assert found.response == {"answer": "yes"} and found.text == "spicy?" and 0.99 < found.score < 1
    assert found.verdict is None and found.headers() == {"x-ladle-semantic-score": f"{found.score:.4f}"}
    assert c.search("s", [0.8, 0.6, 0], "spicy") is None  # cosine 0.8 < 0.9
    assert c.search("other", [1, 0, 0], "spicy") is None
    now[0] += 100  # exactly ttl_s old: no longer served
    assert c.search("s", [1, 0, 0], "spicy") is None
    assert c.count() == 1 and c.evict() == 0


def test_the_verifier_serves_the_first_candidate_it_accepts_and_names_why_it_refused(tmp_path):
    now = [1000.0]
    c = cache_at(tmp_path / "sc", now, threshold=0.6, verifier=VERIFIER, candidates=2)
    assert c.verifier is not None and c.config.threshold == 0.6
    c.put([("s", "Is the clinic closed on Sundays?", [1, 0, 0], {"answer": "closed"}),
           ("s", "Is the clinic open on Sundays?", [0.9, 0.3, 0], {"answer": "open"})])  # fmt: skip
    # the closest candidate is the opposite question: refused; the next one is the same question
    found = c.search("s", [0.99, 0.1, 0], "is the clinic open on sundays")
    assert found.response == {"answer": "open"} and found.text == "Is the clinic open on Sundays?"
    assert found.verdict == Verdict(True, 1.0, "same words")
    assert found.headers() == {"x-ladle-semantic-score": f"{found.score:.4f}",
                               "x-ladle-semantic-verifier-score": "1.0000", "x-ladle-semantic-verdict": "same"}  # fmt: skip
    refused = c.search("s", [0.99, 0.1, 0], "Is the clinic open on Mondays?")  # both candidates refused: the closest
    assert refused.response is None and refused.text == "Is the clinic closed on Sundays?"
    assert refused.verdict == Verdict(False, 0.0, "dates sunday != monday")
    assert refused.headers()["x-ladle-semantic-verdict"] == "dates"
    c.config.candidates = 1  # only the closest is checked: the opposite question, refused
    assert c.search("s", [0.99, 0.1, 0], "is the clinic open on sundays").verdict.kind == "opposites"
    assert c.search("s", [0, 0, 1], "is the clinic open on sundays") is None  # below the gate: no candidate
    c.close()


def test_the_semantic_cache_evicts_the_oldest_above_max_entries_and_survives_a_reopen(tmp_path):
    now = [1000.0]
    c = cache_at(tmp_path / "sc", now, max_entries=3)
    for i in range(4):
        now[0] += 1
        c.put([("s", f"q{i}", [1, 0, 0.1 * i], {"i": i})])
    assert c.count() == 3
    assert c.search("s", [1, 0, 0], "q").response == {"i": 1}  # q0 went; q1 is now the closest
    c.put([("s", "q3", [1, 0, 0.3], {"i": "again"})])  # the same text replaces its entry
    assert c.evict() == 3
    c.close()
    again = cache_at(tmp_path / "sc", now, max_entries=3)
    assert again.size == 3 and again.search("s", [1, 0, 0.3], "q").response == {"i": "again"}
    again.close()


def test_sign_bits_pack_one_bit_per_positive_dimension():
    bits = sign_bits(np.array([[1.0, -1.0, 0.5], [-1.0, -1.0, -1.0]], np.float32))
    assert bits.dtype == np.uint64 and bits.shape == (2, 1)
    assert bits[:, 0].view(np.uint8).reshape(2, 8)[:, 0].tolist() == [0b10100000, 0]
    assert sign_bits(np.ones((1, 130), np.float32)).shape == (1, 3)


def test_the_vector_index_finds_the_closest_live_entry_of_the_scope_and_follows_removals():
    index = VectorIndex(3)
    index.add([("a", "s", [1, 0, 0], 10.0), ("b", "s", [0, 2, 0], 20.0), ("c", "t", [1, 0, 0], 10.0)])
    assert index.nearest("s", [3, 0.3, 0], after=0) == ("a", pytest.approx(3 / np.sqrt(9.09)))
    assert index.nearest("s", [1, 0, 0], after=10) == ("b", 0.0)  # a is too old; b is the only live one
    assert index.nearest("u", [1, 0, 0], after=0) is None
    index.add([("a", "s", [0, 0, 1], 30.0)])  # the same id is replaced, not added
    assert len(index) == 3 and index.nearest("s", [0, 0, 1], after=0) == ("a", 1.0)
    index.remove(["a", "nope"])
    assert index.nearest("s", [0, 0, 1], after=0) == ("b", 0.0)
    index.expire(before=20.0)
    assert len(index) == 0 and index.scopes == {} and index.nearest("s", [0, 1, 0], after=0) is None


def test_the_vector_index_reranks_exactly_in_a_scope_larger_than_the_rerank_depth():
    rng = np.random.default_rng(3)
    m = rng.standard_normal((4 * RERANK, 64)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    index = VectorIndex(64)
    index.add((f"e{i}", "s", v, float(i)) for i, v in enumerate(m))
    for i in (0, 5, 700, 4 * RERANK - 1):
        q = m[i] + 0.05 * rng.standard_normal(64).astype(np.float32)
        id_, score = index.nearest("s", q, after=-1)
        assert id_ == f"e{int(np.argmax(m @ q))}" == f"e{i}"
        assert score == pytest.approx(float(m[i] @ q / np.linalg.norm(q)), abs=1e-6)
    assert index.nearest("s", m[3], after=3.0)[0] != "e3"  # born at 3.0: not after it
    index.remove(f"e{i}" for i in range(0, 4 * RERANK, 2))
    assert len(index) == 2 * RERANK and index.nearest("s", m[7], after=-1) == ("e7", pytest.approx(1.0))
    assert index.nearest("s", m[8], after=-1)[0] != "e8"


# -- spend ledger --------------------------------------------------------------------------


def test_spend_sums_back_exactly_after_a_reopen_and_skips_a_torn_line(tmp_path):
    path = tmp_path / "spend.jsonl"
    ledger = SpendLedger(path)
    amounts = [0.1, 0.2, 1e-7, 0.000012345678901234, 0.3]
    total = 0.0
    for usd in amounts:
        ledger.add("a", usd)
        total += usd
    ledger.add("b", 0.5)
    ledger.add("b", 0.0)  # nothing written
    with pytest.raises(FatalError, match="held by another gateway"):
        SpendLedger(path)
    ledger.close()
    assert len(path.read_text().splitlines()) == 6
    with open(path, "a") as f:
        f.write('["a", 0.0')  # a crash mid-write
    reopened = SpendLedger(path)
    assert reopened.totals == {"a": total, "b": 0.5}  # == on floats: summed in the same order
    assert path.read_text().splitlines() == [json.dumps(["a", total]), json.dumps(["b", 0.5])]
    reopened.close()


def test_spend_compacts_as_it_goes(tmp_path):
    ledger = SpendLedger(tmp_path / "spend.jsonl", compact_every=3)
    for _ in range(4):
        ledger.add("a", 0.25)
    # the third line triggered a compaction into one; the fourth was appended after it
    assert (tmp_path / "spend.jsonl").read_text().splitlines() == ['["a", 0.75]', '["a", 0.25]']
    ledger.close()
    assert SpendLedger(tmp_path / "spend.jsonl").totals == {"a": 1.0}


# -- config, guardrails, embeddings ----------------------------------------------------------


def base_config(**extra) -> dict:
    return {"deployments": [{"name": "d", "provider": "openai_compatible", "model": "m"}],
            "aliases": {"fast": ["d"]}, **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"semantic_cache": {"aliases": ["nope"]}}, "semantic_cache.aliases names unknown models ['nope']"),
        ({"semantic_cache": {"aliases": ["fast"], "threshold": 1.5}}, "less than or equal to 1"),
        ({"semantic_cache": {"aliases": ["fast"], "treshold": 0.9}}, "Extra inputs are not permitted"),
        ({"guardrails": {"aliases": {"fast": {}}}}, "needs an `input` or an `output` policy"),
        ({"guardrails": {"aliases": {"nope": {"input": "gateway"}}}}, "guardrails.aliases names unknown models"),
    ],
)
def test_bad_semantic_cache_and_guardrails_config_is_refused(extra, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        GatewayConfig.model_validate(base_config(**extra))


def test_an_unknown_guardrails_policy_is_refused_at_start_up():
    with pytest.raises(UserError, match="guardrails.aliases.fast.output names policy 'nope'"):
        RouteGuards(GuardrailsConfig(aliases={"fast": {"output": "nope"}}))


def test_the_shipped_gateway_config_names_real_policies_and_models():
    from shared.guardrails import load_policies

    cfg = GatewayConfig.load(REPO_ROOT / "deploy" / "gateway" / "gateway.yaml")
    known = set(load_policies().file.policies)
    for route in cfg.guardrails.aliases.values():
        assert {route.input, route.output} - {None} <= known
    ladle = [d.name for d in cfg.deployments if d.provider == "ladle"]
    assert ladle and any(names == ladle for names in cfg.aliases.values())
    # the threshold makes candidates; the verifier decides (its lowest gate is 0.60)
    assert (cfg.semantic_cache.threshold, cfg.semantic_cache.verifier) == (0.6, VERIFIER)


def test_guarded_texts_are_every_user_text_and_go_back_where_they_came_from():
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "call 555"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {}}]}]  # fmt: skip
    texts = _texts(messages, "user")
    assert texts == {"messages[1]": "call 555", "messages[3].content[0]": "x"}
    _put_back(messages, {"messages[1]": "call <PHONE>", "messages[3].content[0]": "y"})
    assert messages[1]["content"] == "call <PHONE>" and messages[3]["content"][0]["text"] == "y"
    assert messages[0]["content"] == "s" and messages[3]["content"][1]["type"] == "image_url"


class FakeDimEncoder:
    """Only the dimension: input validation never reaches the model."""

    dim = 384


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": []}, "non-empty list of strings"),
        ({"input": [[1, 2]]}, "token ids are not accepted"),
        ({"input": ["x"] * 2049}, "at most 2048 inputs"),
        ({"input": "x", "dimensions": 256}, "384 dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "float or base64"),
    ],
)
def test_ladle_embeddings_refuse_what_they_cannot_serve(body, message):
    from services.gateway.config import Deployment

    p = LadleEmbeddings(Deployment(name="m", provider="ladle", model="all-minilm-l6-v2"), FakeDimEncoder())
    with pytest.raises(UpstreamError, match=message) as exc:
        p.texts(body)
    assert exc.value.status == 400 and not exc.value.fallback
    assert p.texts({"input": "one"}) == ["one"]


def test_a_semantic_cache_without_a_data_folder_is_refused():
    from services.gateway.app import Gateway
    from shared.pricing import Pricing

    cfg = GatewayConfig.model_validate(base_config(semantic_cache={"aliases": ["fast"]}))
    with pytest.raises(UserError, match="semantic_cache needs the gateway's data folder"):
        Gateway(cfg, None, Pricing.load())


def test_the_config_file_expands_environment_variables_with_defaults(monkeypatch):
    from services.gateway.config import expand_env

    monkeypatch.setenv("LADLE_GATEWAY_LOCAL_LLM_URL", "http://llm:8090/v1")
    monkeypatch.delenv("LADLE_NOT_SET", raising=False)
    text = "a: ${LADLE_GATEWAY_LOCAL_LLM_URL:-http://x/v1}\nb: ${LADLE_NOT_SET:-http://127.0.0.1:8090/v1}\n"
    assert expand_env(text) == "a: http://llm:8090/v1\nb: http://127.0.0.1:8090/v1\n"
    with pytest.raises(UserError, match=r"\$\{LADLE_NOT_SET\} is not set and has no default"):
        expand_env("c: ${LADLE_NOT_SET}")
