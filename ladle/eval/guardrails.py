"""Evaluate a policy on a labelled set: precision, recall and F1 per check, latency p50/p99.

A record (deploy/guardrails/devset.jsonl) is ``{"id", "split", "result": {...},
"labels": {check: bool}}``; a check "fires" on a record when its outcome did not
pass. ``tune`` sweeps the thresholds of the threshold checks over the scores seen on
one split and reports the best F1, so thresholds are chosen on dev and reported on test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shared.guardrails.engine import Engine
from shared.guardrails.subject import Subject
from shared.runtime.errors import UserError

# check -> (direction, policy key it tunes); "above": fires when score >= t, "below": when score < t
TUNABLE = {"injection": ("above", "threshold"), "toxicity": ("above", "threshold"), "pii": ("above", "min_score")}


@dataclass
class CheckStats:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    latencies: list[float] = field(default_factory=list)
    scored: list[tuple[float, bool]] = field(default_factory=list)  # (score, label) for tuning

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def quantile(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else 0.0


def load_records(path: str | Path, split: str | None = None) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise UserError(f"labelled set {path} not found")
    out = []
    for n, line in enumerate(path.read_text().split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            rec["result"], rec["labels"]  # noqa: B018 - shape check
        except (ValueError, KeyError, TypeError):
            raise UserError(f"{path}:{n}: expected a JSON object with result and labels") from None
        if split in (None, "all") or rec.get("split") == split:
            out.append(rec)
    return out


def subject_of(rec: dict) -> Subject:
    """A record's result as a subject; its output may be anything (schema breaks are the point)."""
    r = rec["result"]
    return Subject(
        id=str(rec.get("id", r.get("item_id", ""))),
        inputs={"item_text": r.get("item_text", "")},
        outputs={"raw_output": r.get("raw_output", "")},
        output=r.get("output"),
        use_case=r.get("task", "tag"),
    )


def evaluate(
    engine: Engine,
    records: list[dict],
    policy: str | None = None,
    batch_size: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, CheckStats], dict[str, int]]:
    stats: dict[str, CheckStats] = {}
    routes: dict[str, int] = {}
    for start in range(0, len(records), batch_size):
        chunk = records[start : start + batch_size]
        decisions = engine.decide([subject_of(r) for r in chunk], policy)
        for rec, d in zip(chunk, decisions, strict=True):
            routes[d.route] = routes.get(d.route, 0) + 1
            for o in d.verdict.checks:
                s = stats.setdefault(o.check, CheckStats())
                label = bool(rec["labels"].get(o.check, False))
                fired = not o.passed
                s.tp += fired and label
                s.fp += fired and not label
                s.fn += (not fired) and label
                s.tn += (not fired) and not label
                s.latencies.append(o.latency_ms)
                if o.score is not None:
                    s.scored.append((o.score, label))
        if progress:
            progress(len(chunk))
    return stats, routes


def best_threshold(scored: Iterable[tuple[float, bool]], direction: str) -> tuple[float, float, float, float]:
    """(threshold, f1, precision, recall) maximising F1; ties go to the more conservative threshold."""
    pairs = list(scored)
    best = (0.0, -1.0, 0.0, 0.0)
    for t in sorted({s for s, _ in pairs}):
        fired = [(s >= t if direction == "above" else s < t, y) for s, y in pairs]
        tp = sum(f and y for f, y in fired)
        fp = sum(f and not y for f, y in fired)
        fn = sum((not f) and y for f, y in fired)
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 > best[1]:
            best = (t, f1, p, r)
    return best


def tuning_direction(engine: Engine, policy: str, check: str) -> tuple[str, str] | None:
    if check == "consistency":
        cfg = next(c for c in engine.policies.policy(policy).checks if c.check == "consistency")
        return ("below" if cfg.metric == "similarity" else "above", "threshold")
    return TUNABLE.get(check)


def for_tuning(engine: Engine, policy: str) -> Engine:
    """The engine with ``policy`` set to report every score: Presidio findings of any score."""
    from shared.guardrails.policy import PolicySet

    ps = engine.policies
    pol = ps.policy(policy)
    checks = tuple(c.model_copy(update={"min_score": 0.0}) if c.check == "pii" else c for c in pol.checks)
    policies = dict(ps.file.policies)
    policies[policy] = pol.model_copy(update={"checks": checks})
    tuned = Engine.__new__(Engine)
    tuned.__dict__.update(engine.__dict__)
    tuned.policies = PolicySet(ps.file.model_copy(update={"policies": policies}), ps.taxonomy, ps.source)
    tuned._checks = {}
    return tuned


def suggested(engine: Engine, policy: str, check: str, t: float) -> float:
    """The config value that fires exactly where score threshold ``t`` does."""
    if check == "consistency":
        cfg = next(c for c in engine.policies.policy(policy).checks if c.check == "consistency")
        if cfg.metric == "margin":  # fires when margin > threshold
            return round(t - 0.0005, 4)
    return round(t, 4)
