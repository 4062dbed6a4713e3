"""Learned detectors behind the injection and toxicity checks: logistic regression over the
shared MiniLM sentence embedding plus cheap text features (the injection patterns' hits,
the profanity model's probability, encoded-text signals).

Serving is numpy only: an artifact (deploy/guardrails/models/*.npz, no pickled code) holds
the standardisation, the weights, the threshold chosen by cross-validation and the names
of its features; ``ladle guardrails train`` (ladle/eval/guardrails_train.py) writes it.

A text is embedded as two chunks, its head and its tail (a long document hides its
injection at the end as often as at the start); short texts embed once. Embeddings are
cached per process for the last few thousand texts, so the injection and toxicity checks
of one policy embed a text once.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import OrderedDict
from functools import cache
from pathlib import Path

import numpy as np

from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT

MAX_TOKENS = 128  # per chunk: MiniLM's training length; a chunk costs ~O(tokens^1.2) on one core
HEAD_CHARS = 600  # a chunk of ~128 tokens
_cache: OrderedDict[str, np.ndarray] = OrderedDict()
_CACHE_SIZE = 4096
_lock = threading.Lock()

_TAG_CHARS = re.compile("[\U000e0000-\U000e007f]")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_B64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}[\s:]?){16,}")
_WORD = re.compile(r"[A-Za-z]+")
_SECOND = re.compile(r"\b(?:you|your)\b", re.I)
_IMPERATIVE = re.compile(
    r"(?:^|[.!?\n]\s*)(?:ignore|forget|pretend|act|respond|reply|answer|write|say|print|tell|repeat|translate|output|"
    r"stop|now|from now|do not|don't|never|always|imagine|roleplay|you will|you must|you are)\b",
    re.I,
)
_COMMON = frozenset(
    "the of and to a in is it you that he was for on are with as i his they be at one have this from or had by not "
    "but what all were we when your can said there use an each which she do how their if will up other about out "
    "many then them these so some her would make like him into time has look two more write go see number no way "
    "could people my than first been call who its now find long down day did get come made may part".split()
)


def chunks(text: str) -> tuple[str, str]:
    """(head, tail) of a text; the same string twice when it is short."""
    if len(text) <= HEAD_CHARS:
        return text, text
    return text[:HEAD_CHARS], text[-HEAD_CHARS:]


def embed(texts: list[str]) -> np.ndarray:
    """[head embedding | tail embedding] per text (768 floats), from the shared MiniLM."""
    from shared.encoder import shared_encoder

    enc = shared_encoder()
    parts = [c for t in texts for c in chunks(normalise_for_model(t))]
    with _lock:
        missing = list(dict.fromkeys(p for p in parts if p not in _cache))
    if missing:
        vecs = enc.encode(missing, max_tokens=MAX_TOKENS)
        with _lock:
            for p, v in zip(missing, vecs, strict=True):
                _cache[p] = v
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    with _lock:
        rows = [_cache.get(p) for p in parts]
    if any(r is None for r in rows):  # evicted meanwhile by another thread's batch: encode what is gone
        gone = [i for i, r in enumerate(rows) if r is None]
        for i, v in zip(gone, enc.encode([parts[i] for i in gone], max_tokens=MAX_TOKENS), strict=True):
            rows[i] = v
    if not rows:
        return np.zeros((0, 2 * enc.dim), dtype=np.float32)
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), -1)


TEXT_FEATURES = (
    "log_chars", "non_ascii", "tag_chars", "invisible", "base64_run", "hex_run", "non_words", "second_person",
    "imperatives", "newlines", "upper", "digits", "brackets",
)  # fmt: skip


def text_features(text: str) -> list[float]:
    """Shape of a text: encoded payloads, smuggled characters, instructions aimed at "you"."""
    n = max(len(text), 1)
    words = _WORD.findall(text)
    nw = max(len(words), 1)
    common = sum(w.lower() in _COMMON for w in words) / nw  # encoded or foreign text has few common words
    non_ascii = sum(ord(c) > 127 for c in text) / n
    return [
        math.log1p(len(text)) / 10,
        non_ascii,
        float(bool(_TAG_CHARS.search(text))),
        min(len(_INVISIBLE.findall(text)), 20) / 20,
        float(bool(_B64.search(text))),
        float(bool(_HEX.search(text))),
        1.0 - common if len(words) >= 5 else 0.0,
        min(len(_SECOND.findall(text)) / nw * 10, 1.0),
        min(len(_IMPERATIVE.findall(text)), 10) / 10,
        min(text.count("\n"), 50) / 50,
        sum(c.isupper() for c in text) / n,
        sum(c.isdigit() for c in text) / n,
        min(sum(text.count(c) for c in "[]{}<>|#"), 50) / 50,
    ]


def pattern_features(text: str) -> list[float]:
    """The injection check's pattern hits (one per pattern) and their noisy-or score."""
    from shared.guardrails.checks.injection import PATTERNS, score

    s, hits = score(text)
    hit = set(hits)
    return [float(name in hit) for name, _, _ in PATTERNS] + [s]


