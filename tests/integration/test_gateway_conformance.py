"""The gateway as a new user meets it: the official openai client through every endpoint,
streamed and not, and the exact exception class for every error. llama.cpp's server is the
chat upstream (behind a proxy that can cut a stream), the bundled MiniLM serves embeddings,
and a deployment nothing listens on is an upstream that is down.

At the end a table of endpoints x cases is written to the terminal (and to
$LADLE_CONFORMANCE_SUMMARY when set), which is what `make test` prints about it.
"""

from __future__ import annotations

import contextlib
import os

import openai
import pytest

from services.gateway.app import create_app
from services.gateway.config import GatewayConfig, hash_key
from services.gateway.router import Router
from services.gateway.state import Gateway
from shared.kafka.broker import free_port
from shared.pricing import Pricing
from tests.integration.gateway_helpers import CuttingProxy, Served

KEY, LIMITED_KEY, SCOPED_KEY = "conformance-key", "limited-key", "scoped-key"
QUESTION = "Name one Italian pasta dish."
MSG = [{"role": "user", "content": QUESTION}]
TOO_LONG = "pasta " * 3000  # past llama.cpp's 1024-token context: its own 400, context_length_exceeded

ENDPOINTS = ["chat", "chat-stream", "responses", "responses-stream", "embeddings", "models", "models-retrieve"]
CASES = ["ok", "invalid", "upstream-400", "bad-key", "forbidden", "unknown-model", "rate-limited", "upstream-down",
         "cut-mid-stream"]  # fmt: skip
RESULTS: dict[tuple[str, str], bool] = {}


@pytest.fixture(scope="module")
def llama(llama_server):
    return llama_server


@pytest.fixture(scope="module")
def gateway(llama, request):
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    cut = CuttingProxy(llama.port, cut_after=900)  # headers and a chunk or two, then the line drops
    local = {"provider": "openai_compatible", "model": "smollm2", "max_retries": 0, "pricing_model": "gpt-4o-mini",
             "dialect": "llama_cpp"}  # fmt: skip
    cfg = GatewayConfig.model_validate({
        "deployments": [
            {"name": "local", "base_url": llama.url, **local},
            {"name": "flaky", "base_url": f"http://127.0.0.1:{cut.port}/v1", **local},
            {"name": "dead", "base_url": dead, "timeout_s": 2, **local},
            {"name": "minilm", "provider": "ladle", "model": "all-minilm-l6-v2"},
        ],
        "aliases": {"fast": ["local"], "broken": ["flaky"], "down": ["dead"], "embed": ["minilm"],
                    "embed-down": ["dead"]},
        "teams": [
            {"name": "main", "key_sha256": [hash_key(KEY)]},
            {"name": "limited", "key_sha256": [hash_key(LIMITED_KEY)], "requests_per_minute": 1},
            {"name": "scoped", "key_sha256": [hash_key(SCOPED_KEY)], "models": ["fast"]},
        ],
        "breaker_failures": 1000,  # every call to `dead` is its own 502, never the breaker's 503
        "exact_cache_entries": 0,
    })  # fmt: skip
    gw = Gateway(cfg, Router(cfg), Pricing.load())
    served = Served(create_app(gw))
    gw.url = served.url
    yield gw
    served.stop()
    gw.close()
    _summary(request.config)


def _summary(config) -> None:
    """Endpoints x cases: `ok` passed, `FAIL` did not, `-` does not apply to that endpoint."""
    width = max(len(c) for c in CASES)
    lines = ["gateway conformance (official openai client): endpoint x case",
             f"{'':{width}}  " + "  ".join(f"{e:>16}" for e in ENDPOINTS)]  # fmt: skip
    for case in CASES:
        cells = []
        for endpoint in ENDPOINTS:
            got = RESULTS.get((endpoint, case))
            cells.append(f"{'-' if (endpoint, case) not in APPLIES else 'ok' if got else 'FAIL':>16}")
        lines.append(f"{case:{width}}  " + "  ".join(cells))
    passed = sum(RESULTS.get(k, False) for k in APPLIES)
    lines.append(f"{passed}/{len(APPLIES)} endpoint-case pairs passed over {len(ENDPOINTS)} endpoints")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write("\n" + "\n".join(lines) + "\n") if reporter else print("\n".join(lines))
    if path := os.environ.get("LADLE_CONFORMANCE_SUMMARY"):
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")


