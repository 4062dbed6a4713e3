"""A use case's taxonomy (deploy/enricher/taxonomy.yaml and its kin): the fields a model
fills, each `one` value or `many` values from a closed list, and optional descriptions
of each value (what the guardrails' consistency check embeds).

One model and one loader for the enricher (``json_schema()`` constrains decoding,
``check()`` validates and normalises any output), the guardrails (membership, schema,
``digest`` in the policy version), evaluation and anything later.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from shared.runtime.errors import UserError
from shared.yamlfile import read_mapping

_SEP = re.compile(r"[\s\-/]+")


class TagField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["one", "many"]
    values: list[str] = Field(min_length=1)
    description: str = ""
    max_items: int | None = Field(default=None, ge=1, description="kind many only.")
    _by_norm: dict[str, str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _distinct(self) -> TagField:
        if len({normalise(v) for v in self.values}) != len(self.values):
            raise ValueError("values must be distinct (also ignoring case and separators)")
        return self

    def canonical(self, value: str) -> str | None:
        """A value as a model may write it ("Dairy and egg products", "gluten-free") -> the
        taxonomy's own spelling, or None when it is not a value of this field."""
        if value in self.values:
            return value
        if self._by_norm is None:
            self._by_norm = {normalise(v): v for v in self.values}
        return self._by_norm.get(normalise(value))


class Taxonomy(BaseModel):
    version: str = Field(min_length=1)
    fields: dict[str, TagField] = Field(min_length=1)
    descriptions: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="field -> value -> text (the tag descriptions file)."
    )

    @classmethod
    def load(cls, path: str | Path, descriptions: str | Path | None = None) -> Taxonomy:
        """The taxonomy at ``path``, with the value descriptions at ``descriptions`` if given."""
        path = Path(path)
        data = read_mapping(path, "taxonomy")
        try:
            tax = cls.model_validate(data)
        except ValidationError as exc:
            raise UserError(f"taxonomy file {path} is invalid: {' '.join(str(exc).split())[:300]}") from None
        if descriptions is not None:
            tax.descriptions = _descriptions(tax, Path(descriptions))
        return tax

    @property
    def digest(self) -> str:
        """Changes whenever a value or a description changes: part of a guardrail policy's version."""
        body = {
            "version": self.version,
            "fields": {n: [f.kind, sorted(f.values), f.max_items] for n, f in sorted(self.fields.items())},
            "descriptions": self.descriptions,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]

    def description(self, field_name: str, value: str) -> str | None:
        return self.descriptions.get(field_name, {}).get(value)

    def json_schema(self) -> dict:
        props: dict[str, dict] = {}
        for name, f in self.fields.items():
            enum = {"type": "string", "enum": list(f.values)}
            if f.kind == "one":
                props[name] = enum | ({"description": f.description} if f.description else {})
            else:
                prop: dict = {"type": "array", "items": enum, "uniqueItems": True}
                if f.max_items:
                    prop["maxItems"] = f.max_items
                if f.description:
                    prop["description"] = f.description
                props[name] = prop
        return {"type": "object", "properties": props, "required": list(self.fields), "additionalProperties": False}

    def describe(self) -> str:
        """The allowed values, one line per field, for the prompt."""
        lines = []
        for name, f in self.fields.items():
            shape = (
                "one of" if f.kind == "one" else f"a list (at most {f.max_items}) of" if f.max_items else "a list of"
            )
            sep = "; " if any("," in v for v in f.values) else ", "  # "Soups, Sauces, and Gravies"
            lines.append(f"- {name}: {shape} {sep.join(f.values)}")
        return "\n".join(lines)

    def check(self, data: object) -> dict:
        """The output normalised (case, separators, duplicates, a lone value for a list),
        or ValueError listing every problem that normalising cannot fix."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, got {type(data).__name__}")
        out: dict = {}
        problems = [f"unknown field {k!r}" for k in data if k not in self.fields]
        for name, f in self.fields.items():
            if name not in data:
                problems.append(f"missing field {name!r}")
                continue
            value = data[name]
            if f.kind == "one":
                tag = f.canonical(value) if isinstance(value, str) else None
                if tag is None:
                    problems.append(f"{name}: {value!r} is not one of the allowed values")
                out[name] = tag
                continue
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list):
                problems.append(f"{name}: expected a list, got {type(value).__name__}")
                continue
            tags: list[str] = []
            for item in items:
                tag = f.canonical(item) if isinstance(item, str) else None
                if tag is None:
                    problems.append(f"{name}: {item!r} is not an allowed value")
                elif tag not in tags:
                    tags.append(tag)
            if f.max_items and len(tags) > f.max_items:
                problems.append(f"{name}: {len(tags)} values, at most {f.max_items} allowed")
            out[name] = tags
        if problems:
            raise ValueError("; ".join(problems))
        return out


def normalise(value: str) -> str:
    """A tag as a model may write it -> the taxonomy's spelling (lower case, `_` between words)."""
    return _SEP.sub("_", value.strip().lower())


def _descriptions(tax: Taxonomy, path: Path) -> dict[str, dict[str, str]]:
    raw = read_mapping(path, "tag descriptions")
    out: dict[str, dict[str, str]] = {}
    for fname, values in raw.items():
        if fname not in tax.fields or not isinstance(values, dict):
            raise UserError(f"tag descriptions {path}: {fname!r} is not a field of the taxonomy")
        unknown = set(values) - set(tax.fields[fname].values)
        if unknown:
            raise UserError(f"tag descriptions {path}: {fname}: unknown values {sorted(unknown)}")
        out[fname] = {str(k): str(v) for k, v in values.items()}
    return out
