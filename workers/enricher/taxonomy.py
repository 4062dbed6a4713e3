"""The tag taxonomy (deploy/enricher/taxonomy.yaml) -> a JSON schema with enums, and the
check that output obeys it.

``json_schema()`` is what engines constrain decoding with; ``check()`` validates and
normalises any output (also from engines that cannot constrain), so what leaves the
enricher always satisfies the schema, whatever the engine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from shared.runtime.errors import UserError

_SEP = re.compile(r"[\s\-/]+")


class TagField(BaseModel):
    kind: Literal["one", "many"]
    values: list[str] = Field(min_length=1)
    description: str = ""
    max_items: int | None = Field(default=None, ge=1, description="kind many only.")

    @model_validator(mode="after")
    def _distinct(self) -> TagField:
        if len(set(self.values)) != len(self.values):
            raise ValueError("values must be distinct")
        return self


class Taxonomy(BaseModel):
    version: str = Field(min_length=1)
    fields: dict[str, TagField] = Field(min_length=1)

    @classmethod
    def load(cls, path: str | Path) -> Taxonomy:
        path = Path(path)
        try:
            return cls.model_validate(yaml.safe_load(path.read_text()))
        except FileNotFoundError:
            raise UserError(f"taxonomy file {path} not found") from None
        except (yaml.YAMLError, ValidationError) as exc:
            raise UserError(f"taxonomy file {path} is invalid: {' '.join(str(exc).split())[:300]}") from None

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
            lines.append(f"- {name}: {shape} {', '.join(f.values)}")
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
                tag = _norm(value) if isinstance(value, str) else None
                if tag not in f.values:
                    problems.append(f"{name}: {value!r} is not one of the allowed values")
                out[name] = tag
                continue
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list):
                problems.append(f"{name}: expected a list, got {type(value).__name__}")
                continue
            tags: list[str] = []
            for item in items:
                tag = _norm(item) if isinstance(item, str) else None
                if tag not in f.values:
                    problems.append(f"{name}: {item!r} is not an allowed value")
                elif tag not in tags:
                    tags.append(tag)
            if f.max_items and len(tags) > f.max_items:
                problems.append(f"{name}: {len(tags)} values, at most {f.max_items} allowed")
            out[name] = tags
        if problems:
            raise ValueError("; ".join(problems))
        return out


def _norm(value: str) -> str:
    return _SEP.sub("_", value.strip().lower())
