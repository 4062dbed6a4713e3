"""Two evaluation runs on the same items (`ladle eval compare A B`, the release gate, the console), per field, with
a paired bootstrap interval of the difference and McNemar's test on item-level correctness (for the mean over
fields, its generalisation: the sign test on each item's share of fields right).

A difference counts only when it is significant: B is *better* (or *worse*) when the 95%
interval of B - A lies wholly above (below) zero and McNemar's test on the items agrees
(p < 0.05); otherwise there is no significant difference, whatever the point estimate
says. Noise never fails a gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from schemas import EvalItem, EvalRun
from shared.evaluation import metrics as m
from shared.runtime.errors import UserError
from shared.taxonomy import Taxonomy

VERDICTS = ("better", "worse", "no significant difference")
ALPHA = 0.05


@dataclass
class FieldComparison:
    field: str
    metric: str
    a: float
    b: float
    diff: float
    low: float
    high: float
    only_a: int  # items only A got right (McNemar's discordant pairs)
    only_b: int
    p_value: float

    @property
    def verdict(self) -> str:
        """Significant only when both tests say so: the bootstrap interval excludes zero and McNemar's
        p < 0.05 (a percentile interval alone is too eager on a few dozen items)."""
        if self.p_value < ALPHA and self.low > 0:
            return "better"
        if self.p_value < ALPHA and self.high < 0:
            return "worse"
        return "no significant difference"

    def line(self, run_a: str, run_b: str) -> dict:
        return {"compare": [run_a, run_b], "field": self.field, "metric": self.metric, "a": round(self.a, 6),
                "b": round(self.b, 6), "diff": round(self.diff, 6), "ci95": [round(self.low, 6), round(self.high, 6)],
                "mcnemar_only_a": self.only_a, "mcnemar_only_b": self.only_b, "mcnemar_p": round(self.p_value, 6),
                "verdict": self.verdict}  # fmt: skip


def aligned_scores(
    taxonomy: Taxonomy, items_a: list[EvalItem], items_b: list[EvalItem]
) -> tuple[list[m.FieldScores], list[m.FieldScores]]:
    """Both runs' answers on the rows both scored, in the same order."""
    by_row_b = {i.row: i for i in items_b}
    pairs = [(a, by_row_b[a.row]) for a in items_a if a.row in by_row_b and by_row_b[a.row].item_id == a.item_id]
    if not pairs:
        raise UserError("the two runs share no scored rows: compare runs on the same dataset")
    expected = [a.expected for a, _ in pairs]
    sa = m.field_scores(taxonomy, expected, [a.predicted for a, _ in pairs])
    sb = m.field_scores(taxonomy, expected, [b.predicted for _, b in pairs])
    return sa, sb


def compare(
    taxonomy: Taxonomy, run_a: EvalRun, items_a: list[EvalItem], run_b: EvalRun, items_b: list[EvalItem],
    *, rounds: int = 2000,
) -> list[FieldComparison]:  # fmt: skip
    """Per field (its headline metric, macro-F1), then the run's mean macro-F1 (field "all")."""
    if run_a.dataset_sha256 != run_b.dataset_sha256:
        raise UserError(
            f"{run_a.run_id} scored {run_a.dataset} ({run_a.dataset_sha256[:12]}) and {run_b.run_id} scored "
            f"{run_b.dataset} ({run_b.dataset_sha256[:12]}): compare runs on the same dataset content"
        )
    sa, sb = aligned_scores(taxonomy, items_a, items_b)
    fields = [f.name for f in sa] + ["all"]
    return [_one(sa, sb, f, "macro_f1", _correct(sa, f), _correct(sb, f), rounds) for f in fields]


def compare_metric(
    taxonomy: Taxonomy, items_a: list[EvalItem], items_b: list[EvalItem], field: str, metric: str, rounds: int = 2000
) -> FieldComparison:
    """One field's metric (field "all": the mean macro-F1), A vs B on the rows both scored."""
    sa, sb = aligned_scores(taxonomy, items_a, items_b)
    return _one(sa, sb, field, metric, _correct(sa, field), _correct(sb, field), rounds)


def _correct(scores: list[m.FieldScores], field: str) -> np.ndarray:
    """Per item: right or not on one field; for "all", the share of its scored fields it got right (requiring
    every field right made a clear gain on a five-field use case look like no difference: few items are
    right on every field under either run)."""
    if field == "all":
        right = np.sum([f.correct() for f in scores], axis=0, dtype=np.float64)
        scored = np.sum([f.scored for f in scores], axis=0, dtype=np.float64)
        return np.divide(right, scored, out=np.zeros_like(right), where=scored > 0)
    return next(f.correct() for f in scores if f.name == field)


def _one(sa, sb, field: str, metric: str, ca: np.ndarray, cb: np.ndarray, rounds: int) -> FieldComparison:
    diff, low, high = m.paired_bootstrap(sa, sb, field, metric, rounds=rounds)
    only_a, only_b, p = m.mcnemar(ca, cb)
    return FieldComparison(field, metric, m.metric_of(sa, field, metric), m.metric_of(sb, field, metric), diff, low,
                           high, only_a, only_b, p)  # fmt: skip
