"""The semantic cache's verifier: is the answer cached for question ``a`` right for question ``b``?

The vector lookup (MiniLM cosine) finds the closest cached questions; closeness is not sameness
("open" vs "closed", "Salesforce" vs "HubSpot", "14 days" vs "40 days" all sit at cosine ~0.9).
``Verifier.verify`` decides, in well under a millisecond, from what the cache already has: the
two texts and their cosine (no second model call):

1. the cosine must reach ``min_cosine_same`` (0.60, for step 4) or ``min_cosine`` (0.85, step 5);
2. both questions are normalised (``textnorm``) and their typos aligned; a text the normaliser
   cannot read (another script, or longer than ``MAX_WORDS``) is served only when identical;
3. deterministic guards (``guards``) reject visible changes of meaning: numbers, times, dates,
   negation, antonyms, swapped names and rare words, reversed direction, scope, question word,
   modality;
4. the same words after normalisation (case, punctuation, fillers, greetings, contractions,
   spelling, typos, word order: guards already checked direction) -> served (MiniLM puts a
   typo'd repeat as low as cosine 0.6: "passport" vs "pasport" is 0.58);
5. otherwise a small logistic-regression pair model scores the pair from the cosine, lexical
   overlap and what differs (``pair_features``); the answer is served when the score reaches
   ``threshold``, chosen on out-of-fold scores for precision >= 0.995 (see ``train``).

The model's weights, threshold and gates live in a small JSON artifact
(deploy/gateway/verifier/verifier.json) that ``train`` writes; ``Verifier.load(path)`` reads it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from services.gateway.config import VERIFIER as ARTIFACT
from shared.runtime.errors import UserError

from .guards import GUARDS, entities, name_matched, question_type, rare_word_guard, scope_words
from .textnorm import Parsed, align_typos, default_vocab, negations, parse, stem
from .words import FUNCTION_WORDS

KIND = "ladle-semantic-cache-verifier"

MIN_COVERAGE = 0.9  # below: the text is mostly in a script the normaliser does not read (it reads Latin)
MAX_WORDS = 80  # above: a long message; the guards' cost grows with length and MiniLM truncates anyway
MAX_CHARS = 1000  # above: not even parsed (and never memoised): a long message is served only when identical

parse_cached = lru_cache(maxsize=8192)(parse)  # Parsed is immutable: cached questions parse once

FEATURES: tuple[str, ...] = (
    "cosine",  # MiniLM cosine of the stored unit vectors
    "logit_cosine",  # log((1+c)/(1-c)): spreads the top end where paraphrases live
    "same_sequence",  # normalised token sequences equal (case, punctuation, fillers, typos)
    "same_bag",  # the same normalised words in another order
    "function_only",  # the words that differ are all function words ("how do I" / "how can I")
    "key_jaccard",  # Jaccard of normalised words
    "content_jaccard",  # Jaccard of content stems
    "content_diff_min",  # content words only one side has: the smaller side's count
    "content_diff_max",  # ... the larger side's count
    "len_ratio",  # shorter / longer normalised length (words)
    "entity_one_sided",  # a name only one side has
    "scope_one_sided",  # a scope word (audience, kind, channel...) only one side has
    "numbers_one_sided",  # a quantity or date only one side has
    "question_differs",  # different question words (when/where/who/why vs open ones)
    "negation_any",  # any negation on either side (parity already checked)
    "single_swap",  # exactly one content word replaced by one other
    # interactions with logit_cosine: how much a difference costs depends on how close the vectors are
    "lc_x_single_swap",
    "lc_x_content_diff_min",
    "lc_x_content_diff_max",
    "lc_x_same_bag",
    "lc_x_function_only",
    "lc_x_scope_one_sided",
    "lc_x_entity_one_sided",
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to serve the cached answer. ``score``: how sure the verifier is that the answer is
    right, the pair model's probability when the model decided, else 1.0 (the same words or text)
    or 0.0 (a gate or a guard refused); ``reason``: what decided ("ok", "same words",
    "cosine 0.71 < 0.85", "numbers 14 != 40", "model 0.412 < 0.824")."""

    ok: bool
    score: float
    reason: str

    @property
    def kind(self) -> str:
        """What decided, in one word of a small fixed set (a metric label): ok, same, cosine,
        unverifiable, model, or the guard (numbers, units, am/pm, dates, negation, opposites,
        names, rare, direction, scope, question, modality)."""
        return self.reason.split(" ", 1)[0]


