"""The taxonomy: its JSON schema, and the check that every output passes through."""

from __future__ import annotations

import jsonschema
import pytest

from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT
from shared.taxonomy import Taxonomy
from tests.unit.enricher_fakes import GOOD

TAX = Taxonomy.load(REPO_ROOT / "deploy" / "enricher" / "taxonomy.yaml")


def test_schema_has_enums_for_every_field_and_requires_them_all():
    schema = TAX.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["required"] == list(TAX.fields) and schema["additionalProperties"] is False
    assert schema["properties"]["cuisine"]["enum"] == TAX.fields["cuisine"].values
    assert schema["properties"]["dietary"]["items"]["enum"] == TAX.fields["dietary"].values
    assert schema["properties"]["dietary"]["maxItems"] == TAX.fields["dietary"].max_items
    jsonschema.validate(GOOD, schema)


def test_check_normalises_case_separators_duplicates_and_a_lone_value():
    raw = {
        "cuisine": "Italian",
        "dish_type": "pizza",
        "dietary": "Vegetarian",
        "allergens": ["gluten", "Gluten", "tree nut"],
        "flavour": ["savory", "savory", "savory"],
    }
    out = TAX.check(raw)
    assert out == {
        "cuisine": "italian",
        "dish_type": "pizza",
        "dietary": ["vegetarian"],
        "allergens": ["gluten", "tree_nut"],
        "flavour": ["savory"],
    }
    jsonschema.validate(out, TAX.json_schema())


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"cuisine": "martian"}, "cuisine"),
        ({"dietary": ["vegetarian", "carnivore"]}, "carnivore"),
        ({"flavour": ["spicy", "sweet", "sour"]}, "at most 2"),
        ({"extra": 1}, "unknown field"),
        ({"allergens": {"gluten": True}}, "expected a list"),
    ],
)
def test_check_lists_what_it_cannot_fix(change, problem):
    with pytest.raises(ValueError, match=problem):
        TAX.check(GOOD | change)


def test_a_missing_field_is_an_error_not_an_empty_list():
    with pytest.raises(ValueError, match="missing field 'flavour'"):
        TAX.check({k: v for k, v in GOOD.items() if k != "flavour"})


def test_describe_lists_every_value_for_the_prompt():
    text = TAX.describe()
    for name, f in TAX.fields.items():
        assert name in text and all(v in text for v in f.values)


def test_a_bad_file_is_one_line(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("version: '1'\nfields:\n  a: {kind: one, values: [x, x]}\n")
    with pytest.raises(UserError, match="invalid"):
        Taxonomy.load(p)
    with pytest.raises(UserError, match="not found"):
        Taxonomy.load(tmp_path / "missing.yaml")
