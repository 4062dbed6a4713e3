"""Taxonomy membership: a tag value that does not exist in the taxonomy is a hallucination.

``drop_tag`` removes it from the output (a one-value field becomes null), ``review``
or ``reject`` leave the output as it is and route the whole result.
"""

from __future__ import annotations

import re
from typing import Literal

from schemas import CheckOutcome
from shared.guardrails.checks.base import BaseCheck
from shared.guardrails.checks.config import CheckConfig
from shared.guardrails.subject import Subject

_PLAIN = re.compile(r"^[a-z0-9_\-]{1,40}$")


class TaxonomyConfig(CheckConfig):
    check: Literal["taxonomy"]
    action: Literal["drop_tag", "review", "reject"] = "drop_tag"
    scope: tuple[Literal["outputs"], ...] = ("outputs",)


class TaxonomyCheck(BaseCheck):
    name = "taxonomy"
    stage = 20

    def __init__(self, config, ctx=None) -> None:
        super().__init__(config, ctx)
        self.taxonomy = ctx.require_taxonomy(self.name)

    def check(self, subject: Subject) -> CheckOutcome:
        output = subject.output
        if not isinstance(output, dict):
            return self.passed(None, "no structured output")
        fields = self.taxonomy.fields
        bad: list[str] = []
        total = 0
        for name in list(output):
            value = output[name]
            f = fields.get(name)
            if f is None:
                continue  # an unknown field is a schema problem
            items = value if isinstance(value, list) else [value]
            kept = []
            for v in items:
                if v is None:
                    continue
                total += 1
                if isinstance(v, str) and v in f.values:
                    kept.append(v)
                else:
                    bad.append(f"{name}={_show(v)}")
            if self.action == "drop_tag" and len(kept) != sum(v is not None for v in items):
                output[name] = kept if isinstance(value, list) else (kept[0] if kept else None)
        if not bad:
            return self.passed(0.0)
        verb = "dropped" if self.action == "drop_tag" else "found"
        return self.failed(
            len(bad) / max(total, 1), f"{verb} {len(bad)} tag(s) not in the taxonomy: {', '.join(bad[:10])}"
        )


def _show(value: object) -> str:
    """A hallucinated tag as it may appear in a published detail: plain tokens only."""
    s = str(value)
    return s if _PLAIN.match(s) else f"<{type(value).__name__}:{len(s)} chars>"
