"""catalog.changes and catalog.embedded."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from schemas.base import Event, stable_id

# Exact in Python, a plain number on the wire for producers and ClickHouse.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class CatalogItem(BaseModel):
    """The fields of a menu or grocery item as a merchant wrote them."""

    model_config = ConfigDict(extra="ignore")

    item_id: str = Field(min_length=1, max_length=128)
    store_id: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=512)
    description: str = Field(default="", max_length=16_384)
    category: str = Field(default="", max_length=128)
    cuisine: str = Field(default="", max_length=64)
    price: Money = Field(ge=0, max_digits=12, decimal_places=2)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
    available: bool = True


def _catalog_v1_to_v2(data: dict) -> dict:
    # v1 flattened the item fields next to op/version and priced in float dollars
    # without a currency; v2 nests them under `item` and carries the currency.
    if data.get("item") is None and data.get("op") != "delete" and "name" in data:
        fields = {k: data.pop(k) for k in list(data) if k in CatalogItem.model_fields and k != "item_id"}
        fields["item_id"] = data.get("item_id")
        fields.setdefault("currency", "USD")
        data["item"] = fields
    return data


class CatalogChange(Event):
    """An item was created or changed (upsert) or removed (delete). Key: item_id."""

    SCHEMA_VERSION: ClassVar[int] = 2
    UPGRADES: ClassVar[dict] = {1: _catalog_v1_to_v2}

    op: Literal["upsert", "delete"]
    item_id: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=0, description="Monotonic per item; an older version never overwrites a newer one.")
    item: CatalogItem | None = None
    source: str = Field(default="", description="Who produced the change (file, CDC connector, app).")

    @model_validator(mode="after")
    def _item_matches(self) -> CatalogChange:
        if self.op == "upsert":
            if self.item is None:
                raise ValueError("an upsert needs the item's fields")
            if self.item.item_id != self.item_id:
                raise ValueError(f"item.item_id {self.item.item_id!r} differs from item_id {self.item_id!r}")
        return self

    def default_event_id(self) -> str:
        return stable_id("catalog.changes", self.item_id, self.version, self.op)


class CatalogEmbedded(Event):
    """The vector index applied a change. Key: item_id."""

    op: Literal["upsert", "delete"]
    item_id: str
    version: int
    model: str
    collection: str
    content_hash: str = ""
    skipped: bool = Field(default=False, description="True when the text was unchanged and no model call was made.")
    freshness_ms: float = Field(description="embedded_at minus the change's occurred_at.")
    embedded_at: datetime

    def default_event_id(self) -> str:
        return stable_id("catalog.embedded", self.item_id, self.version, self.op, self.collection)
