"""ClickHouse against the topics the sink lands: one verdict per event.

The sink lands every analytics topic and every ``*.dlq`` topic (workers/sink/inputs.py)
into one table per event family, one row per event_id. Rows are counted per
event_id *without* FINAL: a physical duplicate was already counted twice by the
materialized views (they fire on insert), even when FINAL would hide it.

- ok: the event_id has exactly one row in its table.
- missing: no row.
- duplicated: two or more rows.
- extra: a row whose event_id is on none of the table's topics; judged only while
  every one of those topics still starts at offset 0 (after retention deleted a
  topic's start, ClickHouse rightly keeps rows the topic no longer has).
- dead_lettered: no row, and the sink dead-lettered the message (its dead letter
  is a row of dead_letters).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ladle.check.report import StageReport
from schemas import DeadLetter
from shared.runtime.worker import Record


def sink_tables() -> dict[str, str]:
    """Logical topic -> the table the sink lands it in."""
    from workers.sink.inputs import sink_topics
    from workers.sink.tables import table_for

    return {t: table_for(t).table for t in sink_topics()}


@dataclass
class Landed:
    """What the sink should have landed: per table, event_id -> the message key (for the report)."""

    tables: dict[str, str]  # topic -> table
    expected: dict[str, dict[str, str]] = field(default_factory=dict)
    dead_at: set[tuple[str, int, int]] = field(default_factory=set)  # (topic, partition, offset) the sink refused
    dead: dict[str, set[str]] = field(default_factory=dict)  # table -> event ids the sink dead-lettered
    _at: dict[tuple[str, int, int], tuple[str, str]] = field(default_factory=dict)  # dead letters' own positions

    def add_dead_letter(self, rec: Record) -> None:
        dl: DeadLetter = rec.value
        if dl.worker == "sink" and dl.original_offset >= 0:
            pos = (dl.original_topic, dl.original_partition, dl.original_offset)
            self.dead_at.add(pos)
            if pos in self._at:  # a dead letter the sink refused, read before its own dead letter
                table, eid = self._at[pos]
                self.dead.setdefault(table, set()).add(eid)

    def add(self, rec: Record) -> None:
        table = self.tables[rec.topic]
        eid = rec.value.event_id
        self.expected.setdefault(table, {}).setdefault(eid, rec.key or "")
        pos = (rec.topic, rec.partition, rec.offset)
        if pos in self.dead_at:
            self.dead.setdefault(table, set()).add(eid)
        elif rec.topic.endswith(".dlq"):
            self._at[pos] = (table, eid)


def compare_tables(
    landed: Landed, rows: dict[str, dict[str, int]], judge_extra: dict[str, bool], report: StageReport | None = None
) -> StageReport:
    """``rows``: per table, event_id -> physical row count."""
    report = report or StageReport("clickhouse")
    for table in sorted(set(landed.tables.values())):
        expected = landed.expected.get(table, {})
        got = rows.get(table, {})
        dead = landed.dead.get(table, set())
        for eid, key in expected.items():
            report.checked += 1
            n = got.get(eid, 0)
            if n == 0:
                category = "dead_lettered" if eid in dead else "missing"
                report.add(category, key or eid, f"{table}: event {eid} has no row")
            elif n > 1:
                report.add("duplicated", key or eid, f"{table}: event {eid} has {n} rows")
        unknown = got.keys() - expected.keys()
        if not unknown:
            continue
        if judge_extra.get(table, True):
            for eid in sorted(unknown):
                report.checked += 1
                report.add("extra", eid, f"{table}: {got[eid]} row(s) for an event on none of its topics")
        else:
            report.notes.append(f"{table}: {len(unknown):,} rows older than the topics' retention were not judged")
    return report
