"""A classical-ML guard on the LLM: the item's text and each tag's description are
embedded (sentence-transformers, offline MiniLM) and a tag whose description is not
similar enough to the item is flagged.

``metric: similarity`` flags a tag when cos(item, tag) < ``threshold``; ``metric:
margin`` flags it when the best value of the same field beats it by more than
``threshold`` (a relative test: robust to items whose text is short or generic).
The score is the worst tag's measure, so thresholds can be tuned on it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from schemas import CheckOutcome
from shared.encoder import shared_encoder
from shared.guardrails.checks.base import BaseCheck, spread_latency
from shared.guardrails.checks.config import CheckConfig
from shared.guardrails.subject import Subject


class ConsistencyConfig(CheckConfig):
    check: Literal["consistency"]
    action: Literal["drop_tag", "review", "reject"] = "review"
    scope: tuple[Literal["inputs"], ...] = ("inputs",)
    model: str = Field(default="all-minilm-l6-v2", description="A sentence-transformers path or the bundled MiniLM.")
    metric: Literal["similarity", "margin"] = "margin"
    threshold: float = Field(default=0.2, description="similarity: flag below it; margin: flag above it.")
    fields: tuple[str, ...] = ("cuisine", "dish_type")
    max_tokens: int = Field(
        default=128, ge=8, le=512, description="Longer texts are cut: the item is in its first words (p90 is ~45)."
    )


class ConsistencyCheck(BaseCheck):
    name = "consistency"
    stage = 30

    def __init__(self, config: ConsistencyConfig, ctx=None) -> None:
        super().__init__(config, ctx)
        tax = ctx.require_taxonomy(self.name)
        self.encoder = shared_encoder(config.model)
        self.max_tokens = config.max_tokens
        # field -> (values, their description embeddings)
        self.described: dict[str, tuple[list[str], np.ndarray]] = {}
        for f in config.fields:
            desc = tax.descriptions.get(f, {})
            if desc:
                values = sorted(desc)
                self.described[f] = (values, self._encode([desc[v] for v in values]))

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.encoder.encode(texts, max_tokens=self.max_tokens)

    def run_many(self, subjects: Sequence[Subject]) -> list[CheckOutcome]:
        t0 = time.perf_counter()
        todo = [i for i, s in enumerate(subjects) if self._tags(s)]
        outcomes = [self.passed(None, "nothing to compare") for _ in subjects]
        if todo:
            texts = [" ".join(t for _, _, t in subjects[i].texts(self.config.scope))[:2000] for i in todo]
            vectors = self._encode(texts)
            for i, vec in zip(todo, vectors, strict=True):
                outcomes[i] = self._judge(subjects[i], vec)
        spread_latency(outcomes, time.perf_counter() - t0)
        return outcomes

    def _tags(self, s: Subject) -> list[tuple[str, str]]:
        out = s.output
        if not isinstance(out, dict) or not s.texts(self.config.scope):
            return []
        tags = []
        for f, (values, _) in self.described.items():
            v = out.get(f)
            for tag in v if isinstance(v, list) else [v]:
                if isinstance(tag, str) and tag in values:
                    tags.append((f, tag))
        return tags

    def _judge(self, s: Subject, vec: np.ndarray) -> CheckOutcome:
        c: ConsistencyConfig = self.config
        flagged: list[tuple[str, str, float]] = []
        worst = None
        for f, tag in self._tags(s):
            values, emb = self.described[f]
            sims = emb @ vec
            sim = float(sims[values.index(tag)])
            measure = sim if c.metric == "similarity" else float(sims.max()) - sim
            bad = measure < c.threshold if c.metric == "similarity" else measure > c.threshold
            if worst is None or (measure < worst if c.metric == "similarity" else measure > worst):
                worst = measure
            if bad:
                flagged.append((f, tag, measure))
        if not flagged:
            return self.passed(_round(worst))
        if self.action == "drop_tag":
            for f, tag, _ in flagged:
                v = s.output.get(f)
                s.output[f] = [x for x in v if x != tag] if isinstance(v, list) else None
        shown = ", ".join(f"{f}={t} ({c.metric} {m:.2f})" for f, t, m in flagged)
        verb = "dropped" if self.action == "drop_tag" else "flagged"
        return self.failed(_round(worst), f"{verb} {len(flagged)} tag(s) unlike the item: {shown}")


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
