import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from schemas import EVENT_MODELS, CatalogChange, CatalogItem, DeadLetter, EnrichmentResult, LLMCall, stable_id
from schemas.export import render, stale_files

FIXTURES = Path(__file__).parent.parent / "fixtures" / "schemas"


def item(**kw):
    base = dict(item_id="i1", store_id="s1", name="Pad Thai", price="12.50")
    base.update(kw)
    return CatalogItem(**base)


def test_every_event_has_the_envelope():
    for name, model in EVENT_MODELS.items():
        fields = model.model_fields
        for f in ("event_id", "schema_version", "occurred_at", "trace_id"):
            assert f in fields, f"{name} lacks {f}"


def test_event_ids_are_deterministic_so_replays_deduplicate():
    a = CatalogChange(op="upsert", item_id="i1", version=4, item=item())
    b = CatalogChange(op="upsert", item_id="i1", version=4, item=item(name="other text"))
    c = CatalogChange(op="upsert", item_id="i1", version=5, item=item())
    assert a.event_id == b.event_id != c.event_id
    call = LLMCall(call_id="c-1", model="m", provider="p")
    assert call.event_id == LLMCall(call_id="c-1", model="m2", provider="p").event_id == stable_id("llm.calls", "c-1")
    r1 = EnrichmentResult(item_id="i1", item_version=4, task="tag", engine="llamacpp", model="smol")
    r2 = EnrichmentResult(item_id="i1", item_version=4, task="tag", engine="llamacpp", model="smol", raw_output="x")
    assert r1.event_id == r2.event_id


def test_round_trip_through_json_is_exact():
    c = CatalogChange(
        op="upsert", item_id="i1", version=1, trace_id="t", item=item(tags=["vegan"], attributes={"a": "b"})
    )
    again = CatalogChange.from_json(c.model_dump_json())
    assert again == c
    assert json.loads(c.model_dump_json())["item"]["price"] == 12.5  # a number on the wire
    assert again.item.price == Decimal("12.50")


def test_upsert_needs_matching_item_and_delete_needs_none():
    with pytest.raises(ValidationError, match="needs the item"):
        CatalogChange(op="upsert", item_id="i1", version=1)
    with pytest.raises(ValidationError, match="differs from item_id"):
        CatalogChange(op="upsert", item_id="i2", version=1, item=item())
    with pytest.raises(ValidationError):
        CatalogChange(op="rename", item_id="i1", version=1, item=item())
    assert CatalogChange(op="delete", item_id="i1", version=2).item is None


def test_negative_price_and_bad_currency_are_refused():
    with pytest.raises(ValidationError):
        item(price=-1)
    with pytest.raises(ValidationError):
        item(currency="dollars")


def test_a_consumer_of_version_n_reads_version_n_minus_1_payloads():
    """Every model above version 1 ships a fixture of its previous version, and reads it."""
    for name, model in EVENT_MODELS.items():
        if model.SCHEMA_VERSION == 1:
            continue
        path = FIXTURES / f"{name}.v{model.SCHEMA_VERSION - 1}.json"
        assert path.exists(), f"{name} is at v{model.SCHEMA_VERSION}; add {path.name}"
        raw = path.read_text()
        for event in (model.from_json(raw), model.from_dict(json.loads(raw))):
            assert event.schema_version == model.SCHEMA_VERSION
    old = CatalogChange.from_json((FIXTURES / "CatalogChange.v1.json").read_text())
    assert old.event_id == "evt-v1-0001" and old.trace_id == "trace-1" and old.version == 3
    assert old.item == CatalogItem(
        item_id="st-luigi-00a",
        store_id="st-luigi",
        name="Margherita Pizza",
        description="Wood-fired pizza with basil",
        category="pizza",
        cuisine="italian",
        price=Decimal("11.5"),
        currency="USD",
        tags=["vegetarian"],
    )


def test_a_consumer_survives_newer_payloads_that_add_fields():
    c = CatalogChange(op="delete", item_id="i1", version=2)
    data = json.loads(c.model_dump_json())
    data["schema_version"] = CatalogChange.SCHEMA_VERSION + 1
    data["a_field_from_the_future"] = {"x": 1}
    assert CatalogChange.from_json(json.dumps(data)).item_id == "i1"


def test_invalid_json_is_a_validation_error_not_a_crash():
    with pytest.raises(ValidationError):
        CatalogChange.from_json(b"{nope")
    with pytest.raises(ValidationError):
        CatalogChange.from_json(b'{"schema_version": 1, "op": "upsert"}')


def test_exported_json_schema_files_are_up_to_date():
    assert stale_files() == [], "run `ladle schemas export` and commit schemas/json/"
    schema = json.loads(render()["CatalogChange.json"])
    assert schema["x-schema-version"] == CatalogChange.SCHEMA_VERSION
    assert {"op", "item_id", "version"} <= set(schema["required"])


def test_dead_letter_ids_are_stable_per_source_offset():
    a = DeadLetter(
        original_topic="t", original_partition=1, original_offset=7, error_class="E", error_message="m", worker="w"
    )
    b = DeadLetter(
        original_topic="t", original_partition=1, original_offset=7, error_class="E", error_message="m2", worker="w"
    )
    assert a.event_id == b.event_id