def pair_features(a: Parsed, b: Parsed, cosine: float) -> np.ndarray:
    """The pair model's inputs (``FEATURES`` order) for aligned, normalised a and b."""
    ka, kb = set(a.keys), set(b.keys)
    union = ka | kb
    sa, sb = {stem(k) for k in a.content}, {stem(k) for k in b.content}
    only_a, only_b = sa - sb, sb - sa
    diff_keys = ka ^ kb
    ea, eb = entities(a), entities(b)
    ent_one = any(not name_matched(e, b, b.keys) for e in ea) or any(not name_matched(e, a, a.keys) for e in eb)
    ctx = ka | kb
    scope_a, scope_b = scope_words(a, None, ctx), scope_words(b, None, ctx)
    qa, qb = question_type(a), question_type(b)
    c = min(max(cosine, -0.999999), 0.999999)
    lc = 0.5 * math.log((1 + c) / (1 - c))
    same_bag = float(sorted(a.keys) == sorted(b.keys))
    function_only = float(bool(diff_keys) and all(k in FUNCTION_WORDS for k in diff_keys))
    dmin, dmax = min(len(only_a), len(only_b)), max(len(only_a), len(only_b))
    single = float(len(only_a) == 1 and len(only_b) == 1)
    scope_one, ent = float(scope_a != scope_b), float(ent_one)
    return np.array(
        [
            cosine,
            lc,
            float(a.keys == b.keys),
            same_bag,
            function_only,
            len(ka & kb) / len(union) if union else 1.0,
            len(sa & sb) / len(sa | sb) if sa | sb else 1.0,
            dmin,
            dmax,
            min(len(a.keys), len(b.keys)) / max(1, len(a.keys), len(b.keys)),
            ent,
            scope_one,
            float(bool(a.numbers) != bool(b.numbers) or bool(a.dates) != bool(b.dates)),
            float(qa != qb),
            float(negations(a) > 0 or negations(b) > 0),
            single,
            lc * single,
            lc * dmin,
            lc * dmax,
            lc * same_bag,
            lc * function_only,
            lc * scope_one,
            lc * ent,
        ],
        dtype=np.float64,
    )


