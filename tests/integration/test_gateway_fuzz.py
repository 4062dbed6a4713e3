"""Hypothesis against a running gateway with llama.cpp's server as the upstream: request
bodies and headers a careless or hostile client sends (wrong types, missing fields, huge and
deeply nested values, unicode edge cases, bytes that are not JSON, bodies that are not
objects), to the chat, responses and embeddings endpoints.

Every answer is a 2xx, or a 4xx in OpenAI's error shape: never a 5xx, a plain-text body or
a dropped connection, and the breaker never opens: no request counted against the upstream.

Derandomized with a fixed number of examples, so a run is the same run everywhere. Valid
bodies carry a llama.cpp grammar that makes the model say "ok" at once (no mutation touches
it), so an example that reaches the model costs a fraction of a second.
"""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from services.gateway.app import create_app
from services.gateway.config import GatewayConfig, hash_key
from services.gateway.router import Router
from services.gateway.state import Gateway
from shared.pricing import Pricing
from tests.integration.gateway_helpers import Served

KEY = "fuzz-key"
EXAMPLES = 600
OK = 'root ::= "ok"'  # llama.cpp's grammar: the answer is "ok", then the end
BASES = {
    "/chat/completions": {"model": "fast", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4,
                          "grammar": OK},
    "/responses": {"model": "fast", "input": "Hi", "max_output_tokens": 16, "grammar": OK},
    "/embeddings": {"model": "embed", "input": ["Pad thai", "Margherita"]},
}  # fmt: skip
PATHS = {  # where a mutation lands: (keys into the body, then into lists and objects)
    "/chat/completions": [("model",), ("messages",), ("messages", 0), ("messages", 0, "role"),
                          ("messages", 0, "content"), ("messages", 0, "name"), ("max_tokens",), ("temperature",),
                          ("top_p",), ("n",), ("stop",), ("stream",), ("stream_options",), ("tools",),
                          ("tool_choice",), ("response_format",), ("logit_bias",), ("metadata",), ("user",), ("seed",),
                          ("presence_penalty",), ("max_completion_tokens",), ("logprobs",), ("prompt",)],
    "/responses": [("model",), ("input",), ("instructions",), ("max_output_tokens",), ("temperature",), ("text",),
                   ("tools",), ("tool_choice",), ("stream",), ("previous_response_id",), ("metadata",),
                   ("top_logprobs",), ("store",), ("truncation",)],
    "/embeddings": [("model",), ("input",), ("input", 0), ("encoding_format",), ("dimensions",), ("user",)],
}  # fmt: skip
WEIRD = ["", "\x00", "\u202e", "\u200f", "\u200b", "\u200d", "\ufeff", "\uffff", "👩‍👩‍👧", "🍕", "e\u0301",
         "\u0627\u0644\u0639", "\U0001d54f", "\ue000", "\n\t", '"', "\\", "\u2028", "Bearer", "system", "user"]  # fmt: skip
EDGE_NUMBERS = [0, -1, 1, 2, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**64, 10**30, -(2**63), 0.5, -0.0, 1e308,
                -1e308, 5e-324, 2.0000001, 128, 129, 20, 21]  # fmt: skip


def nested(levels: int, leaf: object = "x") -> object:
    for i in range(levels):
        leaf = [leaf] if i % 2 else {"k": leaf}
    return leaf


text = st.lists(st.one_of(st.sampled_from(WEIRD), st.text(max_size=6)), max_size=5).map("".join)
scalar = st.one_of(st.none(), st.booleans(), st.sampled_from(EDGE_NUMBERS), st.integers(),
                   st.floats(allow_nan=False, allow_infinity=False), text)  # fmt: skip
json_value = st.recursive(scalar, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                         st.dictionaries(text, kids, max_size=4)), max_leaves=12)  # fmt: skip
huge = st.sampled_from(["x" * 300_000, "🍕" * 50_000, list(range(3000)), [{"role": "user", "content": "x"}] * 2000,
                        {f"k{i}": i for i in range(3000)}, nested(40), nested(70), nested(300)])  # fmt: skip
value = st.one_of(json_value, json_value, huge)
raw_bytes = st.one_of(
    st.binary(max_size=300),
    st.sampled_from([b"", b"null", b"[]", b"{}", b'"text"', b"12", b"[" * 2000 + b"]" * 2000,
                     b'{"model": "fast", "messages": [{"role": "user", "content": "\\ud800"}]}',
                     b'{"model": "fast", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
                     b'{"model": "fast", "max_tokens": 1e400}', b'{"model": NaN}', b'{"a": 1, "a": 2}']),
)  # fmt: skip
# header values as h11 lets a client send them: visible latin-1, inner spaces
header_value = st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)


