"""Golden datasets: labelled catalog items a use case is scored on.

A dataset is a JSONL file, one row a line: ``{"id", "item": {CatalogItem fields as a
merchant writes them}, "expected": {field: value, or a list for a many field}}``; it is
named by its file (the stem) and its content hash (sha256). ``deploy/eval/datasets.yaml``
says which use case each shipped file scores and which split it is (golden: scored only;
train: labels to learn from). Rows in the shape of ``../shared/evaldata/catalog.jsonl``
(``{"id", "name", "description", "labels": {"food_group"}}``) are read as they are, so an
independent set in that shape is scored without conversion.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schemas import CatalogChange, CatalogItem
from shared.runtime.codec import one_line
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT
from shared.taxonomy import Taxonomy
from shared.yamlfile import read_mapping

MANIFEST = REPO_ROOT / "deploy" / "eval" / "datasets.yaml"


class DatasetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: Path
    use_case: str = Field(min_length=1)
    split: str = Field(pattern="^(golden|train)$")
    source: str = ""


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line number in the file
    id: str
    item: CatalogItem
    expected: dict

    def change(self) -> CatalogChange:
        return CatalogChange(op="upsert", item_id=self.item.item_id, version=1, item=self.item, source="eval")


@dataclass
class Dataset:
    name: str
    path: Path
    sha256: str
    rows: list[Row]
    bad: list[str] = field(default_factory=list)  # "line N: why", one per row that could not be read
    use_case: str | None = None
    split: str | None = None


def manifest() -> dict[str, DatasetEntry]:
    """The shipped datasets by name (deploy/eval/datasets.yaml)."""
    raw = read_mapping(MANIFEST, "datasets").get("datasets") or {}
    try:
        return {name: DatasetEntry.model_validate(spec) for name, spec in raw.items()}
    except ValidationError as exc:
        raise UserError(f"datasets file {MANIFEST} is invalid: {one_line(exc)}") from None


def locate(ref: str) -> tuple[str, Path, DatasetEntry | None]:
    """A dataset by name (the manifest) or by path: (name, path, its manifest entry if any)."""
    known = manifest()
    if ref in known:
        entry = known[ref]
        path = entry.file if entry.file.is_absolute() else MANIFEST.parent / entry.file
        return ref, path, entry
    path = Path(ref)
    if not path.is_file():
        raise UserError(f"no dataset {ref!r}: not a file, and not one of {', '.join(sorted(known))}")
    name = path.name.removesuffix(".jsonl")
    entry = next((e for n, e in known.items() if (MANIFEST.parent / e.file).resolve() == path.resolve()), None)
    return name, path, entry


def load(ref: str, taxonomy: Taxonomy | None = None, limit: int | None = None) -> Dataset:
    """Every readable row; a row that is not JSON, lacks a field or names a value outside the
    taxonomy is listed in ``bad`` with its line number, and the rest are still read."""
    name, path, entry = locate(ref)
    data = path.read_bytes()
    ds = Dataset(name, path, hashlib.sha256(data).hexdigest(), [], [], entry.use_case if entry else None,
                 entry.split if entry else None)  # fmt: skip
    for n, line in enumerate(data.decode("utf-8", errors="replace").split("\n"), start=1):
        if not line.strip():
            continue
        if limit is not None and len(ds.rows) >= limit:
            break
        try:
            ds.rows.append(parse_row(n, line, taxonomy))
        except ValueError as exc:
            ds.bad.append(f"line {n}: {exc}")
    return ds


def parse_row(line_no: int, line: str, taxonomy: Taxonomy | None) -> Row:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError("a row must be a JSON object")
    if "item" not in raw and isinstance(raw.get("labels"), dict):
        raw = _from_usda(raw)
    rid, item, expected = raw.get("id"), raw.get("item"), raw.get("expected")
    if not isinstance(rid, str) or not rid:
        raise ValueError("`id` must be a non-empty string")
    if not isinstance(item, dict):
        raise ValueError("`item` must be an object of catalog item fields")
    if not isinstance(expected, dict) or not expected:
        raise ValueError("`expected` must be an object: field -> value (or a list of values)")
    try:
        parsed = CatalogItem.model_validate({"item_id": rid, "store_id": "eval", "price": 0, **item})
    except ValidationError as exc:
        raise ValueError(f"item: {one_line(exc)}") from None
    if taxonomy is not None:
        expected = _check_expected(expected, taxonomy)
    return Row(line_no, rid, parsed, expected)


def _from_usda(raw: dict) -> dict:
    """A row of ../shared/evaldata/catalog.jsonl -> the golden shape (its labels become `expected`)."""
    group = raw["labels"].get("food_group")
    return {
        "id": raw.get("id"),
        "item": {"name": raw.get("name") or "", "description": raw.get("description") or "", "store_id": "usda"},
        "expected": {"food_group": group} if group else {},
    }


def _check_expected(expected: dict, taxonomy: Taxonomy) -> dict:
    out = {}
    for name, value in expected.items():
        f = taxonomy.fields.get(name)
        if f is None:
            raise ValueError(f"expected field {name!r} is not in the taxonomy ({', '.join(taxonomy.fields)})")
        values = value if isinstance(value, list) else [value]
        if f.kind == "one" and (isinstance(value, list) or not isinstance(value, str)):
            raise ValueError(f"expected {name}: a `one` field takes one string")
        canon = [f.canonical(v) if isinstance(v, str) else None for v in values]
        unknown = [v for v, c in zip(values, canon, strict=True) if c is None]
        if unknown:
            raise ValueError(f"expected {name}: {unknown[0]!r} is not a value of the taxonomy")
        out[name] = canon[0] if f.kind == "one" else sorted(set(canon))
    return out
