"""Landing a batch in a table so that a replayed event never counts twice.

Design (why each part is there):

1. The sink skips every event_id that has already landed, *before* inserting.
   The batch goes into a session-scoped temporary Memory table (one columnar
   Arrow insert), and one ``INSERT INTO t SELECT ... FROM stage WHERE event_id NOT IN
   (ids of the stage already in t)`` moves the new rows. The lookup runs inside
   ClickHouse (bloom-filter index on event_id), so a 100k-row flush sends no
   100k-id SQL text, and it reads the table itself, so it is exact: no second
   bookkeeping table that could drift from the data after a crash.
2. Materialized views fire on that INSERT only, so they see only new rows: the
   aggregates (cost, quantiles, counts) need no deduplication at read time.
3. One event_id always arrives on one partition (events are keyed by the entity
   their id derives from), hence in one sink, so two sinks never race to land the
   same id; ids repeated inside one batch are dropped before staging.
4. Safety net: raw tables are ReplacingMergeTree with event_id last in the
   sorting key, and raw-table queries use FINAL, for the duplicate that could
   slip in while a partition moves between two sinks in a rebalance.

A crash after the INSERT but before the offsets were committed replays the
batch; step 1 then finds every id and inserts nothing. A crash *during* one
INSERT can leave a view behind its table (never ahead of it): views only
undercount, and only for that one block.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import structlog
from clickhouse_connect.driver.exceptions import DatabaseError

from workers.sink.store import ClickHouseStore
from workers.sink.tables import TableSpec

log = structlog.get_logger()
UNKNOWN_TABLE = 60


@dataclass(slots=True)
class Landed:
    table: str
    offered: int
    inserted: int

    @property
    def duplicates(self) -> int:
        return self.offered - self.inserted


class Lander:
    """Lands batches through per-table staging tables in the store's writer session."""

    def __init__(self, store: ClickHouseStore) -> None:
        self.store = store
        self._staged: set[str] = set()
        self._dirty: set[str] = set()  # stages whose TRUNCATE failed; cleared before reuse

    def _stage(self, spec: TableSpec) -> str:
        name = f"_ladle_stage_{spec.table}"
        if name not in self._staged:
            cols = ", ".join(spec.names)
            self.store.command(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} ENGINE = Memory AS SELECT {cols} FROM {spec.table} WHERE 0"
            )
            self._staged.add(name)
        if name in self._dirty:
            self.store.command(f"TRUNCATE TABLE {name}")
            self._dirty.discard(name)
        return name

    def land(self, spec: TableSpec, data: pa.Table) -> Landed:
        if data.num_rows == 0:
            return Landed(spec.table, 0, 0)
        stage, table, cols = self._stage(spec), spec.table, ", ".join(spec.names)
        try:
            self._insert_stage(spec, stage, data)
            seen = int(
                self.store.scalar(
                    f"SELECT uniqExact(event_id) FROM {table} WHERE event_id IN (SELECT event_id FROM {stage})"
                )
            )
            if seen == 0:
                self.store.command(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage}")
            elif seen < data.num_rows:
                self.store.command(
                    f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} WHERE event_id NOT IN "
                    f"(SELECT event_id FROM {table} WHERE event_id IN (SELECT event_id FROM {stage}))"
                )
        finally:
            self._clear(stage)
        landed = Landed(table, data.num_rows, data.num_rows - seen)
        if landed.duplicates:
            log.info("sink.duplicates_skipped", table=table, offered=landed.offered, skipped=landed.duplicates)
        return landed

    def _insert_stage(self, spec: TableSpec, stage: str, data: pa.Table) -> None:
        try:
            self.store.insert_arrow(stage, data)
        except DatabaseError as exc:
            if exc.code != UNKNOWN_TABLE:
                raise
            # An HTTP session expired while the sink was idle and took its temporary tables along.
            self._staged.discard(stage)
            self.store.insert_arrow(self._stage(spec), data)

    def _clear(self, stage: str) -> None:
        try:
            self.store.command(f"TRUNCATE TABLE {stage}")
        except Exception as exc:  # noqa: BLE001 - the insert's own error, if any, is the one to raise
            self._dirty.add(stage)
            log.warning("sink.stage_clear_failed", stage=stage, error=" ".join(str(exc).split())[:300])
