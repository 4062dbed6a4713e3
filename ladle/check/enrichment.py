"""Enrichment results against the catalog: one verdict per live item and task.

A result is *current* for an item when it is for the item's latest version, or for
an older version whose text, as the result's prompt shows it, equals the latest
version's (the enricher skips such versions on purpose; see texts.py). Replays of
one result carry the same event_id and count once.

- ok: exactly one current result (one distinct event_id), and every model call
  it paid for (``attempts`` LLMCalls, call_id uuid5(result event_id, attempt)) is
  on llm.calls; a result a cascade's classifier answered whole (engine ``cascade``)
  paid for none.
- missing: no result at all, or the current result's LLMCalls are not all there.
- stale: results exist, none of them current.
- duplicated: two or more distinct event_ids are current: the item was enriched
  twice for the same content (two model bills, two routings, costs counted twice).
- extra: a result for an item the catalog does not have, or for a version newer
  than the item's latest (deleted items included: their earlier results are history).
- dead_lettered: missing or stale, and the enricher (streaming or batch)
  dead-lettered the latest version (malformed model output).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ladle.check.catalog import Catalog, Latest
from ladle.check.report import StageReport
from schemas import EnrichmentResult, PromptRef, stable_id
from shared.runtime.worker import Record
from workers.enricher.tagging import item_text_for

WORKERS = ("enricher", "ladle-enrich")
Variables = Callable[[PromptRef | None], list[str] | None]


@dataclass(slots=True)
class Result:
    event_id: str
    item_id: str
    item_version: int
    task: str
    item_text: str
    prompt: PromptRef | None
    model_calls: int
    copies: int = 1  # replays: the same event_id again

    @classmethod
    def of(cls, r: EnrichmentResult) -> Result:
        calls = 0 if r.engine == "cascade" else r.attempts  # the classifier answered: no model was called
        return cls(r.event_id, r.item_id, r.item_version, r.task, r.item_text, r.prompt, calls)


@dataclass
class Enrichment:
    """Collects enrichment.results (by event_id) and the call_ids on llm.calls."""

    results: dict[str, Result] = field(default_factory=dict)
    calls: set[str] = field(default_factory=set)

    def add_result(self, rec: Record) -> None:
        r: EnrichmentResult = rec.value
        seen = self.results.get(r.event_id)
        if seen is None:
            self.results[r.event_id] = Result.of(r)
        else:
            seen.copies += 1

    def add_call(self, rec: Record) -> None:
        self.calls.add(rec.value.call_id)


def is_current(r: Result, latest: Latest, variables: Variables, texts: dict[str, str]) -> bool:
    if r.item_version == latest.version:
        return True
    if r.item_version > latest.version or not r.item_text:
        return False
    names = variables(r.prompt)
    if names is None:
        return False
    key = f"{r.item_id}\x1f{','.join(names)}"
    if key not in texts:
        texts[key] = item_text_for(latest.change(), names)
    return texts[key] == r.item_text


def compare_enrichment(
    catalog: Catalog,
    enrichment: Enrichment,
    variables: Variables,
    tasks: list[str],
    report: StageReport | None = None,
    judge_extra: bool = True,
) -> tuple[StageReport, list[Result]]:
    """The report, and the current results (what guardrails must have routed). ``judge_extra`` is
    False once retention deleted the start of catalog.changes (results of unknown items are then fine)."""
    report = report or StageReport("enrichment")
    by_unit: dict[tuple[str, str], list[Result]] = {}
    for r in enrichment.results.values():
        by_unit.setdefault((r.item_id, r.task), []).append(r)
    units = {(i, t) for i, latest in catalog.items.items() if latest.live for t in tasks} | by_unit.keys()
    current_all: list[Result] = []
    texts: dict[str, str] = {}
    for item_id, task in sorted(units):
        latest = catalog.items.get(item_id)
        results = sorted(by_unit.get((item_id, task), []), key=lambda r: (r.item_version, r.event_id))
        where = f"{task}: " if len(tasks) > 1 else ""
        if latest is None or not latest.live:
            beyond = [
                r for r in results if (latest is None and judge_extra) or (latest and r.item_version > latest.version)
            ]
            if beyond:
                report.checked += 1
                why = "not in the catalog topic" if latest is None else f"deleted at v{latest.version}"
                report.add("extra", item_id, f"{where}{why}; result for v{beyond[-1].item_version}")
            continue
        report.checked += 1
        current = [r for r in results if is_current(r, latest, variables, texts)]
        category, detail = _judge(latest, results, current, enrichment.calls)
        if category in ("missing", "stale") and not current and catalog.dead_lettered(item_id, WORKERS):
            category, detail = "dead_lettered", f"the enricher dead-lettered v{latest.version}"
        if category:
            report.add(category, item_id, where + detail)
        current_all.extend(current)
    return report, current_all


def _judge(latest: Latest, results: list[Result], current: list[Result], calls: set[str]) -> tuple[str | None, str]:
    if not results:
        return "missing", f"catalog v{latest.version}, no result"
    if not current:
        versions = ", ".join(f"v{r.item_version}" for r in results)
        return "stale", f"catalog v{latest.version}, results for {versions} only"
    if len(current) > 1:
        ids = ", ".join(f"{r.event_id} (v{r.item_version})" for r in current)
        return "duplicated", f"{len(current)} results for the current content: {ids}"
    r = current[0]
    lost = [a for a in range(1, r.model_calls + 1) if stable_id(r.event_id, a) not in calls]
    if lost:
        return "missing", f"result {r.event_id}: {len(lost)} of {r.model_calls} llm.calls missing"
    return None, ""
