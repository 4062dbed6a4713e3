"""The embedder's text template and content hash."""

from __future__ import annotations

import pytest

from schemas import CatalogItem
from shared.runtime.errors import UserError
from workers.embedder.settings import DEFAULT_TEMPLATE
from workers.embedder.text import TextTemplate, content_hash


def item(**kw) -> CatalogItem:
    base = dict(item_id="i1", store_id="s1", name="Margherita Pizza", price=9.5)
    base.update(kw)
    return CatalogItem(**base)


def test_default_template_renders_the_fields_and_drops_empty_lines():
    t = TextTemplate(DEFAULT_TEMPLATE)
    text = t.render(item(description="Tomato  and\tbasil", category="pizza", tags=["vegetarian", "classic"]))
    assert text == "Margherita Pizza\nTomato and basil\npizza\nvegetarian, classic"


def test_a_line_whose_fields_are_all_empty_goes_with_its_literal_text():
    t = TextTemplate("{name}\nCuisine: {cuisine}\nfrom {attributes[store_name]}\nalways here")
    assert t.render(item()) == "Margherita Pizza\nalways here"
    assert t.render(item(cuisine="italian", attributes={"store_name": "Luigi's"})) == (
        "Margherita Pizza\nCuisine: italian\nfrom Luigi's\nalways here"
    )


def test_escaped_newlines_from_the_environment_split_lines():
    assert TextTemplate("{name}\\n{description}").render(item(description="x")) == "Margherita Pizza\nx"


def test_a_template_over_empty_fields_renders_nothing():
    assert TextTemplate("{description}\n{cuisine}").render(item()) == ""


@pytest.mark.parametrize("bad", ["{nope}", "{name}\n{item.name}", "   "])
def test_a_bad_template_is_a_one_line_user_error(bad):
    with pytest.raises(UserError):
        TextTemplate(bad)


def test_content_hash_is_stable_and_sensitive():
    assert content_hash("a") == content_hash("a")
    assert content_hash("a") != content_hash("a ")
    assert len(content_hash("x")) == 32
