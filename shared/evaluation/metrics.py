"""Scoring a use case's answers against a golden dataset, vectorised (100k items in well under
a second), and the statistics that compare two runs on the same items.

Per `one` field: ``accuracy`` and ``macro_f1`` (the mean F1 over the values that appear
in the expected or the predicted answers; an invalid answer is wrong for its expected
value and counts for no value). Per `many` field: ``micro_f1`` over every (item, value)
decision and ``macro_f1``, the mean per-value F1 over the values that appear. An item is
*correct* on a field when its answer equals the expected value (the same set, for a many
field): what McNemar's test pairs. Items whose expected answer lacks a field are not
scored on it. Every metric takes optional item weights, so a bootstrap resample is a
weight vector (multinomial counts) instead of a copy of the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from math import comb

import numpy as np

from shared.taxonomy import TagField, Taxonomy

INVALID = -1


@dataclass
class FieldScores:
    """One field's answers as arrays: which items it scores, the truth and the answers."""

    name: str
    kind: str
    values: list[str]
    scored: np.ndarray  # bool (n,): the item's expected answer has this field
    true: np.ndarray  # one: int (n,) value index; many: bool (n, V)
    pred: np.ndarray  # one: int (n,), INVALID for no answer; many: bool (n, V)

    def correct(self) -> np.ndarray:
        """bool (n,): exactly right (False where not scored)."""
        if self.kind == "one":
            ok = self.true == self.pred
        else:
            ok = (self.true == self.pred).all(axis=1)
        return ok & self.scored

    def metrics(self, weights: np.ndarray | None = None) -> dict[str, float]:
        w = self.scored.astype(np.float64) if weights is None else weights * self.scored
        total = w.sum()
        if total <= 0:
            return {}
        if self.kind == "one":
            return {"accuracy": float((w * (self.true == self.pred)).sum() / total), "macro_f1": self._macro_one(w)}
        return self._many(w)

    def _macro_one(self, w: np.ndarray) -> float:
        k = len(self.values)
        pred = np.where(self.pred == INVALID, k, self.pred)  # "no answer" is a class of its own, not averaged
        cm = np.bincount(self.true * (k + 1) + pred, weights=w, minlength=k * (k + 1)).reshape(k, k + 1)
        tp = np.diag(cm[:, :k])
        fn = cm.sum(axis=1) - tp
        fp = cm[:, :k].sum(axis=0) - tp
        present = (cm.sum(axis=1) + cm[:, :k].sum(axis=0)) > 0
        return _mean_f1(tp[present], fp[present], fn[present])

    def _many(self, w: np.ndarray) -> dict[str, float]:
        t, p = self.true, self.pred
        wt = w[:, None]
        tp = (wt * (t & p)).sum(axis=0)
        fp = (wt * (~t & p)).sum(axis=0)
        fn = (wt * (t & ~p)).sum(axis=0)
        present = (tp + fp + fn) > 0
        denom = 2 * tp.sum() + fp.sum() + fn.sum()
        micro = float(2 * tp.sum() / denom) if denom > 0 else 1.0  # nothing expected, nothing said: right
        return {
            "micro_f1": micro,
            "macro_f1": _mean_f1(tp[present], fp[present], fn[present]) if present.any() else 1.0,
        }


def _mean_f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> float:
    if len(tp) == 0:
        return 0.0
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=np.float64), where=denom > 0)
    return float(f1.mean())


def field_scores(taxonomy: Taxonomy, expected: Sequence[dict], predicted: Sequence[dict | None]) -> list[FieldScores]:
    """The arrays for every taxonomy field that some expected answer has."""
    out = []
    fields = [(n, f) for n, f in taxonomy.fields.items() if any(n in e for e in expected)]
    for name, f in fields:
        out.append(_field(name, f, expected, predicted))
    return out


def _field(name: str, f: TagField, expected: Sequence[dict], predicted: Sequence[dict | None]) -> FieldScores:
    n, index = len(expected), {v: i for i, v in enumerate(f.values)}
    scored = np.fromiter((name in e for e in expected), dtype=bool, count=n)
    if f.kind == "one":
        true = np.fromiter((index.get(e.get(name), 0) for e in expected), dtype=np.int64, count=n)
        pred = np.fromiter(
            (index.get(p.get(name), INVALID) if p is not None else INVALID for p in predicted), dtype=np.int64, count=n
        )
        return FieldScores(name, f.kind, list(f.values), scored, true, pred)
    true = np.zeros((n, len(f.values)), dtype=bool)
    pred = np.zeros((n, len(f.values)), dtype=bool)
    for i, (e, p) in enumerate(zip(expected, predicted, strict=True)):
        for v in e.get(name) or ():
            if v in index:
                true[i, index[v]] = True
        for v in (p or {}).get(name) or ():
            if v in index:
                pred[i, index[v]] = True
    return FieldScores(name, f.kind, list(f.values), scored, true, pred)


def summary_f1(scores: Sequence[FieldScores], weights: np.ndarray | None = None) -> float:
    """The run's headline: the mean of the fields' macro-F1."""
    vals = [s.metrics(weights).get("macro_f1") for s in scores]
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else 0.0


def metric_of(scores: Sequence[FieldScores], field: str, metric: str, weights: np.ndarray | None = None) -> float:
    """One field's metric (``field`` "all": the mean macro-F1 over fields)."""
    if field == "all":
        if metric != "macro_f1":
            raise ValueError(f"field all has metric macro_f1 only, not {metric}")
        return summary_f1(scores, weights)
    for s in scores:
        if s.name == field:
            got = s.metrics(weights)
            if metric not in got:
                raise ValueError(f"field {field} ({s.kind}) has no metric {metric}; it has {', '.join(got)}")
            return got[metric]
    raise ValueError(f"no field {field} in these scores")


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if len(values) else 0.0


# -- comparing two runs on the same items ---------------------------------------------


def paired_bootstrap(
    a: Sequence[FieldScores], b: Sequence[FieldScores], field: str, metric: str, *, rounds: int = 2000, seed: int = 7
) -> tuple[float, float, float]:
    """(B - A, low, high): the difference of the metric and its 95% percentile interval over
    ``rounds`` resamples of the items, each resample scoring both runs on the same items."""
    n = len(a[0].scored) if a else 0
    diff = metric_of(b, field, metric) - metric_of(a, field, metric)
    if n == 0:
        return diff, diff, diff
    rng = np.random.default_rng(seed)
    diffs = np.empty(rounds)
    for r in range(rounds):
        w = rng.multinomial(n, np.full(n, 1.0 / n)).astype(np.float64)
        try:
            diffs[r] = metric_of(b, field, metric, w) - metric_of(a, field, metric, w)
        except ValueError:  # the resample drew none of the items this field scores (the full sample has some)
            diffs[r] = np.nan
    if np.isnan(diffs).all():
        return diff, diff, diff
    low, high = np.nanpercentile(diffs, [2.5, 97.5])
    return float(diff), float(low), float(high)


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> tuple[int, int, float]:
    """(items only A got right, items only B got right, exact two-sided p-value): McNemar's
    test on the discordant pairs, exact (binomial) so it holds for a handful of items. Given
    per-item scores (a share of fields right) instead of booleans it is the sign test: items
    where A scored higher against items where B did."""
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    only_a = int((a > b).sum())
    only_b = int((b > a).sum())
    n = only_a + only_b
    if n == 0:
        return 0, 0, 1.0
    k = min(only_a, only_b)
    p = 2 * sum(comb(n, i) for i in range(k + 1)) / 2**n
    return only_a, only_b, min(1.0, p)
