"""Request bodies checked against OpenAI's request schema before anything else touches them.

A client's mistake must be that client's 400, never an upstream's 500 that opens the breaker
for everyone. Hand-written, not a pydantic model: a typical chat body is checked in a few
microseconds, and the messages say what OpenAI's say (`Invalid type for 'messages[0].content'
...`), naming the field in `param`. Fields this file does not know (llama.cpp's `grammar`,
vLLM's `min_p`) pass through unchecked; only how deep they nest is bounded, since the
upstream's JSON encoder stops at 254 levels.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_DEPTH = 64  # levels of objects and arrays in a body; OpenAI's strict JSON schemas allow 10
MAX_INT = 2**31 - 1  # beyond this an integer parameter is a mistake, and would not fit the events
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class Invalid(Exception):
    """A request body OpenAI's schema refuses: message, param (the field's path) and code."""

    def __init__(self, message: str, param: str | None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.param, self.code = param, code


def _kind(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a decimal"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def wrong_type(param: str, expected: str, v: object) -> Invalid:
    return Invalid(
        f"Invalid type for '{param}': expected {expected}, but got {_kind(v)} instead.", param, "invalid_type"
    )


def missing(param: str) -> Invalid:
    return Invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def one_of(v: object, allowed: tuple[str, ...], param: str) -> str:
    if not isinstance(v, str):
        raise wrong_type(param, "one of " + ", ".join(repr(a) for a in allowed), v)
    if v not in allowed:
        supported = ", ".join(f"'{a}'" for a in allowed)
        raise Invalid(f"Invalid value for '{param}': '{v[:100]}'. Supported values are: {supported}.", param)
    return v


def string(v: object, param: str) -> str:
    if not isinstance(v, str):
        raise wrong_type(param, "a string", v)
    return v


def boolean(v: object, param: str) -> bool:
    if not isinstance(v, bool):
        raise wrong_type(param, "a boolean", v)
    return v


def obj(v: object, param: str) -> dict:
    if not isinstance(v, dict):
        raise wrong_type(param, "an object", v)
    return v


def array(v: object, param: str, min_len: int = 0, max_len: int | None = None) -> list:
    if not isinstance(v, list):
        raise wrong_type(param, "an array", v)
    if len(v) < min_len:
        raise Invalid(
            f"Invalid '{param}': empty array. Expected an array with minimum length {min_len}, "
            "but got an empty array instead.", param, "empty_array",
        )  # fmt: skip
    if max_len is not None and len(v) > max_len:
        raise Invalid(
            f"Invalid '{param}': array too long. Expected an array with maximum length {max_len}, "
            f"but got an array with length {len(v)} instead.", param, "array_above_max_length",
        )  # fmt: skip
    return v


def integer(v: object, param: str, lo: int | None = None, hi: int = MAX_INT) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise wrong_type(param, "an integer", v)
    if lo is not None and v < lo:
        raise Invalid(
            f"Invalid '{param}': integer below minimum value. Expected a value >= {lo}, but got {v} instead.",
            param, "integer_below_min_value",
        )  # fmt: skip
    if v > hi:
        raise Invalid(
            f"Invalid '{param}': integer above maximum value. Expected a value <= {hi}, but got {v} instead.",
            param, "integer_above_max_value",
        )  # fmt: skip
    return v


def number(v: object, param: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise wrong_type(param, "a number", v)
    if v < lo:
        raise Invalid(
            f"Invalid '{param}': decimal below minimum value. Expected a value >= {lo:g}, but got {v} instead.",
            param, "decimal_below_min_value",
        )  # fmt: skip
    if v > hi:
        raise Invalid(
            f"Invalid '{param}': decimal above maximum value. Expected a value <= {hi:g}, but got {v} instead.",
            param, "decimal_above_max_value",
        )  # fmt: skip
    return v


def name(v: object, param: str) -> str:
    if not NAME.match(string(v, param)):
        raise Invalid(f"Invalid '{param}': string does not match pattern. Expected a string that matches the "
                      "pattern '^[a-zA-Z0-9_-]{1,64}$'.", param)  # fmt: skip
    return v


def depth(value: object) -> None:
    """Refuse objects and arrays nested deeper than MAX_DEPTH, naming the first one too deep.
    Level by level, building no paths: the common body is a handful of containers."""
    frontier, level = [value], 1
    while frontier:
        nested = []
        for v in frontier:
            items = v.values() if type(v) is dict else v
            nested += [x for x in items if type(x) is dict or type(x) is list]
        frontier, level = nested, level + 1
        if nested and level > MAX_DEPTH:
            where = _too_deep(value, "", 1)
            raise Invalid(f"Invalid '{where}': nested more than {MAX_DEPTH} levels deep.", where, "nested_too_deeply")


def _too_deep(v: object, where: str, level: int) -> str | None:
    if level > MAX_DEPTH:
        return where
    items = v.items() if type(v) is dict else enumerate(v) if type(v) is list else ()
    for k, x in items:
        if type(x) is dict or type(x) is list:
            found = _too_deep(x, f"{where}[{k}]" if type(k) is int else f"{where}.{k}" if where else k, level + 1)
            if found is not None:
                return found
    return None


def fields(body: dict, checks: dict[str, Callable[[object, str], object]], prefix: str = "") -> None:
    """Check each known field that is present and not null; others pass through."""
    for key, value in body.items():
        check = checks.get(key)
        if check is not None and value is not None:
            check(value, prefix + key)


# -- message content --------------------------------------------------------------------------


def need(d: dict, key: str, prefix: str, check: Callable[[object, str], object]):
    """A required field: missing is `missing_required_parameter`, any wrong value (null too) the check's."""
    where = f"{prefix}.{key}" if prefix else key
    if key not in d:
        raise missing(where)
    return check(d[key], where)


