"""Chat-format training files (OpenAI's fine-tuning format, what `POST /v1/files` with purpose
`fine-tune` takes and `ladle finetune create --training-file` reads): one JSON object a line with
``messages``, a list of {role, content} ending with the assistant's answer."""

from __future__ import annotations

import json
from dataclasses import dataclass

Example = dict  # {"messages": [{"role": ..., "content": ...}, ...]}


@dataclass
class BadLine:
    line: int
    why: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.why}"


def parse_jsonl(data: bytes) -> tuple[list[Example], list[BadLine]]:
    """Chat-format JSONL (OpenAI's fine-tuning format): every line an object with ``messages``, a list
    of {role, content} ending with the assistant's answer. Blank lines are skipped."""
    rows: list[Example] = []
    bad: list[BadLine] = []
    for n, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            bad.append(BadLine(n, f"not JSON ({exc.msg} at column {exc.colno})"))
            continue
        except ValueError:  # not UTF-8
            bad.append(BadLine(n, "not UTF-8 text"))
            continue
        why = _bad_example(obj)
        if why:
            bad.append(BadLine(n, why))
        else:
            rows.append({"messages": [{"role": m["role"], "content": m["content"]} for m in obj["messages"]]})
    return rows, bad


def _bad_example(obj: object) -> str | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list) or not obj["messages"]:
        return "needs a non-empty `messages` list"
    for i, m in enumerate(obj["messages"]):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            return f"message {i}: role must be system, user or assistant"
        if not isinstance(m.get("content"), str):
            return f"message {i}: content must be a string"
    if obj["messages"][-1]["role"] != "assistant":
        return "the last message must be the assistant's answer"
    if not any(m["role"] == "user" for m in obj["messages"]):
        return "no user message"
    return None
