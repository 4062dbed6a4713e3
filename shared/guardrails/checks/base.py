"""The check protocol and what every check shares.

A check is small and configured from its policy entry: ``name``, ``run(subject) ->
CheckOutcome`` and ``run_many`` (checks backed by a model batch their inputs there).
A check that finds something returns ``passed=False`` with its configured action;
redacting and tag-dropping checks also edit the subject. Details never quote the
text they flagged: verdicts are published and land in ClickHouse.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar, Protocol, runtime_checkable

from schemas import CheckOutcome
from shared.guardrails.subject import Subject


@runtime_checkable
class Check(Protocol):
    name: str

    def run(self, subject: Subject) -> CheckOutcome: ...

    def run_many(self, subjects: Sequence[Subject]) -> list[CheckOutcome]: ...


class BaseCheck:
    """Default plumbing: ``run_many`` loops, ``timed`` stamps latency on an outcome."""

    name: ClassVar[str] = "check"
    stage: ClassVar[int] = 50  # lower runs first: limits, then redaction, then everything that may quote text

    def __init__(self, config, ctx=None) -> None:
        self.config = config
        self.action = config.action
        self.ctx = ctx  # shared.guardrails.context.Context: the taxonomy and the shared models

    def run(self, subject: Subject) -> CheckOutcome:
        return self.run_many([subject])[0]

    def run_many(self, subjects: Sequence[Subject]) -> list[CheckOutcome]:
        out = []
        for s in subjects:
            t0 = time.perf_counter()
            o = self.check(s)
            o.__dict__["latency_ms"] = (time.perf_counter() - t0) * 1000  # skips pydantic's setattr
            out.append(o)
        return out

    def check(self, subject: Subject) -> CheckOutcome:  # pragma: no cover - every check overrides
        raise NotImplementedError

    # (pydantic's model_construct is twice as slow as validating these six plain fields)
    def passed(self, score: float | None = None, detail: str = "") -> CheckOutcome:
        return CheckOutcome(check=self.name, passed=True, score=score, action="accept", detail=detail)

    def failed(self, score: float | None = None, detail: str = "") -> CheckOutcome:
        return CheckOutcome(check=self.name, passed=False, score=score, action=self.action, detail=detail[:500])

    def text_jobs(self, subjects: Sequence[Subject]) -> list[tuple[int, str, str]]:
        """(subject index, text name, text) for every text of the batch in the check's scope."""
        return [(i, name, text) for i, s in enumerate(subjects) for _, name, text in s.texts(self.config.scope)]

    def per_subject(
        self,
        n: int,
        jobs: list[tuple[int, str, str]],
        scores: Sequence[float],
        flagged: Sequence[bool],
        what: str,
        suffix: str = "",
    ) -> list[CheckOutcome]:
        """A batch's per-text scores folded per subject: the highest score, failed when any text is flagged,
        with the flagged texts' names in the detail ("WHAT in name, nameSUFFIX")."""
        best = [0.0] * n
        where: list[list[str]] = [[] for _ in range(n)]
        for (i, name, _), p, bad in zip(jobs, scores, flagged, strict=True):
            best[i] = max(best[i], float(p))
            if bad:
                where[i].append(name)
        return [
            self.failed(round(best[i], 4), f"{what} in {', '.join(where[i])}{suffix}")
            if where[i]
            else self.passed(round(best[i], 4))
            for i in range(n)
        ]


def spread_latency(outcomes: list[CheckOutcome], seconds: float) -> None:
    """A batched model call's time, shared evenly by the subjects of the batch."""
    per = seconds * 1000 / max(len(outcomes), 1)
    for o in outcomes:
        o.__dict__["latency_ms"] = o.latency_ms + per
