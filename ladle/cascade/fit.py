"""Fitting a cascade's classifiers on labelled vectors, with thresholds chosen on validation.

What was measured on the training splits (5-fold CV, docs/cascade.md) and chosen:

- Features: the item text's MiniLM embedding, plus its cosine similarity to each value's name
  (a zero-shot prior for values with few labels: food-group-train macro-F1 0.79 -> 0.82). Being
  linear in the embedding, that part folds into the weights, so serving reads the embedding
  alone. TF-IDF char n-grams were measured and left out: +0.01 on some fields, -0.015 on
  food groups, and a vocabulary to ship.
- LogisticRegression(C=100): one multinomial model per `one` field, one binary model per value of
  a `many` field; CalibratedClassifierCV(method="temperature", ensemble=False) calibrates them
  on cross-validated predictions (one parameter per model, which 4-5 labels per value can
  bear: at precision 0.95 it covered 78% of held-out food-group items, sigmoid 74%, isotonic 38%).
- Thresholds: on out-of-fold predictions of the training labels (each item scored by a model
  fitted without it), the lowest confidence whose answers at or above it reach the target
  precision: a `one` field's top probability; per value of a `many` field one threshold to say
  yes and one to say no. Near-duplicates (cosine >= 0.85: "Lunch Special Pad Thai" and "Pad
  Thai") stay in one fold, so validation scores items unlike any the model saw, as a new dish
  is: with random folds, a cascade trained on half of tag-train said it was 94% precise on
  allergens and was right on 48% of the other half's dishes.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np

from shared.cascade.card import FieldCard, FieldValidation
from shared.cascade.model import FieldModel, decisions
from shared.taxonomy import TagField

C = 100.0
FOLDS = 5
MIN_LABELS = 3  # a value with fewer labels is not learnt: a `one` field never answers it
STEPS = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0)  # per-value targets tried, from the field's target up to 1


def stricter(target: float) -> list[float]:
    """Per-value targets for a many field, from the field's own target up to 1."""
    return [target + (1 - target) * s for s in STEPS]


def params(near_duplicate: float | None) -> dict:
    return {
        "model": f"LogisticRegression(C={C:g}, lbfgs)",
        "calibration": "CalibratedClassifierCV(method=temperature, ensemble=False)",
        "features": "embedding + cosine similarity to each value's name (folded into the weights)",
        "folds": FOLDS,
        "min_labels": MIN_LABELS,
        "thresholds": "out-of-fold predictions of the training labels, "
        + (f"near-duplicates (cosine >= {near_duplicate:g}) in one fold" if near_duplicate else "random folds"),
    }


@dataclass
class Fitted:
    model: FieldModel | None  # None: too few labels to learn the field; the engine answers it
    sure: np.ndarray  # bool per labelled row: out-of-fold, the classifier would answer it
    card: FieldCard


def threshold(conf: np.ndarray, ok: np.ndarray, target: float) -> float | None:
    """The lowest confidence t such that the answers with confidence >= t are right at rate >= target
    (the largest coverage that reaches the target); None when no t does."""
    order = np.argsort(-conf, kind="stable")
    c, o = conf[order], ok[order].astype(np.float64)
    precision = np.cumsum(o) / np.arange(1, len(o) + 1)
    tie_end = np.r_[c[1:] != c[:-1], True]  # a threshold takes a group of equal confidences whole
    good = np.flatnonzero(tie_end & (precision >= target))
    return float(c[good.max()]) if len(good) else None


