"""POST /v1/responses: OpenAI's Responses API on the chat deployments.

A request is translated into a chat completions request and goes the way every chat request
goes (schema check, guardrails, exact and semantic cache, budget, routing with retries and
fallback, one LLMCall); the answer is translated back into a Response object, or into its
typed stream events (response.created ... response.output_text.delta ... response.completed).
The response id is ``resp_<call_id>``, so it joins its LLMCall.

Nothing is stored: a request that points at an earlier response (`previous_response_id`,
`conversation`) or asks to run in the background is a 400 that says so; the client sends the
conversation as `input` items instead. Input items: messages (text, images, files),
function_call and function_call_output; tools: functions.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator

import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from services.gateway import validate
from services.gateway.chat import authenticated_body, complete, parse
from services.gateway.providers import UpstreamError
from services.gateway.responses import ApiError, as_chunks
from services.gateway.state import Gateway
from services.gateway.validate import Invalid, array, boolean, integer, need, obj, one_of, string

STATELESS = "this gateway stores no responses; send the whole conversation as `input` items"
# Responses parameters with nothing to do here: accepted, checked for their type, not sent on
IGNORED = {"store": boolean, "include": array, "truncation": lambda v, p: one_of(v, ("auto", "disabled"), p),
           "reasoning": obj, "stream_options": obj, "max_tool_calls": lambda v, p: integer(v, p, 0),
           "prompt_cache_retention": string, "service_tier": string}  # fmt: skip
COPIED = {"temperature": lambda v, p: validate.number(v, p, 0, 2), "top_p": lambda v, p: validate.number(v, p, 0, 1),
          "parallel_tool_calls": boolean, "metadata": validate.metadata, "user": string, "safety_identifier": string,
          "prompt_cache_key": string}  # fmt: skip
KNOWN = {"model", "input", "instructions", "max_output_tokens", "text", "tools", "tool_choice", "top_logprobs",
         "stream", "prompt", "previous_response_id", "conversation", "background", *IGNORED, *COPIED}  # fmt: skip


# -- request: Responses -> chat completions ---------------------------------------------------------


def _part(p: object, role: str, where: str) -> dict:
    kind = need(obj(p, where), "type", where, string)
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": need(p, "text", where, string)}
    if kind == "refusal" and role == "assistant":
        return {"type": "refusal", "refusal": need(p, "refusal", where, string)}
    if kind == "input_image" and role == "user":
        url = p.get("image_url")
        if url is None:
            raise Invalid(f"'{where}': only images given by `image_url` are supported (no file ids here).",
                          f"{where}.image_url", "unsupported_parameter")  # fmt: skip
        image = {"url": string(url, f"{where}.image_url")}
        if p.get("detail") is not None:
            image["detail"] = one_of(p["detail"], ("auto", "low", "high"), f"{where}.detail")
        return {"type": "image_url", "image_url": image}
    if kind == "input_file" and role == "user":
        file = {k: string(p[k], f"{where}.{k}") for k in ("file_data", "file_id", "filename") if p.get(k) is not None}
        return {"type": "file", "file": file}
    allowed = ("input_text", "input_image", "input_file") if role == "user" else ("input_text", "output_text")
    raise Invalid(f"Invalid value for '{where}.type': {kind[:50]!r} in a {role} message. Supported values are: "
                  + ", ".join(f"'{a}'" for a in allowed) + ".", f"{where}.type")  # fmt: skip


def _content(v: object, role: str, where: str) -> str | list:
    if isinstance(v, str):
        return v
    if not isinstance(v, list):
        raise validate.wrong_type(where, "one of a string or array of objects", v)
    return [_part(p, role, f"{where}[{j}]") for j, p in enumerate(array(v, where, min_len=1))]


def input_messages(v: object, param: str = "input") -> list[dict]:
    """`input` as chat messages: a string is one user message; items are messages, function
    calls (an assistant message's tool_calls) and their outputs (tool messages)."""
    if isinstance(v, str):
        return [{"role": "user", "content": v}]
    out: list[dict] = []
    for i, item in enumerate(array(v, param)):
        where = f"{param}[{i}]"
        kind = obj(item, where).get("type", "message")
        if kind == "message":
            role = need(item, "role", where, lambda r, w: one_of(r, ("user", "assistant", "system", "developer"), w))
            out.append({"role": role, "content": need(item, "content", where, lambda c, w, r=role: _content(c, r, w))})
        elif kind == "function_call":
            call = {"id": need(item, "call_id", where, string), "type": "function",
                    "function": {"name": need(item, "name", where, string),
                                 "arguments": need(item, "arguments", where, string)}}  # fmt: skip
            if out and out[-1]["role"] == "assistant" and out[-1].get("tool_calls"):
                out[-1]["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = need(item, "output", where, lambda o, w: _content(o, "tool", w))
            if isinstance(output, list):
                output = "".join(p.get("text", "") for p in output)
            out.append({"role": "tool", "tool_call_id": need(item, "call_id", where, string), "content": output})
        elif kind == "item_reference":
            raise Invalid(f"'{where}': an item_reference points at a stored item; {STATELESS}.", f"{where}.type",
                          "unsupported_parameter")  # fmt: skip
        else:
            raise Invalid(f"Invalid value for '{where}.type': {str(kind)[:50]!r}. Supported values are: 'message', "
                          "'function_call', 'function_call_output'.", f"{where}.type")  # fmt: skip
    return out


def _tool(t: object, where: str) -> dict:
    kind = need(obj(t, where), "type", where, string)
    if kind != "function":
        raise Invalid(f"Invalid value for '{where}.type': {kind[:50]!r}. Only 'function' tools are served here "
                      "(no hosted tools).", f"{where}.type", "unsupported_parameter")  # fmt: skip
    fn = {"name": need(t, "name", where, string)}
    if t.get("description") is not None:
        fn["description"] = string(t["description"], f"{where}.description")
    if t.get("parameters") is not None:
        fn["parameters"] = obj(t["parameters"], f"{where}.parameters")
    if t.get("strict") is not None:
        fn["strict"] = boolean(t["strict"], f"{where}.strict")
    return {"type": "function", "function": fn}


def _tool_choice(v: object, where: str) -> str | dict:
    if isinstance(v, str):
        return one_of(v, ("none", "auto", "required"), where)
    if need(obj(v, where), "type", where, string) != "function":
        raise Invalid(f"'{where}': only 'none', 'auto', 'required' or a function are supported here.",
                      f"{where}.type", "unsupported_parameter")  # fmt: skip
    return {"type": "function", "function": {"name": need(v, "name", where, string)}}


def _format(v: object, where: str) -> dict | None:
    kind = need(obj(v, where), "type", where, lambda t, w: one_of(t, ("text", "json_object", "json_schema"), w))
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    need(v, "name", where, string)
    schema = {k: v[k] for k in ("name", "schema", "description", "strict") if v.get(k) is not None}
    validate.json_schema(schema, where)
    return {"type": "json_schema", "json_schema": schema}


def to_chat(body: object) -> dict:
    """The chat completions request a Responses request means; raises Invalid naming the
    Responses field. Fields neither API knows (llama.cpp's `grammar`) pass through."""
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.", None, "invalid_type")
    for key in ("previous_response_id", "conversation"):
        if body.get(key) is not None:
            raise Invalid(f"'{key}' is not supported: {STATELESS}.", key, "unsupported_parameter")
    if body.get("background"):
        raise Invalid(f"'background' is not supported: {STATELESS} to poll.", "background", "unsupported_parameter")
    chat = {k: v for k, v in body.items() if k not in KNOWN}
    chat["model"] = need(body, "model", "", string)
    messages = []
    if body.get("instructions") is not None:
        messages.append({"role": "system", "content": string(body["instructions"], "instructions")})
    if "input" in body or "prompt" not in body:
        messages += need(body, "input", "", input_messages)
    if not messages and "prompt" not in body:
        raise Invalid("Invalid 'input': empty array. Expected at least one input item.", "input", "empty_array")
    chat["messages"] = messages
    for key, check in IGNORED.items():
        if body.get(key) is not None:
            check(body[key], key)
    for key, check in COPIED.items():
        if body.get(key) is not None:
            check(body[key], key)
            chat[key] = body[key]
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = integer(body["max_output_tokens"], "max_output_tokens", 16)
    text = body.get("text")
    if text is not None:
        if obj(text, "text").get("format") is not None and (fmt := _format(text["format"], "text.format")):
            chat["response_format"] = fmt
        if text.get("verbosity") is not None:
            chat["verbosity"] = one_of(text["verbosity"], ("low", "medium", "high"), "text.verbosity")
    if body.get("tools") is not None:
        chat["tools"] = [_tool(t, f"tools[{i}]") for i, t in enumerate(array(body["tools"], "tools", max_len=128))]
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"], "tool_choice")
    if body.get("top_logprobs") is not None:
        chat["logprobs"], chat["top_logprobs"] = True, integer(body["top_logprobs"], "top_logprobs", 0, 20)
    if body.get("prompt") is not None:  # Ladle's prompt registry: {"name", "label", "variables"}
        chat["prompt"] = body["prompt"]
    if body.get("stream") is not None and boolean(body["stream"], "stream"):
        chat["stream"], chat["stream_options"] = True, {"include_usage": True}
    return chat


# -- answer: chat completion -> Response ---------------------------------------------------------


def base_response(req: dict, rid: str, created_at: int, model: str) -> dict:
    """A Response as it stands before any output: what the request asked for (`model`: the
    model the client named, alias or deployment)."""
    return {
        "id": rid, "object": "response", "created_at": created_at, "status": "in_progress", "completed_at": None,
        "error": None, "incomplete_details": None, "instructions": req.get("instructions"),
        "max_output_tokens": req.get("max_output_tokens"), "model": model, "output": [],
        "parallel_tool_calls": req.get("parallel_tool_calls", True), "previous_response_id": None,
        "temperature": req.get("temperature"), "top_p": req.get("top_p"),
        "tool_choice": req.get("tool_choice", "auto"), "tools": req.get("tools") or [],
        "text": req.get("text") or {"format": {"type": "text"}}, "truncation": req.get("truncation") or "disabled",
        "metadata": req.get("metadata") or {}, "store": False, "usage": None, "user": req.get("user"),
    }  # fmt: skip


def response_usage(u: dict | None) -> dict:
    u = u or {}
    cached = (u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    inp, out = u.get("prompt_tokens", 0), u.get("completion_tokens", 0)
    return {"input_tokens": inp, "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
            "output_tokens": out, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": inp + out}  # fmt: skip


def _finished(base: dict, output: list, finish: str | None, usage: dict | None) -> dict:
    done = finish not in ("length", "content_filter")
    return {
        **base, "status": "completed" if done else "incomplete", "output": output, "usage": response_usage(usage),
        "completed_at": int(time.time()) if done else None,
        "incomplete_details": None if done else {"reason": "max_output_tokens" if finish == "length" else finish},
    }  # fmt: skip


def _message(mid: str, text: str, status: str) -> dict:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "message", "id": mid, "status": status, "role": "assistant", "content": [part]}


def _function_call(rid: str, k: int, call: dict, status: str = "completed") -> dict:
    fn = call.get("function") or {}
    return {"type": "function_call", "id": f"fc_{rid[5:]}_{k}", "call_id": call.get("id") or f"call_{k}",
            "name": fn.get("name") or "", "arguments": fn.get("arguments") or "", "status": status}  # fmt: skip


def to_response(completion: dict, req: dict, rid: str, created_at: int) -> dict:
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    finish = choice.get("finish_reason")
    status = "incomplete" if finish in ("length", "content_filter") else "completed"
    calls = message.get("tool_calls") or []
    output = (
        [_message(f"msg_{rid[5:]}", message.get("content") or "", status)]
        if message.get("content") or not calls
        else []
    )
    output += [_function_call(rid, k, c) for k, c in enumerate(calls)]
    base = base_response(req, rid, created_at, req.get("model"))
    return _finished(base, output, finish, completion.get("usage"))


async def events(chunks: AsyncGenerator[dict, None], req: dict, rid: str, created_at: int) -> AsyncIterator[bytes]:
    """Chat completion chunks (the last one carrying usage) as the Responses API's typed events."""
    seq = 0

    def ev(kind: str, **fields) -> bytes:
        nonlocal seq
        data = orjson.dumps({"type": kind, "sequence_number": seq, **fields})
        seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    base = base_response(req, rid, created_at, req.get("model"))
    mid = f"msg_{rid[5:]}"
    at = {"item_id": mid, "output_index": 0, "content_index": 0}
    texts: list[str] = []
    calls: dict[int, dict] = {}
    opened, finish, usage = False, None, None
    yield ev("response.created", response=base) + ev("response.in_progress", response=base)
    try:
        async for chunk in chunks:
            if chunk.get("usage"):
                usage = chunk["usage"]
            for c in chunk.get("choices") or []:
                if c.get("index", 0) != 0:  # a Response has one output; `n` is a chat parameter
                    continue
                delta = c.get("delta") or {}
                if delta.get("content"):
                    if not opened:
                        opened = True
                        yield ev("response.output_item.added", output_index=0, item=_message(mid, "", "in_progress")
                                 | {"content": []}) + ev("response.content_part.added", **at, part={
                                     "type": "output_text", "text": "", "annotations": [], "logprobs": []})  # fmt: skip
                    texts.append(delta["content"])
                    yield ev("response.output_text.delta", **at, delta=delta["content"], logprobs=[])
                for tc in delta.get("tool_calls") or []:
                    got = calls.setdefault(tc.get("index", len(calls)), {"function": {"name": "", "arguments": ""}})
                    got["id"] = tc.get("id") or got.get("id")
                    fn = tc.get("function") or {}
                    got["function"]["name"] += fn.get("name") or ""
                    got["function"]["arguments"] += fn.get("arguments") or ""
                finish = c.get("finish_reason") or finish
        status = "incomplete" if finish in ("length", "content_filter") else "completed"
        output = []
        if opened or not calls:
            item = _message(mid, "".join(texts), status)
            if not opened:
                yield ev("response.output_item.added", output_index=0, item={**item, "status": "in_progress",
                         "content": []}) + ev("response.content_part.added", **at, part={**item["content"][0],
                         "text": ""})  # fmt: skip
            yield (ev("response.output_text.done", **at, text=item["content"][0]["text"], logprobs=[])
                   + ev("response.content_part.done", **at, part=item["content"][0])
                   + ev("response.output_item.done", output_index=0, item=item))  # fmt: skip
            output.append(item)
        for k in sorted(calls):
            item, n = _function_call(rid, k, calls[k]), len(output)
            yield (ev("response.output_item.added", output_index=n, item={**item, "arguments": "", "status": "in_progress"})
                   + ev("response.function_call_arguments.delta", item_id=item["id"], output_index=n,
                        delta=item["arguments"])
                   + ev("response.function_call_arguments.done", item_id=item["id"], output_index=n,
                        arguments=item["arguments"])
                   + ev("response.output_item.done", output_index=n, item=item))  # fmt: skip
            output.append(item)
        final = _finished(base, output, finish, usage)
        yield ev("response.completed" if final["status"] == "completed" else "response.incomplete", response=final)
    except UpstreamError as exc:  # the upstream broke mid-way: never a clean end
        yield ev("error", code="server_error", message=str(exc), param=None) + ev(
            "response.failed", response={**base, "status": "failed", "error": {"code": "server_error",
                                                                              "message": str(exc)}})  # fmt: skip
    finally:
        await chunks.aclose()


async def _replay(chunks: list[dict]) -> AsyncGenerator[dict, None]:
    for chunk in chunks:
        yield chunk


async def responses(gateway: Gateway, request: Request) -> Response:
    t0 = time.perf_counter()
    try:
        team, body = await authenticated_body(gateway, request)
        try:
            chat_body = to_chat(body)
        except Invalid as exc:
            raise ApiError(400, str(exc), exc.code, param=exc.param) from None
        chat_body, prompt = parse(gateway, chat_body)
        outcome = await complete(gateway, team, chat_body, prompt, request.headers, t0, route="responses")
    except ApiError as exc:
        return exc.response()
    rid, created = f"resp_{outcome.call.call_id}", int(time.time())
    if chat_body.get("stream"):
        chunks = outcome.chunks if outcome.chunks is not None else _replay(as_chunks(outcome.completion, usage=True))
        return StreamingResponse(events(chunks, body, rid, created), media_type="text/event-stream",
                                 headers=outcome.headers)  # fmt: skip
    return Response(orjson.dumps(to_response(outcome.completion, body, rid, created)), media_type="application/json",
                    headers=outcome.headers)  # fmt: skip
