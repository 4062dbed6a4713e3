"""The text that is embedded for an item: a template over its fields, and its content hash.

The hash is what makes unchanged items free: a change whose rendered text hashes
to what the index already holds needs no model call.
"""

from __future__ import annotations

import hashlib
import string

from schemas import CatalogItem
from shared.runtime.errors import BadMessage, UserError

_FIELDS = frozenset(CatalogItem.model_fields)


class EmptyText(BadMessage):
    """The template rendered no text for this item; there is nothing to embed."""


class _Attributes(dict):
    def __missing__(self, key: str) -> str:  # an item without this attribute renders it empty
        return ""


class _Blank(dict):
    def __missing__(self, key: str) -> object:
        return _Attributes() if key == "attributes" else ""


class TextTemplate:
    """``str.format`` over the item's fields, line by line.

    A line whose fields all render empty is dropped with its literal text, so
    ``Cuisine: {cuisine}`` disappears for an item without a cuisine; an item
    whose every line is dropped has no text and is refused (``EmptyText``).
    """

    def __init__(self, template: str) -> None:
        self.source = template.replace("\\n", "\n")
        self.lines = [line for line in self.source.splitlines() if line.strip()]
        for line in self.lines:
            for _, name, _, _ in string.Formatter().parse(line):
                if name is None:
                    continue
                root = name.split(".", 1)[0].split("[", 1)[0]
                if root not in _FIELDS:
                    raise UserError(
                        f"text template field {{{name}}} is not an item field; use {', '.join(sorted(_FIELDS))}"
                    )
        if not self.lines:
            raise UserError(
                "the text template is empty; set LADLE_EMBEDDER_TEXT_TEMPLATE, e.g. '{name}\\n{description}'"
            )
        self._blank = [self._blank_of(line) for line in self.lines]

    @staticmethod
    def _blank_of(line: str) -> str | None:
        """What the line renders to when every field is empty (None: it has no fields)."""
        if all(name is None for _, name, _, _ in string.Formatter().parse(line)):
            return None
        try:
            return " ".join(line.format_map(_Blank()).split())
        except (ValueError, TypeError):  # a format spec that needs a number: never blank
            return "\0"

    def render(self, item: CatalogItem) -> str:
        fields = {
            "item_id": item.item_id,
            "store_id": item.store_id,
            "name": item.name,
            "description": item.description,
            "category": item.category,
            "cuisine": item.cuisine,
            "price": item.price,
            "currency": item.currency,
            "tags": ", ".join(item.tags),
            "attributes": _Attributes(item.attributes),
            "available": item.available,
        }
        out = []
        for line, blank in zip(self.lines, self._blank, strict=True):
            text = " ".join(line.format_map(fields).split())
            if text and text != blank:
                out.append(text)
        return "\n".join(out)


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
