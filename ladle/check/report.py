"""What a stage of `ladle check` found: one verdict per unit it checked.

Every unit (an item, or a row for ClickHouse) lands in exactly one category, so
``checked == ok + sum(findings)``. ``dead_lettered`` is not a failure: the unit's
input went to a dead-letter topic, which is how the pipeline reports a bad
message, so nothing downstream is expected for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STAGES = ("index", "enrichment", "guardrails", "clickhouse")
FAILURES = ("missing", "stale", "duplicated", "extra")
CATEGORIES = (*FAILURES, "dead_lettered")


@dataclass(frozen=True, slots=True)
class Finding:
    id: str  # the item_id (for ClickHouse: the message key of the event)
    detail: str = ""


@dataclass
class StageReport:
    stage: str
    source: str = ""  # where the stage read its side from (an API, a folder, a server)
    checked: int = 0
    findings: dict[str, list[Finding]] = field(default_factory=lambda: {c: [] for c in CATEGORIES})
    notes: list[str] = field(default_factory=list)

    def add(self, category: str, id_: str, detail: str = "") -> None:
        self.findings[category].append(Finding(id_, detail))

    def count(self, category: str) -> int:
        return len(self.findings[category])

    @property
    def ok(self) -> int:
        return self.checked - sum(len(v) for v in self.findings.values())

    @property
    def failed(self) -> int:
        return sum(self.count(c) for c in FAILURES)

    def ids(self, category: str) -> list[str]:
        return sorted({f.id for f in self.findings[category]})

    def to_json(self, limit: int) -> dict:
        out = {"stage": self.stage, "source": self.source, "checked": self.checked, "ok": self.ok}
        out.update({c: self.count(c) for c in CATEGORIES})
        out["findings"] = {
            c: [{"id": f.id, "detail": f.detail} for f in sorted(self.findings[c], key=_order)[:limit]]
            for c in CATEGORIES
            if self.findings[c]
        }
        out["notes"] = self.notes
        return out


def _order(f: Finding) -> tuple[str, str]:
    return f.id, f.detail


@dataclass
class CheckReport:
    stages: list[StageReport]
    seconds: float = 0.0

    @property
    def clean(self) -> bool:
        return all(s.failed == 0 for s in self.stages)

    def summary(self) -> str:
        totals = {c: sum(s.count(c) for s in self.stages) for c in CATEGORIES}
        checked = sum(s.checked for s in self.stages)
        verdict = "clean" if self.clean else "NOT clean"
        parts = ", ".join(f"{totals[c]:,} {c}" for c in FAILURES)
        dead = f", {totals['dead_lettered']:,} dead-lettered" if totals["dead_lettered"] else ""
        names = ",".join(s.stage for s in self.stages)
        return f"check {verdict}: {checked:,} checked in {names}; {parts}{dead} ({self.seconds:.1f}s)"

    def to_json(self, limit: int = 1000) -> dict:
        return {
            "clean": self.clean,
            "summary": self.summary(),
            "seconds": round(self.seconds, 3),
            "stages": [s.to_json(limit) for s in self.stages],
        }