def pattern_names() -> list[str]:
    from shared.guardrails.checks.injection import PATTERNS

    return [f"pattern:{name}" for name, _, _ in PATTERNS] + ["pattern:noisy_or"]


def normalise_for_model(text: str) -> str:
    """What the embedding reads: NFKC (full-width and styled letters fold), invisible characters out."""
    return _INVISIBLE.sub("", _TAG_CHARS.sub("", unicodedata.normalize("NFKC", text)))


def injection_features(texts: list[str]) -> np.ndarray:
    """What the injection model reads: embedding chunks, pattern hits, text shape."""
    extra = np.array([pattern_features(t) + text_features(t) for t in texts], dtype=np.float32)
    return np.hstack([embed(texts), extra.reshape(len(texts), -1)])


def injection_feature_names(dim: int) -> list[str]:
    return [f"emb:{i}" for i in range(dim)] + pattern_names() + list(TEXT_FEATURES)


def toxicity_features(texts: list[str], profanity: list[float]) -> np.ndarray:
    """What the toxicity model reads: embedding chunks, the profanity model's probability, text shape."""
    extra = np.array([[p, *text_features(t)] for t, p in zip(texts, profanity, strict=True)], dtype=np.float32)
    return np.hstack([embed(texts), extra.reshape(len(texts), -1)])


def toxicity_feature_names(dim: int) -> list[str]:
    return [f"emb:{i}" for i in range(dim)] + ["profanity"] + list(TEXT_FEATURES)


class LinearModel:
    """A logistic regression as saved by training: p = sigmoid(((x - mean) / scale) . coef + bias)."""

    def __init__(self, coef, bias: float, mean, scale, threshold: float, features: list[str], meta: str = "") -> None:
        self.coef = np.asarray(coef, dtype=np.float64)
        self.bias = float(bias)
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.threshold = float(threshold)
        self.features = list(features)
        self.meta = meta

    def prob(self, x: np.ndarray) -> np.ndarray:
        z = ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, coef=self.coef.astype(np.float32), bias=np.float64(self.bias), mean=self.mean.astype(np.float32),
            scale=self.scale.astype(np.float32), threshold=np.float64(self.threshold),
            features=np.array(self.features), meta=np.array(self.meta),
        )  # fmt: skip


def resolve(path: str | Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() else REPO_ROOT / p


@cache
def load_model(path: str) -> LinearModel:
    p = resolve(path)
    if not p.exists():
        raise UserError(f"guardrails model {p} not found: run `ladle guardrails train`")
    with np.load(p, allow_pickle=False) as z:
        return LinearModel(
            z["coef"], float(z["bias"]), z["mean"], z["scale"], float(z["threshold"]),
            [str(f) for f in z["features"]], str(z["meta"]),
        )  # fmt: skip


def load_for_check(path: str, threshold: float | None) -> tuple[LinearModel, float]:
    """A check's model and the probability it flags at (the artifact's CV-chosen threshold unless the policy
    sets one); the shared encoder is loaded now, not on the first subject."""
    from shared.encoder import shared_encoder

    model = load_model(path)
    shared_encoder()
    return model, model.threshold if threshold is None else threshold
