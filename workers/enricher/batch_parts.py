"""Where `ladle enrich` keeps its results: part files beside the output, one per finished
chunk, so an interrupted run resumes where it stopped; the output file is written
once at the end from the parts (and the previous output, if any)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("item_id", pa.string()),
        ("item_version", pa.int64()),
        ("task", pa.string()),
        ("status", pa.string()),  # ok | failed | retry (engine unavailable: a re-run tries again)
        ("error", pa.string()),
        ("output", pa.string()),  # the tags, JSON
        ("raw_output", pa.string()),
        ("engine", pa.string()),
        ("model", pa.string()),
        ("prompt_name", pa.string()),
        ("prompt_version", pa.int64()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("latency_ms", pa.float64()),
        ("ttft_ms", pa.float64()),
        ("cost_usd", pa.float64()),
        ("attempts", pa.int64()),
        ("event_id", pa.string()),
    ]
)


class PartStore:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = out.with_name(out.name + ".parts")

    def _files(self) -> list[Path]:
        files = sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else []
        return ([self.out] if self.out.is_file() else []) + files

    def done_keys(self) -> set[str]:
        """Keys already tagged (status ok) in the output or in parts of an interrupted run."""
        done: set[str] = set()
        for f in self._files():
            t = pq.read_table(f, columns=["key", "status"])
            done.update(pc.filter(t["key"], pc.equal(t["status"], "ok")).to_pylist())
        return done

    def write(self, table: pa.Table) -> Path:
        """One finished chunk, atomically: a part is either whole or absent."""
        self.parts.mkdir(parents=True, exist_ok=True)
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp = self.parts / f".{name}.tmp"
        pq.write_table(table.select(SCHEMA.names).cast(SCHEMA), tmp)
        os.replace(tmp, self.parts / name)
        return self.parts / name

    def combine(self) -> int:
        """Write the output from everything so far, one row per key (ok rows win); drop the parts."""
        tables = [pq.read_table(f).select(SCHEMA.names).cast(SCHEMA) for f in self._files()]
        if not tables:
            return 0
        rows = pa.concat_tables(tables).to_pylist()
        best: dict[str, dict] = {}
        for r in rows:  # later rows replace earlier ones, but a failure never replaces a success
            old = best.get(r["key"])
            if old is None or r["status"] == "ok" or old["status"] != "ok":
                best[r["key"]] = r
        table = pa.Table.from_pylist(list(best.values()), schema=SCHEMA)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(f".{self.out.name}.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, self.out)
        shutil.rmtree(self.parts, ignore_errors=True)
        return table.num_rows
