"""Profanity and toxicity: alt-profanity-check, a linear SVM over TF-IDF features trained
on human-labelled comments, shipped inside its PyPI package (nothing downloads).

Scored per text (probability of offensive); the subject's score is its worst text.
The threshold was set on the dev split of deploy/guardrails/devset.jsonl.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from schemas import CheckOutcome
from shared.guardrails import context
from shared.guardrails.checks.base import BaseCheck, spread_latency
from shared.guardrails.checks.config import CheckConfig
from shared.guardrails.subject import Subject


class ToxicityConfig(CheckConfig):
    check: Literal["toxicity"]
    action: Literal["review", "reject"] = "reject"
    threshold: float = Field(
        default=0.8, ge=0, le=1, description="Flag at or above this profanity probability (with a model too)."
    )
    allow: tuple[str, ...] = Field(
        default=(), description="Phrases removed before scoring: real dish names a word model misreads (Spotted Dick)."
    )
    model: str | None = Field(
        default=None,
        description="A trained detector (deploy/guardrails/models/toxicity.npz): logistic regression over the MiniLM "
        "embedding plus the profanity model's probability; then `threshold` is ignored for `model_threshold`.",
    )
    model_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Flag at or above this probability; default: the artifact's (set by CV)."
    )


class ToxicityCheck(BaseCheck):
    name = "toxicity"
    stage = 45

    def __init__(self, config: ToxicityConfig, ctx=None) -> None:
        super().__init__(config, ctx)
        self.model = context.profanity_model()
        words = sorted(config.allow, key=len, reverse=True)
        self.allow = re.compile("|".join(re.escape(w) for w in words), re.I) if words else None
        self.learned = None
        if config.model:
            from shared.guardrails import learned

            self.learned, self.cut = learned.load_for_check(config.model, config.model_threshold)

    def run_many(self, subjects: Sequence[Subject]) -> list[CheckOutcome]:
        t0 = time.perf_counter()
        jobs = self.text_jobs(subjects)
        texts = [self.allow.sub(" ", t) if self.allow else t for _, _, t in jobs]
        probs = [float(p) for p in self.model.predict_prob(texts)] if jobs else []
        profane = [p >= self.config.threshold for p in probs]
        cut = self.config.threshold
        if self.learned is not None and jobs:
            from shared.guardrails import learned

            probs = [float(p) for p in self.learned.prob(learned.toxicity_features([t for *_, t in jobs], probs))]
            cut = self.cut
        flagged = [p >= cut or bad for p, bad in zip(probs, profane, strict=True)]
        outcomes = self.per_subject(len(subjects), jobs, probs, flagged, "offensive language")
        spread_latency(outcomes, time.perf_counter() - t0)
        return outcomes
