"""`ladle check`: read the topics once, then each deployed store, and compare.

Dead-letter topics are read first, so each stage knows which inputs its worker
refused before it meets them. Topics are read before the stores: run the check
on a pipeline that has caught up (the notes say when a worker's group has not).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

from ladle.check.catalog import DLQ as CATALOG_DLQ
from ladle.check.catalog import TOPIC as CATALOG
from ladle.check.catalog import Catalog
from ladle.check.clickhouse import Landed, compare_tables, sink_tables
from ladle.check.enrichment import Enrichment, compare_enrichment
from ladle.check.guardrails import ROUTES, Guardrails, compare_guardrails
from ladle.check.index import compare_index
from ladle.check.kafka_read import TopicRead, read_topics
from ladle.check.lag import lag_notes
from ladle.check.report import STAGES, CheckReport, StageReport
from shared.runtime.errors import UserError
from shared.settings import LadleSettings

Bar = Callable[[int, int | None], None]  # (done, total)
Bars = Callable[[str], Bar]  # a progress bar per description


def parse_stages(text: str) -> list[str]:
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in STAGES]
    if unknown or not wanted:
        raise UserError(f"unknown stage(s) {', '.join(unknown) or '(none)'}; choose from {','.join(STAGES)}")
    return [s for s in STAGES if s in wanted]


def _no_bar(_description: str) -> Bar:
    return lambda _done, _total: None


def run_check(ladle: LadleSettings, stages: list[str], bars: Bars = _no_bar) -> CheckReport:
    t0 = time.monotonic()
    want = set(stages)
    _probe(ladle, want)
    catalog = Catalog() if want & {"index", "enrichment", "guardrails"} else None
    enrichment = Enrichment() if want & {"enrichment", "guardrails"} else None
    guard = Guardrails() if "guardrails" in want else None
    landed = Landed(sink_tables()) if "clickhouse" in want else None

    first: dict[str, list] = defaultdict(list)  # dead letters
    then: dict[str, list] = defaultdict(list)
    if catalog:
        first[CATALOG_DLQ].append(catalog.add_dead_letter)
        then[CATALOG].append(catalog.add)
    if enrichment:
        then["enrichment.results"].append(enrichment.add_result)
        then["llm.calls"].append(enrichment.add_call)
    if guard:
        first["enrichment.results.dlq"].append(guard.add_dead_letter)
        then["enrichment.results"].append(guard.add_result)
        for t in ROUTES:
            then[t].append(guard.add_routing)
        then["guardrail.verdicts"].append(guard.add_verdict)
    if landed:
        for topic in landed.tables:
            (first if topic.endswith(".dlq") else then)[topic].append(landed.add)
            if topic.endswith(".dlq"):
                first[topic].insert(0, landed.add_dead_letter)
    reads = read_topics(ladle, dict(first), bars("dead-letter topics")) if first else {}
    reads |= read_topics(ladle, dict(then), bars("topics"))

    reports = []
    whole = not (CATALOG in reads and reads[CATALOG].truncated)  # the topic still holds every item's history
    if "index" in want:
        reports.append(_index(ladle, catalog, bars, whole))
    if enrichment:
        current, rep = _enrichment(ladle, catalog, enrichment, whole)
        if "enrichment" in want:
            reports.append(rep)
        if guard:
            rep = StageReport("guardrails", "enrichment.accepted|review|rejected, guardrail.verdicts")
            results_whole = not reads["enrichment.results"].truncated
            reports.append(compare_guardrails(current, set(enrichment.results), guard, rep, results_whole))
    if landed:
        reports.append(_clickhouse(landed, reads, bars))
    _notes(reports, reads, lag_notes(ladle, stages))
    return CheckReport(reports, time.monotonic() - t0)


def _probe(ladle: LadleSettings, want: set[str]) -> None:
    from shared.kafka.clients import require_broker

    require_broker(ladle)
    if "index" in want:
        from ladle.check.index_source import probe

        probe(ladle)
    if "clickhouse" in want:
        from ladle.check.clickhouse_source import probe

        probe()


def _index(ladle: LadleSettings, catalog: Catalog, bars: Bars, whole: bool) -> StageReport:
    from ladle.check.index_source import read_points

    bar = bars("index points")
    source, points = read_points(ladle, lambda n: bar(n, None))
    return compare_index(catalog, points, StageReport("index", source), whole)


def _enrichment(ladle: LadleSettings, catalog: Catalog, enrichment: Enrichment, whole: bool):
    from ladle.check.texts import PromptVariables

    tasks = sorted({r.task for r in enrichment.results.values()}) or [_configured_task()]
    rep = StageReport("enrichment", "enrichment.results, llm.calls")
    rep, current = compare_enrichment(catalog, enrichment, PromptVariables(ladle), tasks, rep, whole)
    return current, rep


def _configured_task() -> str:
    try:
        from workers.enricher.settings import EnricherSettings

        return EnricherSettings().load_use_case().task
    except Exception:  # noqa: BLE001 - no use-case file: the enricher's default task
        return "tag"


def _clickhouse(landed: Landed, reads: dict[str, TopicRead], bars: Bars) -> StageReport:
    from ladle.check.clickhouse_source import open_sql, row_counts

    truncated: dict[str, bool] = {}
    for topic, table in landed.tables.items():
        truncated[table] = truncated.get(table, False) or reads[topic].truncated
    rows = {}
    with open_sql() as (source, run):
        for table in sorted(truncated):
            bar = bars(f"rows of {table}")
            rows[table] = row_counts(run, table, lambda n, bar=bar: bar(n, None))
    judge = {t: not cut for t, cut in truncated.items()}
    return compare_tables(landed, rows, judge, StageReport("clickhouse", source))


def _notes(reports: list[StageReport], reads: dict[str, TopicRead], lags: dict[str, list[str]]) -> None:
    invalid = [f"{t} ({r.invalid:,})" for t, r in sorted(reads.items()) if r.invalid]
    for rep in reports:
        rep.notes.extend(lags.get(rep.stage, []))
        if rep.stage in ("index", "enrichment", "guardrails") and reads.get(CATALOG) and reads[CATALOG].truncated:
            rep.notes.append(
                "catalog.changes lost its start to retention: items changed only before it were not judged"
            )
    if invalid and reports:
        reports[0].notes.append("not decodable, dead-lettered by their consumers: " + ", ".join(invalid))
