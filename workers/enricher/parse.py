"""Model output -> tags that satisfy the taxonomy, repairing what can be repaired.

Repairs: code fences and prose around the object, a trailing comma, an object cut
off by max_tokens (closed where it stopped, if what is left is still whole),
then the taxonomy's own normalisation (case, separators, duplicates). What is
still wrong raises ``MalformedOutput``; the caller retries and finally dead-letters.
"""

from __future__ import annotations

import json
import re

from shared.runtime.errors import BadMessage
from shared.taxonomy import Taxonomy

_FENCE = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.S)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_decoder = json.JSONDecoder()


class MalformedOutput(BadMessage):
    """The model's output is not valid tags after repairs and retries."""


def parse_output(raw: str, taxonomy: Taxonomy) -> dict:
    try:
        data = extract_json(raw)
    except ValueError as exc:
        raise MalformedOutput(f"not JSON: {exc}") from None
    try:
        return taxonomy.check(data)
    except ValueError as exc:
        raise MalformedOutput(f"breaks the taxonomy: {exc}") from None


def extract_json(raw: str) -> object:
    text = raw.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in the output" if text else "empty output")
    text = text[start:]
    for candidate in (text, _TRAILING_COMMA.sub(r"\1", text)):
        try:
            return _decoder.raw_decode(candidate)[0]  # ignores prose after the object
        except ValueError:
            continue
    closed = close_truncated(_TRAILING_COMMA.sub(r"\1", text))
    try:
        return json.loads(closed)
    except ValueError as exc:
        raise ValueError(
            f"{exc.msg} at char {exc.pos}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        ) from None


def close_truncated(text: str) -> str:
    """Close what an output cut off mid-way left open, back to its last complete value.

    A half-written value is dropped (a half-written tag is not a tag), so
    ``{"a": ["x", "y`` becomes ``{"a": ["x"]}``; a key without its value goes too.
    """
    stack: list[list] = []  # [bracket, expecting "key" or "value" (objects only)]
    safe: tuple[int, str] | None = None
    i, n = 0, len(text)

    def mark(end: int) -> None:
        nonlocal safe
        safe = (end, "".join("}" if b == "{" else "]" for b, _ in reversed(stack)))

    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif ch in "{[":
            stack.append([ch, "key" if ch == "{" else None])
            i += 1
            mark(i)
        elif ch in "}]":
            if stack:
                stack.pop()
            i += 1
            mark(i)
        elif ch in ",:":
            if stack and stack[-1][0] == "{":
                stack[-1][1] = "key" if ch == "," else "value"
            i += 1
        elif ch == '"':
            end = _string_end(text, i)
            if end < 0:
                break
            is_key = bool(stack) and stack[-1][0] == "{" and stack[-1][1] == "key"
            i = end
            if not is_key:
                mark(i)
        else:
            m = _SCALAR.match(text, i)
            if not m or m.end() == n:  # a number or literal may be cut short
                break
            i = m.end()
            mark(i)
    return text if safe is None else text[: safe[0]] + safe[1]


_SCALAR = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null")


def _string_end(text: str, start: int) -> int:
    """Index after the closing quote of the string opening at ``start``, or -1 if cut off."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == '"':
            return i + 1
        else:
            i += 1
    return -1
