from services.gateway.breaker import CircuitBreaker
from services.gateway.cache import ExactCache, cache_key
from services.gateway.providers.anthropic import to_chat_completion, to_messages_api
from services.gateway.providers.base import UpstreamError


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
