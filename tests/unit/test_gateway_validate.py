"""The gateway's request checks and translations, with nothing running: OpenAI's chat schema,
the Responses API on chat, upstream errors by whose fault they are, streamed usage."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from schemas import Usage
from services.gateway.calls import counted_usage, status_of
from services.gateway.config import Deployment, GatewayConfig
from services.gateway.providers.base import UpstreamError
from services.gateway.providers.openai_compat import llama_cpp
from services.gateway.responses import as_chunks
from services.gateway.responses_api import events, to_chat, to_response
from services.gateway.router import AllFailed, Attempts, Router
from services.gateway.validate import MAX_DEPTH, Invalid, chat_request, embeddings_request

USER = [{"role": "user", "content": "Name one Italian pasta dish."}]


def chat(**fields) -> dict:
    return {"model": "fast", "messages": USER, **fields}


# -- chat completions: what passes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        chat(),
        chat(max_tokens=8, temperature=0, top_p=1, n=1, stop="END", seed=-1, presence_penalty=-2.0, user="u1"),
        chat(temperature=None, max_tokens=None, stop=None, tools=None),  # null is "not set"
        chat(grammar='root ::= "yes"', min_p=0.1, mirostat_mode=2),  # llama.cpp's and vLLM's own fields
        chat(stream=True, stream_options={"include_usage": True}),
        chat(metadata={"use_case": "tagging"}, logit_bias={"50256": -100}, logprobs=True, top_logprobs=5),
        chat(response_format={"type": "json_schema", "json_schema": {"name": "dish", "schema": {"type": "object"},
                                                                     "strict": True}}),  # fmt: skip
        chat(tools=[{"type": "function", "function": {"name": "get_dish", "parameters": {"type": "object"}}}],
             tool_choice={"type": "function", "function": {"name": "get_dish"}}, parallel_tool_calls=False),
        {"model": "fast", "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
            {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a pizza"},
            {"role": "assistant", "content": "A pizza.", "name": "bot", "unknown_extra": 1},
        ]},
    ],
)  # fmt: skip
def test_openai_shaped_chat_requests_pass_unchanged(body):
    before = orjson.dumps(body)
    assert chat_request(body) is body and orjson.dumps(body) == before


# -- chat completions: what is refused, and the field it names -------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ([USER], None, "invalid_type"),
        ({"messages": USER}, "model", "missing_required_parameter"),
        ({"model": "fast"}, "messages", "missing_required_parameter"),
        ({"model": None, "messages": USER}, "model", "invalid_type"),
        (chat(messages=[]), "messages", "empty_array"),
        (chat(messages="hi"), "messages", "invalid_type"),
        (chat(messages=["hi"]), "messages[0]", "invalid_type"),
        (chat(messages=[{"content": "hi"}]), "messages[0].role", "missing_required_parameter"),
        (chat(messages=[{"role": "wizard", "content": "hi"}]), "messages[0].role", "invalid_value"),
        (chat(messages=[{"role": "user"}]), "messages[0].content", "missing_required_parameter"),
        (chat(messages=[{"role": "user", "content": 7}]), "messages[0].content", "invalid_type"),
        (chat(messages=[{"role": "user", "content": []}]), "messages[0].content", "empty_array"),
        (chat(messages=[{"role": "user", "content": [{"type": "video"}]}]), "messages[0].content[0].type",
         "invalid_value"),
        (chat(messages=[{"role": "user", "content": [{"type": "text"}]}]), "messages[0].content[0].text",
         "missing_required_parameter"),
        (chat(messages=[{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]),
         "messages[0].content[0].type", "invalid_value"),
        (chat(messages=[{"role": "tool", "content": "x"}]), "messages[0].tool_call_id", "missing_required_parameter"),
        (chat(messages=[{"role": "assistant"}]), "messages[0].content", "missing_required_parameter"),
        (chat(messages=[{"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}]),
         "messages[0].tool_calls[0].function", "missing_required_parameter"),
        (chat(max_tokens="many"), "max_tokens", "invalid_type"),
        (chat(max_tokens=0), "max_tokens", "integer_below_min_value"),
        (chat(max_tokens=1.5), "max_tokens", "invalid_type"),
        (chat(max_tokens=True), "max_tokens", "invalid_type"),
        (chat(max_tokens=2**40), "max_tokens", "integer_above_max_value"),
        (chat(temperature=2.5), "temperature", "decimal_above_max_value"),
        (chat(top_p=-0.1), "top_p", "decimal_below_min_value"),
        (chat(n=129), "n", "integer_above_max_value"),
        (chat(stop=["a", "b", "c", "d", "e"]), "stop", "array_above_max_length"),
        (chat(stop=[1]), "stop[0]", "invalid_type"),
        (chat(stream="yes"), "stream", "invalid_type"),
        (chat(stream_options={"include_usage": True}), "stream_options", "invalid_value"),
        (chat(stream=True, stream_options={"include_usage": "yes"}), "stream_options.include_usage", "invalid_type"),
        (chat(tools=[{"type": "function", "function": {"name": "has space"}}]), "tools[0].function.name",
         "invalid_value"),
        (chat(tools=[{"type": "retrieval"}]), "tools[0].type", "invalid_value"),
        (chat(tool_choice="always"), "tool_choice", "invalid_value"),
        (chat(response_format={"type": "json_schema"}), "response_format.json_schema", "missing_required_parameter"),
        (chat(response_format={"type": "xml"}), "response_format.type", "invalid_value"),
        (chat(logit_bias={"hello": 5}), "logit_bias", "invalid_value"),
        (chat(logit_bias={"42": 500}), "logit_bias.42", "decimal_above_max_value"),
        (chat(metadata={"use_case": 7}), "metadata.use_case", "invalid_type"),
        (chat(user=["u"]), "user", "invalid_type"),
    ],
)  # fmt: skip
def test_a_request_outside_the_schema_is_refused_naming_its_field(body, param, code):
    with pytest.raises(Invalid) as refused:
        chat_request(body)
    assert (refused.value.param, refused.value.code) == (param, code)
    if param is not None:
        assert f"'{param}'" in str(refused.value)


def test_the_messages_say_what_openai_says():
    with pytest.raises(Invalid, match=r"^Invalid value for 'messages\[0\].role': 'wizard'. Supported values are: "
                                      r"'system', 'assistant', 'user', 'function', 'tool', 'developer'.$"):  # fmt: skip
        chat_request(chat(messages=[{"role": "wizard", "content": "hi"}]))
    with pytest.raises(Invalid, match=r"^Invalid type for 'max_tokens': expected an integer, but got a string instead"):
        chat_request(chat(max_tokens="many"))


def nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


def test_unknown_fields_pass_but_nest_no_deeper_than_the_upstream_encoder_takes():
    chat_request(chat(grammar=nested(MAX_DEPTH - 1)))  # the body itself is the first level
    with pytest.raises(Invalid) as deep:
        chat_request(chat(grammar=nested(MAX_DEPTH)))
    assert deep.value.code == "nested_too_deeply" and deep.value.param == "grammar" + "[0]" * (MAX_DEPTH - 1)
    with pytest.raises(Invalid, match="nested more than 64 levels"):
        chat_request(chat(messages=[{"role": "user", "content": "x", "extra": nested(MAX_DEPTH)}]))


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x"}, "model"),
        ({"model": "e"}, "input"),
        ({"model": "e", "input": []}, "input"),
        ({"model": "e", "input": [1.5]}, "input[0]"),
        ({"model": "e", "input": ["a", 2]}, "input[1]"),
        ({"model": "e", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "e", "input": "x", "dimensions": 0}, "dimensions"),
    ],
)
def test_embeddings_requests_are_checked_too(body, param):
    with pytest.raises(Invalid) as refused:
        embeddings_request(body)
    assert refused.value.param == param
    for ok in ("one", ["a", "b"], [1, 2, 3], [[1, 2], [3]]):
        embeddings_request({"model": "e", "input": ok})


# -- whose fault an upstream error is -----------------------------------------------------------


def test_an_upstream_4xx_is_the_requests_fault_but_for_transient_and_deployment_errors():
    raw = b'{"error": {"message": "too long", "type": "invalid_request_error", "param": "messages", ' \
          b'"code": "context_length_exceeded"}}'  # fmt: skip
    for status in (400, 413, 422):
        exc = UpstreamError.from_status(status, "d: HTTP", raw)
        assert exc.client_fault and not exc.fallback and status_of(exc) == "client_error"
        assert exc.error == {"message": "too long", "type": "invalid_request_error", "param": "messages",
                             "code": "context_length_exceeded"}  # fmt: skip
    assert UpstreamError.from_status(400, "d: HTTP", b"<html>").error is None  # not OpenAI's shape: ours is used
    for status in (401, 403, 404, 408, 409, 429, 500, 502, 503):
        exc = UpstreamError.from_status(status, "d: HTTP", raw)
        assert exc.fallback and not exc.client_fault and exc.error is None
    assert [status_of(UpstreamError(s, "x")) for s in (504, 429, 500)] == ["timeout", "rate_limited", "error"]
    # a deployment's own 401/403/404 never reaches the client as its own auth or not-found error
    assert [AllFailed([UpstreamError(s, "x")]).status for s in (401, 403, 404, 429, 503)] == [502, 502, 502, 429, 503]


class FakeProvider:
    """An upstream that fails with the statuses it is given, then answers."""

    def __init__(self, name: str, statuses: list[int]) -> None:
        self.deployment = Deployment(name=name, provider="openai_compatible", model="m", max_retries=2)
        self.statuses, self.calls = list(statuses), 0

    async def complete(self, body: dict) -> dict:
        self.calls += 1
        if self.statuses:
            raise UpstreamError.from_status(self.statuses.pop(0), f"{self.deployment.name}: HTTP")
        return {"choices": [{"message": {"content": "ok"}}]}

    async def aclose(self) -> None:
        pass


def router(a: FakeProvider, b: FakeProvider) -> Router:
    cfg = GatewayConfig.model_validate({
        "deployments": [{"name": "a", "provider": "openai_compatible", "model": "m"},
                        {"name": "b", "provider": "openai_compatible", "model": "m"}],
        "aliases": {"both": ["a", "b"]}, "breaker_failures": 2,
    })  # fmt: skip
    r = Router(cfg, {"a": a, "b": b})
    r._backoff = lambda attempt: asyncio.sleep(0)
    return r


def test_the_requests_fault_is_not_retried_does_not_fall_back_and_leaves_the_breaker_alone():
    a, b = FakeProvider("a", [400, 400, 400]), FakeProvider("b", [])
    r = router(a, b)
    for _ in range(3):
        attempts = Attempts()
        with pytest.raises(UpstreamError) as refused:
            asyncio.run(r.call("both", {}, attempts))
        assert refused.value.status == 400 and attempts.tried == ["a"]
    assert (a.calls, b.calls) == (3, 0) and not r.breaker.is_open("a") and r.breaker._count == {}


class FakeCannotServe(FakeProvider):
    """A deployment that cannot serve any request (an Anthropic model asked for embeddings)."""

    async def complete(self, body: dict) -> dict:
        self.calls += 1
        raise UpstreamError.cannot_serve(f"{self.deployment.name}: not this kind of request")


def test_what_a_deployment_cannot_serve_goes_to_the_next_without_a_retry_or_a_breaker_count():
    a, b = FakeCannotServe("a", []), FakeProvider("b", [])
    r = router(a, b)
    attempts = Attempts()
    asyncio.run(r.call("both", {}, attempts))
    assert attempts.tried == ["a", "b"] and a.calls == 1 and r.breaker._count == {}
    only = router(FakeCannotServe("a", []), FakeCannotServe("b", []))
    with pytest.raises(AllFailed) as none:
        asyncio.run(only.call("both", {}, Attempts()))
    assert (none.value.status, none.value.code, status_of(none.value)) == (400, "unsupported_by_deployment",
                                                                          "client_error")  # fmt: skip


def test_an_upstream_failure_is_retried_falls_back_and_opens_the_breaker():
    a, b = FakeProvider("a", [500, 503]), FakeProvider("b", [])
    r = router(a, b)
    attempts = Attempts()
    assert asyncio.run(r.call("both", {}, attempts)) == {"choices": [{"message": {"content": "ok"}}]}
    assert attempts.tried == ["a", "a", "b"] and attempts.answered == "b" and r.breaker.is_open("a")


# -- the llama.cpp dialect ------------------------------------------------------------------------


def test_llama_cpp_gets_json_schemas_as_json_object_and_strings_for_contents():
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    body = {"model": "m", "response_format": {"type": "json_schema", "json_schema": {"name": "d", "schema": schema}},
            "messages": [{"role": "developer", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]},
                         {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                         {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function"}]},
                         {"role": "tool", "tool_call_id": "c", "content": [{"type": "text", "text": "42"}]}]}  # fmt: skip
    out = llama_cpp(body)
    assert out["response_format"] == {"type": "json_object", "schema": schema}
    assert [(m["role"], m["content"]) for m in out["messages"]] == [
        ("system", "Be brief."), ("user", "Hi"), ("assistant", ""), ("tool", "42")]  # fmt: skip
    plain = {"model": "m", "messages": USER}
    assert llama_cpp(plain) is plain  # the common request is not copied
    tools = llama_cpp({"messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}],
                       "functions": [{"name": "g", "parameters": {"type": "object"}}]})  # fmt: skip
    assert tools["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert tools["functions"] == [{"name": "g", "parameters": {"type": "object"}}]
    for cannot in ({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
                   {"messages": USER, "tools": [{"type": "custom", "custom": {"name": "f"}}]}):  # fmt: skip
        with pytest.raises(UpstreamError) as refused:
            llama_cpp(cannot, "local")
        assert refused.value.unsupported and refused.value.fallback and not refused.value.client_fault


# -- usage in streams -----------------------------------------------------------------------------


def test_a_stream_without_upstream_usage_is_counted():
    body = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x" * 40}]}
    assert counted_usage(body, deltas=7) == Usage(input_tokens=(9 // 4 + 4) + (40 // 4 + 4), output_tokens=7)


def test_a_whole_answer_replayed_as_a_stream_ends_with_the_usage_chunk_when_asked():
    resp = {"id": "c1", "created": 1, "model": "m", "usage": {"prompt_tokens": 3, "completion_tokens": 2},
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi"}}]}  # fmt: skip
    first, usage = as_chunks(resp, usage=True)
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "Hi"}
    assert usage["choices"] == [] and usage["usage"] == {"prompt_tokens": 3, "completion_tokens": 2}
    assert len(as_chunks(resp, usage=False)) == 1


# -- the Responses API on chat --------------------------------------------------------------------


def test_a_responses_request_becomes_the_chat_request_it_means():
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    chat_body = to_chat({
        "model": "fast", "instructions": "Be brief.", "max_output_tokens": 32, "temperature": 0.2, "store": True,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Pick one."}]},
                  {"type": "function_call", "call_id": "c1", "name": "pick", "arguments": "{}"},
                  {"type": "function_call", "call_id": "c2", "name": "pick", "arguments": "{\"n\":2}"},
                  {"type": "function_call_output", "call_id": "c1", "output": "pasta"}],
        "text": {"format": {"type": "json_schema", "name": "dish", "schema": schema, "strict": True}},
        "tools": [{"type": "function", "name": "pick", "parameters": {"type": "object"}, "strict": False}],
        "tool_choice": "auto", "stream": True, "metadata": {"use_case": "faq"}, "grammar": "root ::= x",
    })  # fmt: skip
    assert chat_body == {
        "model": "fast", "grammar": "root ::= x", "temperature": 0.2, "metadata": {"use_case": "faq"},
        "max_tokens": 32, "tool_choice": "auto", "stream": True, "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Pick one."}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "pick", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "pick", "arguments": "{\"n\":2}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "pasta"},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "dish", "schema": schema, "strict": True}},
        "tools": [{"type": "function", "function": {"name": "pick", "parameters": {"type": "object"}, "strict": False}}],
    }  # fmt: skip
    chat_request(chat_body)  # and the chat schema takes it
    assert to_chat({"model": "fast", "input": "Hi"})["messages"] == [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"model": "fast", "input": "x", "previous_response_id": "resp_1"}, "previous_response_id",
         "unsupported_parameter"),
        ({"model": "fast", "input": "x", "conversation": "conv_1"}, "conversation", "unsupported_parameter"),
        ({"model": "fast", "input": "x", "background": True}, "background", "unsupported_parameter"),
        ({"model": "fast", "input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type",
         "unsupported_parameter"),
        ({"model": "fast"}, "input", "missing_required_parameter"),
        ({"model": "fast", "input": []}, "input", "empty_array"),
        ({"model": "fast", "input": 5}, "input", "invalid_type"),
        ({"model": "fast", "input": [{"role": "wizard", "content": "x"}]}, "input[0].role", "invalid_value"),
        ({"model": "fast", "input": "x", "max_output_tokens": 8}, "max_output_tokens", "integer_below_min_value"),
        ({"model": "fast", "input": "x", "text": {"format": {"type": "json_schema"}}}, "text.format.name",
         "missing_required_parameter"),
        ({"model": "fast", "input": "x", "tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_parameter"),
        ({"model": "fast", "input": "x", "temperature": "hot"}, "temperature", "invalid_type"),
    ],
)  # fmt: skip
def test_what_the_responses_api_cannot_mean_here_is_a_400_naming_the_field(body, param, code):
    with pytest.raises(Invalid) as refused:
        to_chat(body)
    assert (refused.value.param, refused.value.code) == (param, code)


def completion(finish: str = "stop", **message) -> dict:
    return {"id": "c", "model": "smollm2", "usage": {"prompt_tokens": 5, "completion_tokens": 3},
            "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", **message}}]}  # fmt: skip


def test_a_chat_completion_becomes_a_response():
    r = to_response(completion(content="Carbonara."), {"model": "fast", "max_output_tokens": 16}, "resp_x", 7)
    assert (r["id"], r["object"], r["model"], r["status"], r["max_output_tokens"]) == (
        "resp_x", "response", "fast", "completed", 16)  # fmt: skip
    assert r["output"] == [{"type": "message", "id": "msg_x", "status": "completed", "role": "assistant",
                            "content": [{"type": "output_text", "text": "Carbonara.", "annotations": [],
                                         "logprobs": []}]}]  # fmt: skip
    assert r["usage"]["input_tokens"] == 5 and r["usage"]["output_tokens"] == 3 and r["usage"]["total_tokens"] == 8
    cut = to_response(completion("length", content="Carbo"), {"model": "fast"}, "resp_x", 7)
    assert cut["status"] == "incomplete" and cut["incomplete_details"] == {"reason": "max_output_tokens"}
    call = {"id": "call_1", "type": "function", "function": {"name": "pick", "arguments": "{}"}}
    tools = to_response(completion("tool_calls", content=None, tool_calls=[call]), {"model": "fast"}, "resp_x", 7)
    assert tools["output"] == [{"type": "function_call", "id": "fc_x_0", "call_id": "call_1", "name": "pick",
                                "arguments": "{}", "status": "completed"}]  # fmt: skip


async def chunks_of(items: list, fail: bool = False):
    for item in items:
        yield item
    if fail:
        raise UpstreamError(502, "local: connection lost")


def stream_events(items: list, fail: bool = False) -> list[dict]:
    async def collect() -> list[bytes]:
        return [b async for b in events(chunks_of(items, fail), {"model": "fast"}, "resp_x", 7)]

    out = []
    for block in b"".join(asyncio.run(collect())).split(b"\n\n"):
        if block:
            kind, data = block.split(b"\n")
            event = orjson.loads(data[len(b"data: ") :])
            assert kind == b"event: " + event["type"].encode()
            out.append(event)
    return out


def delta(text: str | None = None, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": text} if text else {}, "finish_reason": finish}]}


def test_chat_chunks_become_the_responses_typed_events_in_order():
    evs = stream_events([delta("Carbo"), delta("nara."), delta(finish="stop"),
                         {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}])  # fmt: skip
    assert [e["type"] for e in evs] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed",
    ]  # fmt: skip
    assert [e["sequence_number"] for e in evs] == list(range(10))
    assert [e["delta"] for e in evs if e["type"] == "response.output_text.delta"] == ["Carbo", "nara."]
    done = evs[-1]["response"]
    assert done["status"] == "completed" and done["output"][0]["content"][0]["text"] == "Carbonara."
    assert done["usage"]["input_tokens"] == 5 and done["usage"]["output_tokens"] == 2


def test_a_stream_that_breaks_ends_failed_never_completed():
    evs = stream_events([delta("Carbo")], fail=True)
    assert [e["type"] for e in evs][-2:] == ["error", "response.failed"]
    assert evs[-1]["response"]["status"] == "failed" and "connection lost" in evs[-1]["response"]["error"]["message"]