def _part_text(p: dict, param: str) -> None:
    need(p, "text", param, string)


def _part_image(p: dict, param: str) -> None:
    image = need(p, "image_url", param, obj)
    need(image, "url", f"{param}.image_url", string)
    if image.get("detail") is not None:
        one_of(image["detail"], ("auto", "low", "high"), f"{param}.image_url.detail")


def _part_audio(p: dict, param: str) -> None:
    audio = need(p, "input_audio", param, obj)
    need(audio, "data", f"{param}.input_audio", string)
    need(audio, "format", f"{param}.input_audio", lambda v, w: one_of(v, ("wav", "mp3"), w))


def _part_file(p: dict, param: str) -> None:
    file = need(p, "file", param, obj)
    fields(file, {"file_data": string, "file_id": string, "filename": string}, f"{param}.file.")


def _part_refusal(p: dict, param: str) -> None:
    need(p, "refusal", param, string)


PARTS = {"text": _part_text, "image_url": _part_image, "input_audio": _part_audio, "file": _part_file,
         "refusal": _part_refusal}  # fmt: skip
PARTS_OF = {
    "system": ("text",), "developer": ("text",), "tool": ("text",),
    "user": ("text", "image_url", "input_audio", "file"), "assistant": ("text", "refusal"),
}  # fmt: skip


def content(v: object, role: str, param: str) -> None:
    if isinstance(v, str):
        return
    if not isinstance(v, list):
        raise wrong_type(param, "one of a string or array of objects", v)
    array(v, param, min_len=1)
    allowed = PARTS_OF[role]
    for j, part in enumerate(v):
        where = f"{param}[{j}]"
        kind = need(obj(part, where), "type", where, lambda t, w: one_of(t, allowed, w))
        PARTS[kind](part, where)


# -- messages -------------------------------------------------------------------------------------

ROLES = ("system", "assistant", "user", "function", "tool", "developer")


def _tool_call(v: object, param: str) -> None:
    kind = need(obj(v, param), "type", param, lambda t, w: one_of(t, ("function", "custom"), w))
    need(v, "id", param, string)
    inner = need(v, kind, param, obj)
    need(inner, "name", f"{param}.{kind}", string)
    need(inner, "arguments" if kind == "function" else "input", f"{param}.{kind}", string)


