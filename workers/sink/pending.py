"""Rows waiting for the next flush, per table, already in Arrow form.

Conversion happens in process_batch, not in flush, so a value Arrow or ClickHouse
would refuse is found while its record can still be dead-lettered; flush then
only moves bytes.
"""

from __future__ import annotations

import pyarrow as pa

from shared.runtime.worker import Failed, Record
from workers.sink.tables import TableSpec


class PendingTable:
    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.chunks: list[pa.Table] = []
        self.ids: set[str] = set()
        self.rows = 0

    def add(self, items: list[tuple[Record, tuple]]) -> list[Failed]:
        """Adds the rows whose event_id is not pending yet; returns the records Arrow refused."""
        fresh = []
        for record, row in items:
            event_id = row[0]
            if event_id not in self.ids:
                self.ids.add(event_id)
                fresh.append((record, row))
        if not fresh:
            return []
        try:
            self._append(self.spec.to_arrow([row for _, row in fresh]))
            return []
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            pass  # find the bad rows one by one; the rest still lands
        failed, good = [], []
        for record, row in fresh:
            try:
                self.spec.to_arrow([row])
                good.append(row)
            except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
                self.ids.discard(row[0])
                failed.append(Failed(record, exc))
        if good:
            self._append(self.spec.to_arrow(good))
        return failed

    def _append(self, data: pa.Table) -> None:
        self.chunks.append(data)
        self.rows += data.num_rows

    def table(self) -> pa.Table:
        return pa.concat_tables(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