def client(gw, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url, api_key=key, max_retries=0, timeout=120)


# -- what each endpoint is asked ------------------------------------------------------------------


def call(c: openai.OpenAI, endpoint: str, model: str, **kw):
    """One request to an endpoint through the official client; streams are read to their end."""
    if endpoint.startswith("chat"):
        kw = {"messages": MSG, "max_tokens": 8, **kw}
        if endpoint == "chat":
            return c.chat.completions.create(model=model, **kw)
        return list(c.chat.completions.create(model=model, stream=True, stream_options={"include_usage": True}, **kw))
    if endpoint.startswith("responses"):
        kw = {"input": QUESTION, "max_output_tokens": 16, **kw}
        if endpoint == "responses":
            return c.responses.create(model=model, **kw)
        return list(c.responses.create(model=model, stream=True, **kw))
    if endpoint == "embeddings":
        return c.embeddings.create(model=model, input=kw.pop("input", [QUESTION, "Margherita pizza"]), **kw)
    if endpoint == "models":
        return c.models.list()
    return c.models.retrieve(model)


CHAT_LIKE = ["chat", "chat-stream", "responses", "responses-stream"]
MODEL_CALLS = [*CHAT_LIKE, "embeddings"]
INVALID = {  # one mistake per endpoint, each checked before any upstream is asked
    "chat": {"messages": [{"role": "wizard", "content": "hi"}]},
    "chat-stream": {"temperature": 5},
    "responses": {"previous_response_id": "resp_123"},
    "responses-stream": {"max_output_tokens": "many"},
    "embeddings": {"dimensions": 0},
}
INVALID_PARAM = {"chat": "messages[0].role", "chat-stream": "temperature", "responses": "previous_response_id",
                 "responses-stream": "max_output_tokens", "embeddings": "dimensions"}  # fmt: skip
APPLIES = {
    *((e, "ok") for e in ENDPOINTS),
    *((e, "invalid") for e in MODEL_CALLS),
    *((e, "upstream-400") for e in CHAT_LIKE),
    *((e, "bad-key") for e in ENDPOINTS),
    *((e, "forbidden") for e in MODEL_CALLS),
    *((e, "unknown-model") for e in [*MODEL_CALLS, "models-retrieve"]),
    *((e, "rate-limited") for e in MODEL_CALLS),
    *((e, "upstream-down") for e in MODEL_CALLS),
    ("chat-stream", "cut-mid-stream"), ("responses-stream", "cut-mid-stream"),
}  # fmt: skip


def model_for(endpoint: str) -> str:
    return "embed" if endpoint == "embeddings" else "fast"


def raises_exactly(cls: type[openai.APIStatusError], status: int, fn):
    with pytest.raises(openai.APIStatusError) as err:
        fn()
    assert type(err.value) is cls, f"{type(err.value).__name__}: {err.value}"
    assert err.value.status_code == status
    body = err.value.body  # OpenAI's error shape: the client hands over the `error` object
    assert set(body) == {"message", "type", "param", "code"} and body["message"]
    return err.value


# -- the cases --------------------------------------------------------------------------------------


def check_ok(gw, endpoint: str) -> None:
    got = call(client(gw), endpoint, model_for(endpoint))
    if endpoint == "chat":
        assert got.choices[0].message.content and got.usage.completion_tokens > 0
    elif endpoint == "chat-stream":
        *pieces, last = got
        deltas = [p for p in pieces if p.choices and p.choices[0].delta.content]
        assert deltas and last.choices == [] and last.usage is not None
        # llama.cpp reports no usage in streams: the gateway counts one token per delta
        assert last.usage.completion_tokens == len(deltas) and last.usage.prompt_tokens > 0
    elif endpoint == "responses":
        assert got.object == "response" and got.model == "fast" and got.output_text
        assert got.status in ("completed", "incomplete") and got.usage.output_tokens > 0
    elif endpoint == "responses-stream":
        kinds = [e.type for e in got]
        assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                             "response.content_part.added"]  # fmt: skip
        assert kinds[-4:-1] == ["response.output_text.done", "response.content_part.done", "response.output_item.done"]
        assert kinds[-1] in ("response.completed", "response.incomplete")
        text = "".join(e.delta for e in got if e.type == "response.output_text.delta")
        assert text and got[-1].response.output_text == text and got[-1].response.usage.output_tokens > 0
        assert [e.sequence_number for e in got] == list(range(len(got)))
    elif endpoint == "embeddings":
        assert [len(d.embedding) for d in got.data] == [384, 384] and got.usage.prompt_tokens > 0
    elif endpoint == "models":
        assert {m.id for m in got.data} == {"fast", "broken", "down", "embed", "embed-down", "local", "flaky",
                                            "dead", "minilm"}  # fmt: skip
    else:
        assert (got.id, got.object, got.owned_by) == ("fast", "model", "ladle")