def message(m: object, param: str) -> None:
    role = need(obj(m, param), "role", param, lambda r, w: one_of(r, ROLES, w))
    if m.get("name") is not None:
        string(m["name"], f"{param}.name")
    has = m.get("content")
    if role == "assistant":
        calls = m.get("tool_calls")
        if calls is not None:
            for k, call in enumerate(array(calls, f"{param}.tool_calls")):
                _tool_call(call, f"{param}.tool_calls[{k}]")
        if m.get("refusal") is not None:
            string(m["refusal"], f"{param}.refusal")
        if has is None and not calls and m.get("function_call") is None and m.get("refusal") is None:
            raise missing(f"{param}.content")
        if has is not None:
            content(has, role, f"{param}.content")
    elif role == "function":
        need(m, "name", param, string)
        if has is not None:
            string(has, f"{param}.content")
    else:
        need(m, "content", param, lambda c, w: content(c, role, w))
        if role == "tool":
            need(m, "tool_call_id", param, string)


PLAIN = frozenset({"system", "developer", "user", "assistant"})


def messages(v: object, param: str) -> None:
    for i, m in enumerate(array(v, param, min_len=1)):
        # the common message, {"role": ..., "content": "text"}, without building a single path
        if type(m) is dict and len(m) == 2 and type(m.get("content")) is str and m.get("role") in PLAIN:
            continue
        message(m, f"{param}[{i}]")


# -- tools and formats ---------------------------------------------------------------------------


def function_spec(v: object, param: str) -> None:
    need(obj(v, param), "name", param, name)
    fields(v, {"description": string, "parameters": obj, "strict": boolean}, f"{param}.")


def tool(v: object, param: str) -> None:
    kind = need(obj(v, param), "type", param, lambda t, w: one_of(t, ("function", "custom"), w))
    if kind == "function":
        need(v, "function", param, function_spec)
    else:
        need(need(v, "custom", param, obj), "name", f"{param}.custom", name)


def tools(v: object, param: str) -> None:
    for i, t in enumerate(array(v, param, max_len=128)):
        tool(t, f"{param}[{i}]")


def tool_choice(v: object, param: str) -> None:
    if isinstance(v, str):
        one_of(v, ("none", "auto", "required"), param)
        return
    kind = need(obj(v, param), "type", param, lambda t, w: one_of(t, ("function", "custom", "allowed_tools"), w))
    inner = need(v, kind, param, obj)
    if kind == "allowed_tools":
        need(inner, "mode", f"{param}.allowed_tools", lambda m, w: one_of(m, ("auto", "required"), w))
        need(inner, "tools", f"{param}.allowed_tools", array)
    else:
        need(inner, "name", f"{param}.{kind}", string)


def json_schema(v: object, param: str) -> None:
    need(obj(v, param), "name", param, name)
    fields(v, {"description": string, "schema": obj, "strict": boolean}, f"{param}.")


def response_format(v: object, param: str) -> None:
    kind = need(obj(v, param), "type", param, lambda t, w: one_of(t, ("text", "json_object", "json_schema"), w))
    if kind == "json_schema":
        need(v, "json_schema", param, json_schema)


def stop(v: object, param: str) -> None:
    if isinstance(v, str):
        return
    for i, s in enumerate(array(v, param, max_len=4)):
        string(s, f"{param}[{i}]")


def metadata(v: object, param: str) -> None:
    if len(obj(v, param)) > 16:
        raise Invalid(f"Invalid '{param}': too many properties. Expected at most 16.", param)
    for key, value in v.items():
        if len(key) > 64:
            raise Invalid(f"Invalid '{param}': a key is longer than 64 characters.", f"{param}.{key[:64]}")
        string(value, f"{param}.{key}")
        if len(value) > 512:
            raise Invalid(f"Invalid '{param}.{key}': string longer than 512 characters.", f"{param}.{key}")


def logit_bias(v: object, param: str) -> None:
    for key, value in obj(v, param).items():
        if not (key.isascii() and key.isdigit() and len(key) <= 9):
            raise Invalid(f"Invalid key in '{param}': {key[:50]!r}. Expected a token ID as the key.", param)
        number(value, f"{param}.{key}", -100, 100)