class Verifier:
    """Guards plus the pair model. Thread-safe (no mutable state after construction)."""

    def __init__(
        self,
        weights: Sequence[float],
        bias: float,
        mean: Sequence[float],
        scale: Sequence[float],
        threshold: float,
        min_cosine: float = 0.85,
        min_cosine_same: float = 0.60,
        vocab: frozenset[str] | None = None,
        features: Sequence[str] = FEATURES,
    ) -> None:
        if tuple(features) != FEATURES:
            raise ValueError(f"artifact features {list(features)} != this code's {list(FEATURES)}: retrain")
        self.w = np.asarray(weights, dtype=np.float64) / np.asarray(scale, dtype=np.float64)
        self.b = float(bias) - float(self.w @ np.asarray(mean, dtype=np.float64))
        self.threshold = float(threshold)
        self.min_cosine = float(min_cosine)
        self.min_cosine_same = float(min_cosine_same)
        self.vocab = default_vocab() if vocab is None else vocab

    @classmethod
    def load(cls, path: Path | str = ARTIFACT, **overrides) -> Verifier:
        """Read the JSON artifact ``train`` writes; keyword arguments override its values."""
        path = Path(path)
        try:
            art = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the semantic-cache verifier {path}: {exc}") from None
        if not isinstance(art, dict) or art.get("kind") != KIND:
            raise UserError(f'{path} is not a semantic-cache verifier (no "kind": "{KIND}")')
        keys = ("weights", "bias", "mean", "scale", "threshold", "min_cosine", "min_cosine_same", "features")
        kw = {k: art[k] for k in keys if k in art}
        kw.update(overrides)
        try:
            return cls(**kw)
        except (TypeError, ValueError) as exc:
            raise UserError(f"{path}: {exc}") from None

    @property
    def gate(self) -> float:
        """The lowest cosine the verifier may serve at: candidates below it are not worth verifying."""
        return min(self.min_cosine, self.min_cosine_same)

    def prepare(self, text: str) -> Parsed | str:
        """A question's normalised form (memoised), to pass to ``verify`` instead of the text; a text
        longer than ``MAX_CHARS`` stays as it is (it is only ever compared whole)."""
        return text if len(text) > MAX_CHARS else parse_cached(text)

    def guard(self, a: Parsed, b: Parsed) -> tuple[Parsed, Parsed, str | None]:
        """(a, b) with typos aligned both ways, and the first guard's reason (None: none fired)."""
        b, _ = align_typos(a, b, self.vocab)
        a, _ = align_typos(b, a, self.vocab)
        for g in GUARDS:
            if (why := g(a, b)) is not None:
                return a, b, why
        return a, b, rare_word_guard(a, b, self.vocab)

    def score(self, a: Parsed, b: Parsed, cosine: float) -> float:
        """The pair model's probability that a's answer is right for b (a, b aligned)."""
        z = float(self.w @ pair_features(a, b, cosine)) + self.b
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def verify(self, cached: str | Parsed, asked: str | Parsed, cosine: float) -> Verdict:
        """Serve the answer cached for question ``cached`` to question ``asked``, at this cosine?
        Either may be given as ``prepare`` returns it: a lookup prepares the asked question once for
        all its candidates, and a cached question's parse is memoised."""
        if cosine < self.gate:
            return Verdict(False, 0.0, f"cosine {cosine:.3f} < {self.gate:.2f}")
        a = self.prepare(cached) if isinstance(cached, str) else cached
        b = self.prepare(asked) if isinstance(asked, str) else asked
        if isinstance(a, str) or isinstance(b, str):
            return _same_text(a, b, "long text")
        if min(a.coverage, b.coverage) < MIN_COVERAGE or max(len(a.keys), len(b.keys)) > MAX_WORDS:
            # another script, or a long message: the guards cannot read it; only the same text is served
            coverage, words = min(a.coverage, b.coverage), max(len(a.keys), len(b.keys))
            return _same_text(a, b, f"coverage {coverage:.2f}, {words} words")
        a, b, why = self.guard(a, b)
        if why is not None:
            return Verdict(False, 0.0, why)
        if sorted(a.keys) == sorted(b.keys) and cosine >= self.min_cosine_same:
            # only case, punctuation, fillers, greetings, contractions, spelling, typos or order differ
            return Verdict(True, 1.0, "same words")
        if cosine < self.min_cosine:
            return Verdict(False, 0.0, f"cosine {cosine:.3f} < {self.min_cosine:.2f}")
        p = self.score(a, b, cosine)
        if p < self.threshold:
            return Verdict(False, p, f"model {p:.3f} < {self.threshold:.3f}")
        return Verdict(True, p, "ok")


def _same_text(a: Parsed | str, b: Parsed | str, why: str) -> Verdict:
    """The verdict on texts the guards cannot read: served only when the same but for case and spacing."""
    ta, tb = (x.text if isinstance(x, Parsed) else x for x in (a, b))
    if " ".join(ta.casefold().split()) == " ".join(tb.casefold().split()):
        return Verdict(True, 1.0, "same text")
    return Verdict(False, 0.0, f"unverifiable text ({why})")
