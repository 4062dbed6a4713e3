"""What the tagging loop carries: one job per item, its attempts, and its outcome."""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas import CatalogChange, EnrichmentResult, LLMCall
from shared.taxonomy import Taxonomy
from workers.enricher.engines.base import EngineRequest, EngineResult


class EngineError(Exception):
    """Every attempt at one item failed in the engine (not in the output)."""


@dataclass(slots=True)
class Attempt:
    request: EngineRequest
    result: EngineResult
    problem: str | None  # why it was not accepted; None: it was


@dataclass(slots=True)
class Screened:
    """What a cascade settled before the engine: the fields it is sure of, and what is left to ask."""

    answers: dict  # field -> the classifier's answer, for the fields it is sure of
    ask: Taxonomy | None  # the fields the engine is asked for (their taxonomy); None: nothing left
    schema: dict | None  # ask's JSON schema
    seconds: float  # the classifier's share of its batch's time


@dataclass(slots=True)
class Job:
    change: CatalogChange
    ref: object  # the Record (stream) or the row (batch) the outcome goes back to
    messages: list[dict[str, str]]
    key: str  # item + content + prompt version + model: what "already enriched" means
    item_text: str
    attempts: list[Attempt] = field(default_factory=list)
    screened: Screened | None = None  # set when a cascade answered first


@dataclass(slots=True)
class Outcome:
    job: Job
    result: EnrichmentResult  # built for failures too: its event_id is the parent of the calls' ids
    calls: list[LLMCall]
    error: Exception | None = None  # MalformedOutput or EngineError: the item is dead-lettered
    transient: bool = False  # the engine was rate-limited or unreachable: retry later, do not dead-letter

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def raw_output(self) -> str | None:
        # The model's last reply when there was one; None leaves the input's bytes in the dead letter.
        last = self.job.attempts[-1].result if self.job.attempts else None
        return last.text if last is not None and last.status == "ok" else None
