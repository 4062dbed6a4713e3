"""A trained cascade: per taxonomy field a calibrated linear classifier over the item's
embedding, and the confidence thresholds below which the field is left to the LLM.

Portable: the weights are float32 arrays in an .npz (read without pickle) and everything else
is the JSON card. Serving is numpy only; training (ladle/cascade/train.py) fits scikit-learn's
LogisticRegression under CalibratedClassifierCV (temperature scaling) and exports into this
form, and a unit test holds the two to the same probabilities.

- one field: p = softmax(beta * (X W' + b)); the answer is the argmax, sure when p >= threshold.
- many field: per value p = sigmoid(2 * beta * (X w + b)) (scikit-learn's binary temperature
  scaling); a value is in when p >= yes, out when p <= no; the field is sure when every value
  is decided and no more than max_items are in.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from schemas import CatalogItem
from shared.cascade.card import CascadeCard, FieldCard
from shared.cascade.text import item_text
from shared.runtime.errors import UserError

WEIGHTS, CARD = "model.npz", "card.json"
EPS = 1e-9  # a threshold is a validation probability: the same probability served again must pass it


@dataclass
class FieldModel:
    name: str
    card: FieldCard
    coef: np.ndarray  # (k, d): k classes (one) or values (many)
    intercept: np.ndarray  # (k,)
    beta: np.ndarray  # (1,) for one, (k,) for many: calibrated inverse temperature

    def proba(self, x: np.ndarray) -> np.ndarray:
        z = x.astype(np.float64) @ self.coef.T.astype(np.float64) + self.intercept
        if self.card.kind == "one":
            z = self.beta[0] * z
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            return e / e.sum(axis=1, keepdims=True)
        return 1.0 / (1.0 + np.exp(np.clip(-2.0 * self.beta * z, -500, 500)))

    def decide(self, x: np.ndarray) -> list[tuple[object, bool]]:
        """(answer, sure) per row."""
        return decisions(self.card, self.proba(x))


def decisions(c: FieldCard, p: np.ndarray) -> list[tuple[object, bool]]:
    """(answer, sure) per row of calibrated probabilities: the one rule serving and validation share."""
    if c.kind == "one":
        best = p.argmax(axis=1)
        conf = p[np.arange(len(p)), best]
        sure = conf >= c.threshold - EPS if c.threshold is not None else np.zeros(len(p), bool)
        return [(c.values[b], bool(s)) for b, s in zip(best, sure, strict=True)]
    yes_t = np.array([_limit(c.yes.get(v), np.inf) for v in c.values])
    no_t = np.array([_limit(c.no.get(v), -np.inf) for v in c.values])
    yes, no = p >= yes_t - EPS, p <= no_t + EPS
    yes = np.where(yes & no, p >= 0.5, yes)  # thresholds that overlap: the likelier side wins
    decided = (yes | no).all(axis=1)
    out = []
    for row, d in zip(yes, decided, strict=True):
        values = [v for v, y in zip(c.values, row, strict=True) if y]
        out.append((values, bool(d) and (c.max_items is None or len(values) <= c.max_items)))
    return out


def _limit(t: float | None, never: float) -> float:
    return never if t is None else t


@dataclass
class Prediction:
    answers: dict[str, object]  # every field's best answer
    sure: list[str]  # the fields the classifier answers
    unsure: list[str] = field(default_factory=list)  # the fields left to the LLM
    ranked: dict[str, list[str]] = field(default_factory=dict)  # one fields: values, likeliest first


class Cascade:
    """A loaded cascade. The encoder loads on first use (and is not pickled to Ray actors)."""

    def __init__(self, card: CascadeCard, fields: dict[str, FieldModel], encoder=None) -> None:
        self.card = card
        self.fields = fields
        self._encoder = encoder

    @property
    def ref(self) -> str:
        return self.card.ref

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_encoder": None}

    def encoder(self):
        if self._encoder is None:
            from shared.encoder import shared_encoder

            self._encoder = shared_encoder(self.card.encoder)
            if self._encoder.dim != self.card.dim:
                raise UserError(f"cascade {self.ref} reads {self.card.dim}-dim vectors; {self.card.encoder} "
                                f"makes {self._encoder.dim}")  # fmt: skip
        return self._encoder

    def check_taxonomy(self, taxonomy) -> None:
        """Refuse a cascade that could answer a value the use case's taxonomy does not have."""
        for name, f in self.fields.items():
            tf = taxonomy.fields.get(name)
            if tf is None or tf.kind != f.card.kind or set(f.card.values) - set(tf.values):
                raise UserError(f"cascade {self.ref} field {name!r} does not fit taxonomy {taxonomy.version}; "
                                "retrain it (`ladle cascade train`)")  # fmt: skip

    def predict(self, items: list[CatalogItem]) -> list[Prediction]:
        if not items:
            return []
        return self.predict_vectors(self.encoder().encode([item_text(i) for i in items]))

    def predict_vectors(self, x: np.ndarray) -> list[Prediction]:
        preds = [Prediction({}, []) for _ in range(len(x))]
        for name, fm in self.fields.items():
            proba = fm.proba(x)
            for p, (answer, sure), row in zip(preds, decisions(fm.card, proba), proba, strict=True):
                p.answers[name] = answer
                (p.sure if sure else p.unsure).append(name)
                if fm.card.kind == "one":
                    p.ranked[name] = [fm.card.values[i] for i in np.argsort(-row, kind="stable")]
        return preds


def save(folder: Path, card: CascadeCard, fields: dict[str, FieldModel]) -> Path:
    """Write the weights and the card into ``folder`` (which must not exist yet), atomically."""
    arrays = {}
    for name, fm in fields.items():
        arrays[f"{name}/coef"] = fm.coef.astype(np.float32)
        arrays[f"{name}/intercept"] = fm.intercept.astype(np.float64)
        arrays[f"{name}/beta"] = fm.beta.astype(np.float64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    data = buf.getvalue()
    card = card.model_copy(update={"weights_sha256": hashlib.sha256(data).hexdigest()})
    tmp = folder.with_name(f".{folder.name}.tmp")
    tmp.mkdir(parents=True, exist_ok=False)
    (tmp / WEIGHTS).write_bytes(data)
    (tmp / CARD).write_text(card.model_dump_json(indent=1) + "\n")
    os.replace(tmp, folder)
    return folder


def read_card(folder: Path) -> CascadeCard:
    try:
        return CascadeCard.model_validate_json((folder / CARD).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"cascade card {folder / CARD} is unreadable: {' '.join(str(exc).split())[:200]}") from None


def load(folder: Path) -> Cascade:
    card = read_card(folder)
    data = (folder / WEIGHTS).read_bytes()
    if hashlib.sha256(data).hexdigest() != card.weights_sha256:
        raise UserError(f"{folder / WEIGHTS} does not match its card's weights_sha256: the cascade was altered")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        fields = {
            name: FieldModel(name, fc, z[f"{name}/coef"], z[f"{name}/intercept"], z[f"{name}/beta"])
            for name, fc in card.fields.items()
        }
    return Cascade(card, fields)
