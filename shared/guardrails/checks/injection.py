"""Prompt-injection detection on inputs: merchant-written item text (or a gateway prompt)
that carries instructions aimed at the model.

Weighted patterns over a normalised text (NFKC, invisible characters removed, case
and spacing folded), combined as a noisy-or: score = 1 - prod(1 - w). One strong
signal (``ignore previous instructions``) is enough; weak ones (``respond with``)
only count together. Weights and the threshold were set on the dev split of
deploy/guardrails/devset.jsonl.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from schemas import CheckOutcome
from shared.guardrails.checks.base import BaseCheck, spread_latency
from shared.guardrails.checks.config import CheckConfig
from shared.guardrails.subject import Subject

_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_SPACE = re.compile(r"\s+")
_OBJ = r"(?:instructions?|prompts?|rules|directions|guidelines|context|messages?|text)"
_BEFORE = r"(?:previous|prior|above|earlier|preceding|foregoing|system|original|all|any|your|the|these)"

# (name, weight, pattern) over the normalised text
PATTERNS: list[tuple[str, float, re.Pattern]] = [
    (name, w, re.compile(p))
    for name, w, p in [
        ("ignore_instructions", 0.95, rf"\b(?:ignore|disregard|forget|skip|override|bypass)\b(?:\s+\w+){{0,3}}\s+{_BEFORE}\s+(?:\w+\s+)?{_OBJ}"),
        ("forget_everything", 0.8, r"\b(?:forget|disregard|ignore) (?:everything|all of (?:it|that|the above)|what you were told)"),
        ("new_instructions", 0.8, r"\b(?:new|updated|real|actual|hidden|secret) (?:instructions?|task|system prompt|orders)\b"),
        ("role_marker", 0.85, r"(?:<\|?(?:im_start|im_end|system|assistant|user|endoftext)\|?>|\[/?inst\]|<<sys>>|^#{2,}\s*(?:system|instruction)|(?:^|\n|\. )(?:system|assistant)\s*:)"),
        ("address_the_model", 0.85, r"\b(?:note|message|instructions?) (?:to|for) (?:the |any )?(?:ai|llm|assistant|model|bot|gpt|chatgpt|language model)\b"),
        ("model_must", 0.7, r"\b(?:ai|llm|assistant|model|bot|gpt|tagger|classifier)s?(?: reading this)?,? (?:must|should|shall|will|needs? to|has to)\b"),
        ("you_are_now", 0.7, r"\byou are (?:now|no longer)\b|\bfrom now on\b|\bact as (?:an? )?(?:unfiltered|different|new|dan|evil|admin)|\bpretend (?:to be|you are)\b"),
        ("reveal_prompt", 0.9, r"\b(?:reveal|print|show|repeat|output|leak|display)\b(?:\s+\w+){0,2}\s+(?:system prompt|(?:your|the) (?:instructions|prompt|rules))"),
        ("jailbreak", 0.8, r"\b(?:jailbreak|developer mode|dan mode|do anything now|god mode)\b"),
        ("set_tag", 0.8, r"\b(?:set|change|make|force) (?:the )?(?:cuisine|dish_?type|dietary|allergens?|flavou?r|tags?|category|label)s? (?:to|=|as)\b"),
        ("tag_as", 0.55, r"\b(?:tag|label|classify|categori[sz]e|mark)(?:ed)? (?:this|it|the item|this item|this dish|this product) as\b"),
        ("output_only", 0.45, r"\b(?:respond|reply|answer|output|return|print|say)\b(?:\s+\w+){0,2}\s+(?:only|just|exactly)\b|\b(?:only|just) (?:respond|reply|output|return|say)\b"),
        ("json_payload", 0.6, r"\{\s*\"(?:cuisine|dish_type|dietary|allergens|flavou?r|tags)\"\s*:"),
        ("instead", 0.35, r"\binstead,? (?:you |please )?(?:output|say|respond|return|write|tag|label)\b"),
        ("do_not_follow", 0.6, r"\b(?:do not|don't|never) (?:follow|obey|apply|use) (?:the|your|any|previous)\b"),
        ("as_an_ai", 0.4, r"\bas an? (?:ai|language model|llm)\b"),
        ("admin_claim", 0.45, r"\b(?:i am|this is) (?:the|an?|your) (?:admin|administrator|developer|operator|system)\b|\bauthori[sz]ed (?:override|request)\b"),
    ]
]  # fmt: skip


# Words (or characters) without which a pattern cannot match: a text is split into words
# once and only the patterns whose anchors it contains are searched (most menu text: none).
_ANCHORS: dict[str, set[str]] = {
    "ignore_instructions": {"ignore", "disregard", "forget", "skip", "override", "bypass"},
    "forget_everything": {"forget", "disregard", "ignore"},
    "new_instructions": {"instruction", "instructions", "task", "prompt", "orders"},
    "role_marker": {"system", "assistant", "<", "[", "#"},
    "address_the_model": {"note", "message", "instruction", "instructions"},
    "model_must": {"ai", "llm", "assistant", "model", "bot", "gpt", "tagger", "classifier", "ais", "llms", "models", "bots"},
    "you_are_now": {"you", "now", "act", "pretend"},
    "reveal_prompt": {"reveal", "print", "show", "repeat", "output", "leak", "display"},
    "jailbreak": {"jailbreak", "developer", "dan", "anything", "god"},
    "set_tag": {"set", "change", "make", "force"},
    "tag_as": {"tag", "label", "classify", "categorise", "categorize", "mark", "tagged", "labeled", "labelled",
               "classified", "categorised", "categorized", "marked"},
    "output_only": {"only", "just", "exactly"},
    "json_payload": {"{"},
    "instead": {"instead"},
    "do_not_follow": {"not", "don", "never"},
    "as_an_ai": {"ai", "llm", "language"},
    "admin_claim": {"admin", "administrator", "developer", "operator", "system", "authorized", "authorised"},
}  # fmt: skip
_WORDS = re.compile(r"[a-z]+|[<\[#{]")
assert set(_ANCHORS) == {name for name, _, _ in PATTERNS}


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text).lower()
    return _SPACE.sub(" ", text.replace("\r", "\n")).strip()


def score(text: str) -> tuple[float, list[str]]:
    t = normalise(text)
    words = set(_WORDS.findall(t))
    hits = [(name, w) for name, w, p in PATTERNS if not words.isdisjoint(_ANCHORS[name]) and p.search(t)]
    rest = 1.0
    for _, w in hits:
        rest *= 1.0 - w
    return 1.0 - rest, [n for n, _ in hits]


class InjectionConfig(CheckConfig):
    check: Literal["injection"]
    action: Literal["review", "reject"] = "review"
    scope: tuple[Literal["inputs", "outputs"], ...] = ("inputs",)
    threshold: float = Field(
        default=0.5, ge=0, le=1, description="Flag at or above this noisy-or score (with a model too: either fires)."
    )
    model: str | None = Field(
        default=None,
        description="A trained detector (deploy/guardrails/models/injection.npz): logistic regression over the "
        "MiniLM embedding plus these patterns' hits; it flags at `model_threshold`, the patterns still at `threshold`.",
    )
    model_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Flag at or above this probability; default: the artifact's (set by CV)."
    )


class InjectionCheck(BaseCheck):
    name = "injection"
    stage = 40

    def __init__(self, config: InjectionConfig, ctx=None) -> None:
        super().__init__(config, ctx)
        self.model = None
        if config.model:
            from shared.guardrails import learned

            self.model, self.cut = learned.load_for_check(config.model, config.model_threshold)

    def run_many(self, subjects: Sequence[Subject]) -> list[CheckOutcome]:
        if self.model is None:
            return super().run_many(subjects)
        from shared.guardrails import learned

        t0 = time.perf_counter()
        jobs = self.text_jobs(subjects)
        x = learned.injection_features([t for *_, t in jobs]) if jobs else None
        probs = self.model.prob(x) if jobs else []
        patterns = x[:, self.model.features.index("pattern:noisy_or")] if jobs else []
        flagged = [p >= self.cut or ps >= self.config.threshold for p, ps in zip(probs, patterns, strict=True)]
        outcomes = self.per_subject(len(subjects), jobs, probs, flagged, "instructions aimed at the model", " (model)")
        spread_latency(outcomes, time.perf_counter() - t0)
        return outcomes

    def check(self, subject: Subject) -> CheckOutcome:
        best, where, signals = 0.0, [], set()
        for _, name, text in subject.texts(self.config.scope):
            s, hits = score(text)
            if s >= self.config.threshold:
                where.append(name)
                signals.update(hits)
            best = max(best, s)
        if where:
            return self.failed(
                round(best, 4), f"instructions aimed at the model in {', '.join(where)}: {', '.join(sorted(signals))}"
            )
        return self.passed(round(best, 4))
