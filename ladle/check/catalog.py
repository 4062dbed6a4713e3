"""The truth: catalog.changes read to its end, the latest version of every item.

Versions are monotonic per item (the producers' contract), so the latest change is
the one with the highest version, wherever it sits in the partition: the workers'
version guards apply the same rule. A delete as the latest change means the item
must be absent downstream. The raw bytes of the latest change are kept (not the
decoded model) and decoded again only when a stage needs the item's fields.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from pydantic import ValidationError

from schemas import CatalogChange, DeadLetter
from shared.runtime.worker import Record

TOPIC = "catalog.changes"
DLQ = TOPIC + ".dlq"


@dataclass(slots=True)
class Latest:
    version: int
    op: str  # "upsert" or "delete"
    raw: bytes  # the message, for the item's fields

    @property
    def live(self) -> bool:
        return self.op == "upsert"

    def change(self) -> CatalogChange:
        return CatalogChange.from_json(self.raw)


class Catalog:
    """Collects catalog.changes (the latest per item) and its dead letters (who refused which version)."""

    def __init__(self) -> None:
        self.items: dict[str, Latest] = {}
        self.changes = 0
        self.dead: dict[tuple[str, int], set[str]] = {}  # (item_id, version) -> workers that dead-lettered it

    def add(self, rec: Record) -> None:
        c: CatalogChange = rec.value
        self.changes += 1
        cur = self.items.get(c.item_id)
        if cur is None or c.version > cur.version:  # an equal version is a replay: the first one stands
            self.items[c.item_id] = Latest(c.version, c.op, rec.raw)

    def add_dead_letter(self, rec: Record) -> None:
        dl: DeadLetter = rec.value
        if dl.original_topic != TOPIC or not dl.raw_value_b64 or dl.truncated:
            return
        try:
            c = CatalogChange.from_json(base64.b64decode(dl.raw_value_b64))
        except (ValidationError, ValueError):
            return  # malformed on arrival: never part of the truth either
        self.dead.setdefault((c.item_id, c.version), set()).add(dl.worker)

    def dead_lettered(self, item_id: str, workers: tuple[str, ...]) -> bool:
        """Whether one of these workers dead-lettered the item's latest version."""
        latest = self.items.get(item_id)
        if latest is None:
            return False
        return bool(self.dead.get((item_id, latest.version), set()) & set(workers))

    @property
    def live(self) -> int:
        return sum(1 for v in self.items.values() if v.live)
