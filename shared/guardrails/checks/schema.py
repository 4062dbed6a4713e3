"""Schema validity of the output.

``taxonomy``: the structured output is an object with exactly the taxonomy's fields,
a string (or null) for a one-value field and a list of distinct strings, within
``max_items``, for a many-value field. Whether each value exists is the taxonomy
check's question, not this one's. ``json_object``: the output text parses as a JSON
object (gateway responses that promised JSON).
"""

from __future__ import annotations

import json
from typing import Literal

from schemas import CheckOutcome
from shared.guardrails.checks.base import BaseCheck
from shared.guardrails.checks.config import CheckConfig
from shared.guardrails.subject import Subject


class SchemaConfig(CheckConfig):
    check: Literal["schema"]
    action: Literal["reject", "review"] = "reject"
    mode: Literal["taxonomy", "json_object"] = "taxonomy"
    scope: tuple[Literal["outputs"], ...] = ("outputs",)


class SchemaCheck(BaseCheck):
    name = "schema"
    stage = 10

    def __init__(self, config, ctx=None) -> None:
        super().__init__(config, ctx)
        self.taxonomy = ctx.require_taxonomy(self.name) if config.mode == "taxonomy" else None

    def check(self, subject: Subject) -> CheckOutcome:
        if subject.output is None and self.taxonomy is not None:
            return self.passed(None, "no structured output")  # a free text (gateway); results always carry one
        problems = self._taxonomy(subject.output) if self.taxonomy is not None else self._json(subject)
        return self.failed(1.0, "; ".join(problems[:8])) if problems else self.passed(0.0)

    def _json(self, subject: Subject) -> list[str]:
        if isinstance(subject.output, dict):
            return []
        for _, name, text in subject.texts(["outputs"]):
            try:
                if isinstance(json.loads(text), dict):
                    continue
                return [f"{name}: JSON but not an object"]
            except ValueError:
                return [f"{name}: not JSON"]
        return []

    def _taxonomy(self, output: object) -> list[str]:
        if not isinstance(output, dict):
            return [f"output is {type(output).__name__}, expected an object"]
        if not output:
            return ["output is empty"]
        fields = self.taxonomy.fields
        problems = [f"unknown field {_name(k)}" for k in output if k not in fields]
        for name, f in fields.items():
            if name not in output:
                problems.append(f"missing field {name}")
                continue
            v = output[name]
            if f.kind == "one":
                if v is not None and not isinstance(v, str):
                    problems.append(f"{name}: expected a string, got {type(v).__name__}")
            elif not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                problems.append(f"{name}: expected a list of strings")
            elif len(set(v)) != len(v):
                problems.append(f"{name}: repeated values")
            elif f.max_items and len(v) > f.max_items:
                problems.append(f"{name}: {len(v)} values, at most {f.max_items}")
        return problems


def _name(key: object) -> str:
    """A field name as it may appear in a published detail: short and plain."""
    s = str(key)
    return repr(s[:40]) if s.isidentifier() else "(non-identifier)"
