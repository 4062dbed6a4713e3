"""ClickHouseSink: lands every analytics event and every dead letter in ClickHouse.

process_batch maps records to rows and buffers them per table (Arrow); flush
lands each table's buffer (see `landing.py` for why a replay never counts
twice). The runtime commits offsets only after flush returned, so a crash
anywhere replays the batch, and the replay lands nothing twice.
"""

from __future__ import annotations

import time

import structlog
from clickhouse_connect.driver.exceptions import ClickHouseError

from shared.pricing import Pricing
from shared.runtime.errors import BadMessage
from shared.runtime.worker import BatchResult, Failed, Record
from workers.sink.costing import RowContext
from workers.sink.failures import classify
from workers.sink.inputs import sink_topics
from workers.sink.landing import Lander
from workers.sink.migrations import migrate
from workers.sink.pending import PendingTable
from workers.sink.settings import SinkSettings, sink_settings
from workers.sink.store import ClickHouseStore
from workers.sink.tables import TableSpec, table_for

log = structlog.get_logger()


class ClickHouseSink:
    name = "sink"

    def __init__(self, store: ClickHouseStore, pricing: Pricing | None = None, *, owns_store: bool = False) -> None:
        self.store = store
        self.pricing = pricing
        self.input_topics = sink_topics()
        self._owns_store = owns_store
        self._lander = Lander(store)
        self._pending: dict[str, PendingTable] = {}
        self._contexts: dict[str, RowContext] = {}
        self.api = None  # the query API serving this store (workers/sink/service.py), stopped before it closes

    @classmethod
    def from_settings(cls, settings: SinkSettings | None = None) -> ClickHouseSink:
        """Opens the store, applies migrations and loads the pricing file."""
        settings = settings or sink_settings()
        pricing = Pricing.load(settings.pricing_file)
        store = ClickHouseStore.open(settings)
        try:
            migrate(store, body_ttl_days=settings.clickhouse_body_ttl_days)
        except Exception:
            store.close()
            raise
        return cls(store, pricing, owns_store=True)

    def process_batch(self, batch: list[Record]) -> BatchResult:
        failed: list[Failed] = []
        grouped: dict[str, tuple[TableSpec, list[tuple[Record, tuple]]]] = {}
        for record in batch:
            spec = table_for(record.topic)
            if spec is None:
                failed.append(Failed(record, BadMessage(f"the sink has no table for topic {record.topic!r}")))
                continue
            ctx = self._contexts.get(record.topic) or self._contexts.setdefault(
                record.topic, RowContext(record.topic, self.pricing)
            )
            try:
                row = spec.to_row(record.value, ctx)
            except Exception as exc:  # noqa: BLE001 - a row that cannot be mapped is dead-lettered
                failed.append(Failed(record, exc))
                continue
            grouped.setdefault(spec.table, (spec, []))[1].append((record, row))
        for table, (spec, items) in grouped.items():
            pending = self._pending.get(table) or self._pending.setdefault(table, PendingTable(spec))
            failed.extend(pending.add(items))
        return BatchResult(failed=failed)

    def flush(self) -> None:
        pending, self._pending = self._pending, {}  # on failure the runtime replays the batch
        if not pending:
            return
        t0 = time.perf_counter()
        offered = inserted = 0
        try:
            for p in pending.values():
                landed = self._lander.land(p.spec, p.table())
                offered += landed.offered
                inserted += landed.inserted
        except ClickHouseError as exc:
            raise classify(exc) from exc
        log.debug(
            "sink.flushed", rows=offered, inserted=inserted, duplicates=offered - inserted,
            seconds=round(time.perf_counter() - t0, 4),
        )  # fmt: skip

    def pending_rows(self) -> int:
        return sum(p.rows for p in self._pending.values())

    def close(self) -> None:
        if self._pending:
            log.warning("sink.closed_with_unflushed_rows", rows=self.pending_rows())
            self._pending = {}
        if self.api is not None:
            self.api.stop()
        if self._owns_store:
            self.store.close()