def _calibrated(x: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    k = min(FOLDS, min(Counter(y.tolist()).values()))
    cv = StratifiedKFold(k, shuffle=True, random_state=seed)
    clf = CalibratedClassifierCV(LogisticRegression(C=C, max_iter=5000), method="temperature", cv=cv, ensemble=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs convergence chatter on separable folds
        return clf.fit(x, y)


def export(clf, d: int, sims: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fitted calibrated model over [embedding, embedding @ sims.T] -> (coef over the embedding,
    intercept, beta): the similarity block folds into the embedding's weights."""
    cc = clf.calibrated_classifiers_[0]
    lr, beta = cc.estimator, float(cc.calibrators[0].beta_)
    coef = lr.coef_[:, :d] + lr.coef_[:, d:] @ sims
    intercept = lr.intercept_
    if len(lr.classes_) == 2 and coef.shape[0] == 1:  # binary: logits (-x, x), as the calibrator sees them
        coef, intercept = np.vstack([-coef, coef]), np.r_[-intercept, intercept]
    return coef, intercept, np.array([beta])


def near_duplicates(x: np.ndarray, sim: float | None, block: int = 1024) -> np.ndarray:
    """A group id per row: rows linked by cosine >= sim (unit vectors) share one; sim None: every row alone."""
    parent = np.arange(len(x))
    if sim is None:
        return parent

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for start in range(0, len(x), block):
        s = x[start : start + block] @ x.T
        for i, j in zip(*np.nonzero(s >= sim), strict=True):
            a, b = root(start + i), root(j)
            if a != b:
                parent[a] = b
    return np.array([root(i) for i in range(len(x))])


def _folds(y: np.ndarray, groups: np.ndarray, seed: int):
    from sklearn.model_selection import StratifiedGroupKFold

    # StratifiedGroupKFold refuses more folds than the largest class has members
    k = min(FOLDS, len(set(groups.tolist())), max(Counter(y.tolist()).values()))
    if k < 2:  # nothing to validate on: no fold, no out-of-fold answer, never sure
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "the least populated class has fewer members than n_splits"
        return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed + 1).split(y, y, groups))


def _fold_model(x: np.ndarray, y: np.ndarray, seed: int):
    """A fold's model on the values it has at least 2 labels of (calibration needs 2 folds); None if < 2."""
    counts = Counter(y.tolist())
    keep = np.array([counts[v] >= 2 for v in y.tolist()], dtype=bool)
    if len({v for v, n in counts.items() if n >= 2}) < 2:
        return None
    return _calibrated(x[keep], y[keep], seed)


def _oof_proba(x: np.ndarray, y: np.ndarray, groups: np.ndarray, classes: list, seed: int,
               trainable: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Out-of-fold probabilities over ``classes`` for every row; a value a fold lacks gets 0 there.
    Only ``trainable`` rows are learnt from (every row is scored)."""
    out = np.zeros((len(y), len(classes)))
    index = {c: i for i, c in enumerate(classes)}
    for train, held in _folds(np.array([str(v) for v in y]), groups, seed):
        if trainable is not None:
            train = train[trainable[train]]
        m = _fold_model(x[train], y[train], seed)
        if m is not None:
            out[np.ix_(held, [index[c] for c in m.classes_])] = m.predict_proba(x[held])
    return out


def fit_one(name: str, f: TagField, x: np.ndarray, y: list[str], sims: np.ndarray, target: float,
            groups: np.ndarray, seed: int = 0) -> Fitted:  # fmt: skip
    """A `one` field: ``x`` the labelled rows' embeddings, ``y`` their values, ``sims`` the values' names
    embedded, ``groups`` the rows' validation groups (near_duplicates)."""
    y = np.asarray(y, dtype=object)
    counts = Counter(y.tolist())
    classes = [v for v in f.values if counts[v] >= MIN_LABELS]
    if len(classes) < 2:
        return Fitted(None, np.zeros(len(y), bool), _card_none(f, len(y)))
    xa = np.hstack([x, x @ sims.T])
    keep = np.isin(y, classes)
    clf = _calibrated(xa[keep], y[keep], seed)
    learnt = list(clf.classes_)
    # Validation covers every labelled row: rows of values too rare to learn are answered wrong.
    proba = _oof_proba(xa, y, groups, learnt, seed, trainable=keep)
    answer = np.asarray(learnt, dtype=object)[proba.argmax(1)]
    conf = proba.max(1)
    ok = answer == y
    t = threshold(conf, ok, target)
    sure = conf >= t if t is not None else np.zeros(len(y), bool)
    coef, intercept, beta = export(clf, x.shape[1], sims)
    card = FieldCard(kind="one", values=learnt, threshold=t, validation=_validation_one(y, answer, ok, sure))
    return Fitted(FieldModel(name, card, coef.astype(np.float32), intercept, beta), sure, card)


def fit_many(name: str, f: TagField, x: np.ndarray, y: list[list[str]], sims: np.ndarray, target: float,
             groups: np.ndarray, seed: int = 0) -> Fitted:  # fmt: skip
    """A `many` field: one calibrated binary model per value; a value with too few labels on either
    side is a constant (its rate), which can still be sure it is absent. The per-value thresholds
    are tightened together until the field's whole answers reach the target precision."""
    truth = np.array([[v in labels for v in f.values] for labels in y], dtype=bool).reshape(len(y), len(f.values))
    d = x.shape[1]
    coefs, intercepts, betas = np.zeros((len(f.values), d)), np.zeros(len(f.values)), np.ones(len(f.values))
    p = np.zeros(truth.shape)
    for j in range(len(f.values)):
        t = truth[:, j]
        if min(t.sum(), (~t).sum()) < MIN_LABELS:
            rate = (t.sum() + 0.5) / (len(t) + 1)
            intercepts[j] = np.log(rate / (1 - rate)) / 2  # sigmoid(2 * 1 * b) = rate
            p[:, j] = rate
        else:
            xa = np.hstack([x, (x @ sims[j])[:, None]])
            clf = _calibrated(xa, t, seed)
            coef, intercept, beta = export(clf, d, sims[j][None, :])
            # export() gave the two-class form (-w, w); a many value keeps w: p = sigmoid(2 beta (x w + b))
            coefs[j], intercepts[j], betas[j] = coef[1], intercept[1], beta[0]
            p[:, j] = _oof_proba(xa, t, groups, [False, True], seed)[:, 1]
    card = FieldCard(kind="many", values=list(f.values), max_items=f.max_items)
    for per_value in stricter(target):
        card.yes = {v: threshold(p[:, j], truth[:, j], per_value) for j, v in enumerate(f.values)}
        card.no = {v: _negated(threshold(-p[:, j], ~truth[:, j], per_value)) for j, v in enumerate(f.values)}
        sure, exact = _sure_and_exact(card, p, truth)
        if not sure.any() or exact[sure].mean() >= target:
            break
    else:  # not even thresholds right on every validation decision make whole answers precise enough
        card.yes, card.no = dict.fromkeys(f.values), dict.fromkeys(f.values)
        sure = np.zeros(len(y), bool)
    fm = FieldModel(name, card, coefs.astype(np.float32), intercepts, betas)
    card.validation = _validation_many(truth, p >= 0.5, sure, _sure_and_exact(card, p, truth)[1])
    return Fitted(fm, sure, card)


def _sure_and_exact(card: FieldCard, p: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether the field is sure, and whether its answer (as serving gives it) is exactly right."""
    got = decisions(card, p)
    sure = np.array([s for _, s in got], dtype=bool)
    exact = np.array([set(a) == {v for v, t in zip(card.values, row, strict=True) if t}
                      for (a, _), row in zip(got, truth, strict=True)], dtype=bool)  # fmt: skip
    return sure, exact


def _negated(t: float | None) -> float | None:
    return None if t is None else -t


def _card_none(f: TagField, n: int) -> FieldCard:
    return FieldCard(kind=f.kind, values=[], max_items=f.max_items,
                     validation=FieldValidation(labels=n, coverage=0.0, precision=None, accuracy=0.0, macro_f1=0.0))  # fmt: skip


def _validation_one(y, answer, ok, sure) -> FieldValidation:
    from sklearn.metrics import f1_score

    return FieldValidation(
        labels=len(y), coverage=round(float(sure.mean()), 4),
        precision=round(float(ok[sure].mean()), 4) if sure.any() else None,
        accuracy=round(float(ok.mean()), 4),
        macro_f1=round(float(f1_score(y.astype(str), answer.astype(str), average="macro", zero_division=0)), 4),
    )  # fmt: skip


def _validation_many(truth: np.ndarray, said: np.ndarray, sure: np.ndarray, answered: np.ndarray) -> FieldValidation:
    """``said``: the best answer (p >= 0.5) per value; ``answered``: whether the served answer is exactly right."""
    exact = (truth == said).all(axis=1)
    tp, fp, fn = (truth & said).sum(0), (~truth & said).sum(0), (truth & ~said).sum(0)
    present = (tp + fp + fn) > 0
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(len(tp)), where=present)
    return FieldValidation(
        labels=len(truth), coverage=round(float(sure.mean()), 4),
        precision=round(float(answered[sure].mean()), 4) if sure.any() else None,
        accuracy=round(float(exact.mean()), 4),
        macro_f1=round(float(f1[present].mean()), 4) if present.any() else 1.0,
    )  # fmt: skip