def put(body: dict, path: tuple, new: object, delete: bool) -> None:
    """Set (or delete) body[path], where the path exists; a mutation on a path that is not
    there sets its first key."""
    target = body
    for i, key in enumerate(path[:-1]):
        nxt = target[key] if isinstance(target, dict) and key in target or (
            isinstance(target, list) and isinstance(key, int) and key < len(target)) else None  # fmt: skip
        if not isinstance(nxt, dict | list):
            path = path[: i + 1]
            break
        target = nxt
    key = path[-1]
    if isinstance(target, list):
        if isinstance(key, int) and key < len(target):
            target.pop(key) if delete else target.__setitem__(key, new)
    elif delete:
        target.pop(key, None)
    else:
        target[key] = new


@st.composite
def request(draw) -> tuple[str, bytes, dict]:
    endpoint = draw(st.sampled_from(list(BASES)))
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "mutate", "not_an_object", "bytes"]))
    if kind == "bytes":
        body = draw(raw_bytes)
    elif kind == "not_an_object":
        body = json.dumps(draw(json_value)).encode()
    else:
        data = json.loads(json.dumps(BASES[endpoint]))
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.one_of(st.sampled_from(PATHS[endpoint]), text.map(lambda k: (k or "extra",))))
            put(data, path, draw(value), delete=draw(st.integers(0, 4)) == 0)
        if "grammar" in BASES[endpoint]:
            data["grammar"] = OK
        body = json.dumps(data, ensure_ascii=draw(st.booleans())).encode()
    headers = {"content-type": "application/json"}
    auth = draw(st.one_of(st.just(f"Bearer {KEY}"), st.just(f"Bearer {KEY}"), st.just(f"Bearer {KEY}"),
                          header_value, st.just("")))  # fmt: skip
    if auth:
        headers["authorization"] = auth
    for name in draw(st.lists(st.sampled_from(["x-ladle-cache", "content-type", "x-request-id"]), max_size=2)):
        if value_ := draw(header_value):
            headers[name] = value_
    return endpoint, body, {k: v.encode("latin-1") for k, v in headers.items()}


@pytest.fixture(scope="module")
def llama(llama_server):
    return llama_server


@pytest.fixture(scope="module")
def gateway(llama):
    cfg = GatewayConfig.model_validate({
        "deployments": [{"name": "local", "provider": "openai_compatible", "model": "smollm2", "base_url": llama.url,
                         "max_retries": 0, "pricing_model": "gpt-4o-mini", "dialect": "llama_cpp"},
                        {"name": "minilm", "provider": "ladle", "model": "all-minilm-l6-v2"}],
        "aliases": {"fast": ["local"], "embed": ["minilm"]},
        "teams": [{"name": "fuzz", "key_sha256": [hash_key(KEY)]}],
        "breaker_failures": 1,  # a single request held against the upstream would open it
    })  # fmt: skip
    gw = Gateway(cfg, Router(cfg), Pricing.load())
    served = Served(create_app(gw))
    with httpx.Client(base_url=served.url, timeout=300) as http:
        gw.http = http
        yield gw
    served.stop()
    gw.close()


SEEN: dict[int, int] = {}


@hsettings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                  HealthCheck.data_too_large, HealthCheck.large_base_example])  # fmt: skip
@given(request())
def test_no_request_gets_a_5xx_a_plain_text_answer_or_a_dropped_connection(gateway, req):
    endpoint, body, headers = req
    r = gateway.http.post(endpoint, content=body, headers=headers)  # a dropped connection raises here
    SEEN[r.status_code] = SEEN.get(r.status_code, 0) + 1
    assert r.status_code < 500, (r.status_code, r.text[:300], body[:300])
    if r.status_code >= 400:
        assert r.headers["content-type"] == "application/json", r.text[:300]
        error = r.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, error
        assert isinstance(error["message"], str) and error["message"] and isinstance(error["type"], str)
    elif r.headers["content-type"].startswith("text/event-stream"):
        events = r.text
        assert "event: error" not in events and "response.failed" not in events, events[-300:]
        assert events.endswith("data: [DONE]\n\n") or '"type":"response.completed"' in events or (
            '"type":"response.incomplete"' in events), events[-300:]  # fmt: skip
    else:
        assert r.headers["content-type"] == "application/json" and isinstance(r.json(), dict)
    breaker = gateway.router.breaker
    assert not breaker.is_open("local") and breaker._count == {}, "a request was held against the upstream"


def test_the_fuzz_was_answered_refused_and_turned_away(gateway):
    """The run above was not all one answer: it reached the model (200), the schema check
    (400) and the key check (401), and nothing else but the 4xx a client can cause."""
    assert {200, 400, 401} <= set(SEEN) <= {200, 400, 401, 403, 404, 413, 422, 429}, SEEN
