"""`ladle enrich`'s input and tally: catalog rows in, counts and tokens out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from rich.console import Console

from schemas import CatalogChange
from shared.catalog_file import read_rows
from shared.runtime.errors import UserError


@dataclass
class BatchSummary:
    items: int = 0  # upserts in the file (distinct content)
    skipped: int = 0  # already done by an earlier run
    enriched: int = 0
    classified: int = 0  # of the enriched: answered whole by the use case's cascade, no model call
    failed: int = 0
    retry: int = 0  # the engine was unavailable: a re-run tries them again
    rejected: int = 0  # rows that are not valid catalog items
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    rows_out: int = 0
    first_result_s: float | None = None  # start-up: Ray Data, actors, model loads, the first chunk
    interrupted: bool = False


def read_changes(path: Path, version: int | None, summary: BatchSummary, console: Console) -> list[CatalogChange]:
    if not path.exists():
        raise UserError(f"{path}: no such file")
    # Rows without a version get the file's modification time: stable across re-runs, so
    # a resumed run gives the same result ids as the run it continues.
    version = version if version is not None else int(path.stat().st_mtime * 1000)
    changes = []
    for r in read_rows(path, version=version):
        if r.change is None:
            summary.rejected += 1
            console.print(f"[red]line {r.line}[/red]: {r.error}", highlight=False)
        elif r.change.op == "upsert":
            changes.append(r.change)
    return changes


def count(table: pa.Table, s: BatchSummary) -> None:
    for status, engine in zip(table.column("status").to_pylist(), table.column("engine").to_pylist(), strict=True):
        if status == "ok":
            s.enriched += 1
            s.classified += engine == "cascade"
        elif status == "failed":
            s.failed += 1
        else:
            s.retry += 1
    s.input_tokens += sum(table.column("input_tokens").to_pylist())
    s.output_tokens += sum(table.column("output_tokens").to_pylist())
    s.cost_usd += sum(c or 0 for c in table.column("cost_usd").to_pylist())
