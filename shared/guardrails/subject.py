"""What a policy checks: texts a model saw (inputs), texts it wrote (outputs), and its
structured output. An enrichment result, a gateway request and a gateway response are
all subjects, so the gateway and the stream share every check.

Checks that edit (redact, drop a tag) edit the subject in place; the engine then
builds what is published from the edited subject, never from the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from schemas import EnrichmentResult

SubjectKind = Literal["enrichment_result", "gateway_request", "gateway_response"]
Side = Literal["inputs", "outputs"]


@dataclass
class Subject:
    id: str
    kind: SubjectKind = "enrichment_result"
    inputs: dict[str, str] = field(default_factory=dict)  # e.g. item_text (merchant-written), a prompt
    outputs: dict[str, str] = field(default_factory=dict)  # e.g. raw_output, a completion
    output: object = None  # parsed structured output (the tag object); None when there is none
    use_case: str | None = None
    team: str | None = None
    # what the PII check redacted: (side, name, start, end, type, score), offsets in the text as it came;
    # never published (values stay out of verdicts), read by `ladle guardrails redact` and the evaluation
    redactions: list[tuple[str, str, int, int, str, float]] = field(default_factory=list)

    def texts(self, sides: tuple[Side, ...] | list[Side]) -> list[tuple[Side, str, str]]:
        """(side, name, text) for every non-empty text on the given sides."""
        out = []
        for side in sides:
            for name, text in getattr(self, side).items():
                if text:
                    out.append((side, name, text))
        return out

    def set_text(self, side: Side, name: str, text: str) -> None:
        getattr(self, side)[name] = text

    @classmethod
    def of_result(cls, r: EnrichmentResult) -> Subject:
        return cls(
            id=r.event_id,
            inputs={"item_text": r.item_text},
            outputs={"raw_output": r.raw_output},
            output=_copy(r.output),
            use_case=r.task,
        )

    @classmethod
    def of_text(cls, text: str, kind: SubjectKind = "gateway_request", use_case: str | None = None) -> Subject:
        """A lone text: a request's prompt is an input, a response's completion an output."""
        from schemas import stable_id

        side = "inputs" if kind == "gateway_request" else "outputs"
        s = cls(id=stable_id("guardrails.text", kind, text), kind=kind, use_case=use_case)
        getattr(s, side)["text"] = text
        return s

    def apply_to(self, r: EnrichmentResult) -> EnrichmentResult:
        """The result as it may be published: every text and the output as the checks left them."""
        return r.model_copy(
            update={
                "item_text": self.inputs.get("item_text", ""),
                "raw_output": self.outputs.get("raw_output", ""),
                "output": self.output if isinstance(self.output, dict) else {},
            }
        )


def _copy(value: object) -> object:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