def function_call(v: object, param: str) -> None:
    if isinstance(v, str):
        one_of(v, ("none", "auto"), param)
    else:
        need(obj(v, param), "name", param, string)


def stream_options(v: object, param: str) -> None:
    fields(obj(v, param), {"include_usage": boolean, "include_obfuscation": boolean}, f"{param}.")


def _range(lo: float, hi: float) -> Callable[[object, str], float]:
    return lambda v, param: number(v, param, lo, hi)


def _int(lo: int, hi: int = MAX_INT) -> Callable[[object, str], int]:
    return lambda v, param: integer(v, param, lo, hi)


def _enum(*allowed: str) -> Callable[[object, str], str]:
    return lambda v, param: one_of(v, allowed, param)


CHAT = {  # model and messages: checked first, as required
    "temperature": _range(0, 2), "top_p": _range(0, 1),
    "frequency_penalty": _range(-2, 2), "presence_penalty": _range(-2, 2),
    "max_tokens": _int(1), "max_completion_tokens": _int(1), "n": _int(1, 128),
    "seed": _int(-(2**63), 2**63 - 1), "logprobs": boolean, "top_logprobs": _int(0, 20), "logit_bias": logit_bias,
    "stop": stop, "stream": boolean, "stream_options": stream_options,
    "tools": tools, "tool_choice": tool_choice, "parallel_tool_calls": boolean,
    "functions": lambda v, p: [function_spec(f, f"{p}[{i}]") for i, f in enumerate(array(v, p, 1, 128))],
    "function_call": function_call, "response_format": response_format,
    "user": string, "metadata": metadata, "store": boolean, "prompt_cache_key": string, "safety_identifier": string,
    "service_tier": string, "reasoning_effort": _enum("none", "minimal", "low", "medium", "high", "xhigh"),
    "verbosity": _enum("low", "medium", "high"), "modalities": lambda v, p: [
        one_of(m, ("text", "audio"), f"{p}[{i}]") for i, m in enumerate(array(v, p))],
    "audio": obj, "prediction": obj, "web_search_options": obj,
}  # fmt: skip


def chat_request(body: object) -> dict:
    """The body if OpenAI's chat completions schema takes it; raises Invalid naming the field."""
    if not isinstance(body, dict):
        raise Invalid(f"The request body must be a JSON object, not {_kind(body)}.", None, "invalid_type")
    need(body, "model", "", string)
    need(body, "messages", "", messages)
    fields(body, CHAT)
    if body.get("stream_options") is not None and not body.get("stream"):
        raise Invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    depth(body)
    return body


EMBEDDINGS = {
    "encoding_format": _enum("float", "base64"), "dimensions": _int(1), "user": string,
}  # fmt: skip


def _token_ids(x: object) -> bool:
    return isinstance(x, list) and bool(x) and all(isinstance(t, int) and not isinstance(t, bool) for t in x)


def embeddings_input(v: object, param: str) -> None:
    """A string, or an array (of strings, of token ids, or of arrays of token ids: all of one
    kind, the first item's)."""
    if isinstance(v, str):
        return
    array(v, param, min_len=1, max_len=2048)
    first = v[0]
    if isinstance(first, str):
        kind, ok = "a string", lambda x: isinstance(x, str)
    elif isinstance(first, int) and not isinstance(first, bool):
        kind, ok = "an integer (a token id)", lambda x: isinstance(x, int) and not isinstance(x, bool)
    else:
        kind, ok = "a non-empty array of integers (token ids)", _token_ids
    for i, x in enumerate(v):
        if not ok(x):
            raise wrong_type(f"{param}[{i}]", kind, x)


def embeddings_request(body: object) -> dict:
    if not isinstance(body, dict):
        raise Invalid(f"The request body must be a JSON object, not {_kind(body)}.", None, "invalid_type")
    need(body, "model", "", string)
    need(body, "input", "", embeddings_input)
    fields(body, EMBEDDINGS)
    depth(body)
    return body
