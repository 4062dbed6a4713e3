"""The tag taxonomy guardrails check against, and the descriptions of its values.

Values come from the enricher's taxonomy (deploy/enricher/taxonomy.yaml), so the
set of tags the model may output and the set guardrails accept cannot drift
apart. Descriptions of each value (what the consistency guard embeds) live in
deploy/guardrails/tag_descriptions.yaml until the taxonomy carries them itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from shared.runtime.errors import UserError


@dataclass(frozen=True)
class TagField:
    name: str
    kind: str  # "one" or "many"
    values: frozenset[str]
    max_items: int | None = None


@dataclass(frozen=True)
class Taxonomy:
    version: str
    fields: dict[str, TagField]
    descriptions: dict[str, dict[str, str]] = field(default_factory=dict)  # field -> value -> text

    @property
    def digest(self) -> str:
        """Changes whenever a value or a description changes: part of the policy version."""
        body = {
            "version": self.version,
            "fields": {n: [f.kind, sorted(f.values), f.max_items] for n, f in sorted(self.fields.items())},
            "descriptions": self.descriptions,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]

    def description(self, field_name: str, value: str) -> str | None:
        return self.descriptions.get(field_name, {}).get(value)


def _read_yaml(path: Path, what: str) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{what} file {path} not found") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{what} file {path} is not valid YAML: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} file {path} must hold a mapping")
    return data


def load_taxonomy(path: str | Path, descriptions: str | Path | None = None) -> Taxonomy:
    """The taxonomy at ``path`` (the enricher's format) with optional value descriptions."""
    path = Path(path)
    data = _read_yaml(path, "taxonomy")
    fields: dict[str, TagField] = {}
    try:
        for name, f in (data.get("fields") or {}).items():
            kind = f.get("kind", "many")
            if kind not in ("one", "many") or not f.get("values"):
                raise ValueError(f"field {name!r} needs kind one|many and values")
            fields[name] = TagField(name, kind, frozenset(str(v) for v in f["values"]), f.get("max_items"))
    except (AttributeError, TypeError, ValueError) as exc:
        raise UserError(f"taxonomy file {path} is invalid: {exc}") from None
    if not fields:
        raise UserError(f"taxonomy file {path} has no fields")
    desc: dict[str, dict[str, str]] = {}
    if descriptions is not None:
        raw = _read_yaml(Path(descriptions), "tag descriptions")
        for fname, values in raw.items():
            if fname not in fields or not isinstance(values, dict):
                raise UserError(f"tag descriptions {descriptions}: {fname!r} is not a field of the taxonomy")
            unknown = set(values) - fields[fname].values
            if unknown:
                raise UserError(f"tag descriptions {descriptions}: {fname}: unknown values {sorted(unknown)}")
            desc[fname] = {str(k): str(v) for k, v in values.items()}
    return Taxonomy(str(data.get("version", "")), fields, desc)
