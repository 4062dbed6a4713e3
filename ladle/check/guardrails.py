"""Guardrail routing of the current enrichment results: one verdict per item.

Every current result (see enrichment.py) must be routed once: one GuardedResult on
exactly one of enrichment.accepted / .review / .rejected, and one GuardrailVerdict
on guardrail.verdicts with the result's event_id as subject. Both carry ids derived
from the result's event_id and the policy version, so a replay is the same event.

- missing: a current result has no routing, or no verdict.
- duplicated: a current result was routed under two ids (two policy versions) or
  to two routes, or has two distinct verdicts.
- extra: a routing of a result that is not on enrichment.results.
- dead_lettered: not routed, and guardrails dead-lettered the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ladle.check.enrichment import Result
from ladle.check.report import StageReport
from schemas import DeadLetter, GuardedResult, GuardrailVerdict
from shared.runtime.worker import Record

ROUTES = ("enrichment.accepted", "enrichment.review", "enrichment.rejected")
SEVERITY = ("duplicated", "missing", "dead_lettered")


@dataclass
class Guardrails:
    routings: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # result id -> routing id -> routes
    items: dict[str, str] = field(default_factory=dict)  # result id -> item_id
    verdicts: dict[str, set[str]] = field(default_factory=dict)  # subject (result) id -> verdict ids
    dead_at: set[tuple[int, int]] = field(default_factory=set)  # enrichment.results positions guardrails refused
    dead: set[str] = field(default_factory=set)  # result ids guardrails dead-lettered

    def add_dead_letter(self, rec: Record) -> None:
        dl: DeadLetter = rec.value
        if dl.worker == "guardrails" and dl.original_topic == "enrichment.results" and dl.original_offset >= 0:
            self.dead_at.add((dl.original_partition, dl.original_offset))

    def add_result(self, rec: Record) -> None:
        if (rec.partition, rec.offset) in self.dead_at:
            self.dead.add(rec.value.event_id)

    def add_routing(self, rec: Record) -> None:
        g: GuardedResult = rec.value
        rid = g.result.event_id
        self.routings.setdefault(rid, {}).setdefault(g.event_id, set()).add(rec.topic.rpartition(".")[2])
        self.items[rid] = g.result.item_id

    def add_verdict(self, rec: Record) -> None:
        v: GuardrailVerdict = rec.value
        if v.subject_kind == "enrichment_result":
            self.verdicts.setdefault(v.subject_id, set()).add(v.event_id)


def compare_guardrails(
    current: list[Result], known: set[str], g: Guardrails, report: StageReport | None = None, judge_extra: bool = True
) -> StageReport:
    """``current``: the current results; ``known``: every result id on enrichment.results. ``judge_extra``
    is False once retention deleted the start of enrichment.results: older routings are then unmatched."""
    report = report or StageReport("guardrails")
    by_item: dict[str, list[Result]] = {}
    for r in current:
        by_item.setdefault(r.item_id, []).append(r)
    for item_id in sorted(by_item):
        report.checked += 1
        verdicts = [_judge(r, g) for r in by_item[item_id]]
        worst = [v for v in verdicts if v[0]]
        if worst:
            category, detail = min(worst, key=lambda v: SEVERITY.index(v[0]))
            report.add(category, item_id, detail)
    for rid in sorted(g.routings.keys() - known) if judge_extra else ():
        report.checked += 1
        report.add("extra", g.items[rid], f"routing of result {rid}, which is not on enrichment.results")
    return report


def _judge(r: Result, g: Guardrails) -> tuple[str | None, str]:
    routings = g.routings.get(r.event_id, {})
    verdicts = g.verdicts.get(r.event_id, set())
    if not routings:
        if r.event_id in g.dead:
            return "dead_lettered", f"guardrails dead-lettered result {r.event_id}"
        return "missing", f"result {r.event_id} (v{r.item_version}) was never routed"
    routes = sorted({route for rs in routings.values() for route in rs})
    if len(routings) > 1 or len(routes) > 1:
        return "duplicated", f"result {r.event_id} routed under {len(routings)} id(s) to {', '.join(routes)}"
    if not verdicts:
        return "missing", f"result {r.event_id} has no verdict on guardrail.verdicts"
    if len(verdicts) > 1:
        return "duplicated", f"result {r.event_id} has {len(verdicts)} distinct verdicts"
    return None, ""