def check(gw, endpoint: str, case: str) -> None:
    c = client(gw)
    if case == "ok":
        check_ok(gw, endpoint)
    elif case == "invalid":
        err = raises_exactly(openai.BadRequestError, 400, lambda: call(c, endpoint, model_for(endpoint),
                                                                      **INVALID[endpoint]))  # fmt: skip
        assert err.body["param"] == INVALID_PARAM[endpoint] and err.body["type"] == "invalid_request_error"
    elif case == "upstream-400":  # the upstream's own 400, passed back as it said it
        kw = {"messages": [{"role": "user", "content": TOO_LONG}]} if endpoint.startswith("chat") else {
            "input": TOO_LONG}  # fmt: skip
        err = raises_exactly(openai.BadRequestError, 400, lambda: call(c, endpoint, "fast", **kw))
        assert err.body["code"] == "context_length_exceeded" and "maximum context length" in err.body["message"]
    elif case == "bad-key":
        raises_exactly(openai.AuthenticationError, 401, lambda: call(client(gw, "wrong-key"), endpoint,
                                                                      model_for(endpoint)))  # fmt: skip
    elif case == "forbidden":
        err = raises_exactly(openai.PermissionDeniedError, 403, lambda: call(client(gw, SCOPED_KEY), endpoint,
                                                                              "embed" if endpoint != "embeddings"
                                                                              else "embed-down"))  # fmt: skip
        assert err.body["code"] == "model_not_allowed"
    elif case == "unknown-model":
        err = raises_exactly(openai.NotFoundError, 404, lambda: call(c, endpoint, "no-such-model"))
        assert err.body["code"] == "model_not_found"
    elif case == "rate-limited":  # one request a minute: the second of two is refused, whatever the first got
        limited = client(gw, LIMITED_KEY)
        with contextlib.suppress(openai.RateLimitError):
            call(limited, endpoint, model_for(endpoint))
        err = raises_exactly(openai.RateLimitError, 429, lambda: call(limited, endpoint, model_for(endpoint)))
        assert err.body["code"] == "rate_limited"
    elif case == "upstream-down":
        model = "embed-down" if endpoint == "embeddings" else "down"
        err = raises_exactly(openai.InternalServerError, 502, lambda: call(c, endpoint, model))
        assert err.body["code"] == "upstream_failed" and err.response.headers["x-ladle-tried"] == "dead"
    elif case == "cut-mid-stream":
        if endpoint == "chat-stream":  # the client sees an error, never a short answer that looks whole
            with pytest.raises(openai.APIError) as broke:
                call(c, endpoint, "broken", max_tokens=200)
            assert type(broke.value) is openai.APIError and broke.value.body["code"] == "stream_interrupted"
        else:
            got = call(c, endpoint, "broken", max_output_tokens=200)
            assert [e.type for e in got][-2:] == ["error", "response.failed"]
            assert got[-1].response.status == "failed"


@pytest.mark.parametrize(
    ("endpoint", "case"), sorted(APPLIES, key=lambda p: (CASES.index(p[1]), ENDPOINTS.index(p[0])))
)
def test_conformance(gateway, endpoint, case):
    check(gateway, endpoint, case)
    RESULTS[(endpoint, case)] = True


def test_a_model_can_be_looked_up_only_by_teams_that_may_use_it(gateway):
    assert [m.id for m in client(gateway, SCOPED_KEY).models.list().data] == ["fast"]
    raises_exactly(openai.NotFoundError, 404, lambda: client(gateway, SCOPED_KEY).models.retrieve("embed"))
