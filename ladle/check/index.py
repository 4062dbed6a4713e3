"""The vector index against the catalog: one verdict per item.

- ok: a live item has exactly one point, with a vector, not a tombstone, at the
  catalog's latest version; a deleted item has no point or a tombstone.
- missing: a live item has no point.
- stale: the point disagrees with the latest change: another version, a tombstone
  for a live item, no vector, or a searchable point for a deleted item.
- duplicated: more than one point carries the item's id.
- extra: a searchable point for an item the catalog topic does not have.
- dead_lettered: missing or stale, and the embedder dead-lettered the latest version.
"""

from __future__ import annotations

from collections.abc import Iterable

from ladle.check.catalog import Catalog
from ladle.check.report import StageReport
from workers.embedder.store import PointRow

WORKERS = ("embedder",)


def _state(p: PointRow) -> str:
    if p.deleted:
        return f"a tombstone at v{p.version}"
    return f"v{p.version}" + ("" if p.vector else " without a vector")


def compare_index(
    catalog: Catalog, points: Iterable[PointRow], report: StageReport | None = None, judge_extra: bool = True
) -> StageReport:
    """``judge_extra`` is False once retention deleted the start of catalog.changes: the index rightly
    keeps items whose changes the topic no longer has."""
    report = report or StageReport("index")
    by_item: dict[str, list[PointRow]] = {}
    for p in points:
        if p.item_id is None:
            report.checked += 1
            report.add("extra", p.id, "a point without an item_id in its payload")
            continue
        by_item.setdefault(p.item_id, []).append(p)

    for item_id in catalog.items.keys() | by_item.keys():
        latest = catalog.items.get(item_id)
        rows = by_item.get(item_id, [])
        if latest is None:
            live = [p for p in rows if not p.deleted]
            if live and judge_extra:  # a tombstone of an item the topic no longer holds is absent enough
                report.checked += 1
                report.add("extra", item_id, f"not in the catalog topic; the index has {_state(live[0])}")
            continue
        report.checked += 1
        if len(rows) > 1:
            report.add("duplicated", item_id, f"{len(rows)} points: " + ", ".join(sorted(p.id for p in rows)))
            continue
        point = rows[0] if rows else None
        category, detail = _judge(latest.live, latest.version, point)
        if category and category != "extra" and catalog.dead_lettered(item_id, WORKERS):
            category, detail = "dead_lettered", f"the embedder dead-lettered v{latest.version}"
        if category:
            report.add(category, item_id, detail)
    return report


def _judge(live: bool, version: int, p: PointRow | None) -> tuple[str | None, str]:
    if live:
        if p is None:
            return "missing", f"catalog v{version}, no point"
        if p.deleted or not p.vector or p.version != version:
            return "stale", f"catalog v{version}, index has {_state(p)}"
        return None, ""
    if p is None or p.deleted or not p.vector:
        return None, ""
    return "stale", f"deleted at v{version}, index still has {_state(p)}"
