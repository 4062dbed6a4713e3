"""Rows of a catalog file (JSONL or CSV) -> CatalogChange events, each bad row with its line number."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from schemas import CatalogChange, CatalogItem
from shared.runtime.codec import one_line
from shared.runtime.errors import UserError

ENVELOPE = {"op", "version", "occurred_at", "trace_id", "event_id", "schema_version", "source", "item"}
LIST_SEP = "|"
# Oversized cells are reported by the schema's own limits, not by the csv module.
csv.field_size_limit(64 * 1024 * 1024)


@dataclass
class Row:
    line: int
    raw: str
    change: CatalogChange | None = None
    error: str | None = None


def _csv_row(row: dict[str, str]) -> dict:
    """CSV cells are strings: empty means absent, tags are '|'-separated, attributes.K columns form a map."""
    out: dict = {}
    attrs: dict[str, str] = {}
    for k, v in row.items():
        if k is None:
            raise ValueError("row has more cells than the header")
        if v is None or v == "":
            continue
        if k.startswith("attributes."):
            attrs[k.split(".", 1)[1]] = v
        elif k == "tags":
            out[k] = [t.strip() for t in v.split(LIST_SEP) if t.strip()]
        elif k == "available":
            out[k] = v.strip().lower() in ("1", "true", "yes", "y")
        else:
            out[k] = v
    if attrs:
        out["attributes"] = attrs
    return out


def to_change(data: dict, *, delete: bool, default_version: int, source: str) -> CatalogChange:
    if not isinstance(data, dict):
        raise ValueError(f"expected an object, got {type(data).__name__}")
    if "item" in data or data.get("op") == "delete":
        payload = dict(data)  # already a CatalogChange
    else:
        fields = {k: v for k, v in data.items() if k not in ENVELOPE}
        payload = {k: v for k, v in data.items() if k in ENVELOPE}
        payload["item_id"] = fields.get("item_id")
        if not delete:
            payload["item"] = fields
    if delete:
        payload["op"] = "delete"
        payload.pop("item", None)
    payload.setdefault("op", "upsert")
    payload.setdefault("version", default_version)
    payload.setdefault("source", source)
    return CatalogChange.from_dict(payload)


def read_rows(path: Path, *, delete: bool = False, version: int | None = None) -> Iterator[Row]:
    """Every data row of the file, parsed; never raises for a bad row."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
        raise UserError(f"{path}: unknown format {suffix!r}; use .jsonl or .csv")
    default_version = version if version is not None else time.time_ns() // 1_000_000
    source = path.name
    with path.open(newline="", encoding="utf-8", errors="strict") as fh:
        if suffix == ".csv":
            reader = csv.DictReader(fh)
            missing = {"item_id"} - set(reader.fieldnames or [])
            if missing:
                raise UserError(f"{path}: the CSV header needs column(s) {', '.join(sorted(missing))}")
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:  # a broken line is one bad row, not a crash
                    yield Row(reader.line_num, "", error=f"bad CSV: {exc}")
                    continue
                raw = ",".join(v for v in row.values() if isinstance(v, str))
                yield _parse(reader.line_num, raw, lambda r=row: _csv_row(r), delete, default_version, source)
        else:
            for line, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                yield _parse(line, text.rstrip("\n"), lambda t=text: json.loads(t), delete, default_version, source)


def _parse(line: int, raw: str, load, delete: bool, default_version: int, source: str) -> Row:
    try:
        data = load()
        return Row(
            line, raw, change=to_change(data, delete=delete, default_version=default_version, source=f"{source}:{line}")
        )
    except json.JSONDecodeError as exc:
        return Row(line, raw, error=f"not JSON: {exc.msg} at column {exc.colno}")
    except ValidationError as exc:
        return Row(line, raw, error=one_line(exc))
    except (ValueError, TypeError) as exc:
        return Row(line, raw, error=" ".join(str(exc).split()))


__all__ = ["CatalogItem", "Row", "read_rows", "to_change"]
