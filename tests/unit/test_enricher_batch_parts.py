"""`ladle enrich`'s part files: what counts as done, and the final output."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from workers.enricher.batch_parts import SCHEMA, PartStore


def rows(*pairs):
    base = {n: None for n in SCHEMA.names}
    return pa.Table.from_pylist([base | {"key": k, "item_id": k, "status": s} for k, s in pairs], schema=SCHEMA)


def test_only_ok_rows_are_done_and_the_output_keeps_one_row_per_key(tmp_path):
    store = PartStore(tmp_path / "results.parquet")
    store.write(rows(("a", "ok"), ("b", "failed")))
    store.write(rows(("c", "retry")))
    assert store.done_keys() == {"a"}
    store.write(rows(("b", "ok"), ("a", "failed")))  # a re-run fixed b; a late failure never beats a success
    assert store.combine() == 3
    out = pq.read_table(tmp_path / "results.parquet").to_pylist()
    assert sorted((r["key"], r["status"]) for r in out) == [("a", "ok"), ("b", "ok"), ("c", "retry")]
    assert not store.parts.exists()
    # a later run on a longer file: the output counts as done, new parts are merged into it
    store.write(rows(("d", "ok")))
    assert store.done_keys() == {"a", "b", "d"}
    assert store.combine() == 4


def test_no_half_written_parts(tmp_path):
    store = PartStore(tmp_path / "r.parquet")
    store.write(rows(("a", "ok")))
    assert [p.name for p in store.parts.iterdir() if p.name.startswith(".")] == []
