"""Size and encoding limits: long texts, control characters, invisible and bidi-override
characters (a classic way to hide instructions from a reviewer), lone surrogates.

A text over ``max_chars`` is cut to that length in the subject, so later checks and
whatever is published stay bounded even when the verdict is reject.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import Field

from schemas import CheckOutcome
from shared.guardrails.checks.base import BaseCheck
from shared.guardrails.checks.config import CheckConfig
from shared.guardrails.subject import Subject

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# zero-width, word joiner, bidi embeddings/overrides/isolates, BOM, tag characters
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class SizeConfig(CheckConfig):
    check: Literal["size"]
    action: Literal["reject", "review"] = "reject"
    max_chars: int = Field(default=8000, ge=1, description="Per text; longer texts are cut to this for later checks.")
    max_output_bytes: int = Field(default=4096, ge=1, description="The structured output as JSON.")
    max_tags: int = Field(default=32, ge=1, description="Tag values in the structured output, all fields together.")
    forbid_control: bool = True
    forbid_invisible: bool = True


class SizeCheck(BaseCheck):
    name = "size"
    stage = 0

    def check(self, subject: Subject) -> CheckOutcome:
        c: SizeConfig = self.config
        problems: list[str] = []
        worst = 0.0
        for side, name, text in subject.texts(c.scope):
            if len(text) > c.max_chars:
                problems.append(f"{name}: {len(text)} chars > {c.max_chars}")
                worst = max(worst, len(text) / c.max_chars)
                text = text[: c.max_chars]
                subject.set_text(side, name, text)
            if _SURROGATE.search(text):
                problems.append(f"{name}: invalid unicode (lone surrogate)")
                subject.set_text(side, name, _SURROGATE.sub("\ufffd", text))
            if c.forbid_control and _CONTROL.search(text):
                problems.append(f"{name}: {len(_CONTROL.findall(text))} control characters")
            if c.forbid_invisible and _INVISIBLE.search(text):
                problems.append(f"{name}: {len(_INVISIBLE.findall(text))} invisible or bidi characters")
        if subject.output is not None and "outputs" in c.scope:
            size = _output_bytes(subject.output, c.max_output_bytes)
            if size > c.max_output_bytes:
                problems.append(f"output: {size} bytes > {c.max_output_bytes}")
                worst = max(worst, size / c.max_output_bytes)
            tags = _count_tags(subject.output)
            if tags > c.max_tags:
                problems.append(f"output: {tags} tags > {c.max_tags}")
        if problems:
            return self.failed(score=max(worst, 1.0), detail="; ".join(problems))
        return self.passed(score=0.0)


def _output_bytes(output: object, limit: int) -> int:
    return len(json.dumps(output, ensure_ascii=False, default=str).encode("utf-8", "replace"))


def _count_tags(output: object) -> int:
    if isinstance(output, dict):
        return sum(len(v) if isinstance(v, list) else 1 for v in output.values())
    return len(output) if isinstance(output, list) else 1
