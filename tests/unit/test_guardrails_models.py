"""The model-backed checks with their real offline models (loaded once for this module):
Presidio names with context, the embedding consistency guard, the profanity model."""

from __future__ import annotations

import pytest

from shared.guardrails import Engine, load_policies
from shared.guardrails.subject import Subject

OUT = {"cuisine": "thai", "dish_type": "curry", "dietary": [], "allergens": [], "flavour": ["spicy"]}
TEXT = "Green Curry\nChicken simmered in green curry paste and coconut milk with Thai basil\ncurries\nthai\nspicy"


@pytest.fixture(scope="module")
def engine() -> Engine:
    e = Engine(load_policies())
    e.checks("default")
    return e


def decide(engine, text=TEXT, output=None, raw=""):
    s = Subject(
        id="s", inputs={"item_text": text}, outputs={"raw_output": raw}, output=dict(output or OUT), use_case="tag"
    )
    d = engine.decide([s], "default")[0]
    return s, {c.check: c for c in d.verdict.checks}, d


def test_a_clean_item_passes_every_check(engine):
    s, checks, d = decide(engine)
    assert all(c.passed for c in checks.values()), checks
    assert d.route == "accepted" and s.inputs["item_text"] == TEXT


def test_presidio_redacts_a_name_that_context_vouches_for_but_not_dish_names(engine):
    s, checks, _ = decide(engine, TEXT + "\nRecipe by Maria Gonzalez, our head chef.")
    assert not checks["pii"].passed and "PERSON" in checks["pii"].detail
    assert "Maria Gonzalez" not in s.inputs["item_text"] and "<PERSON>" in s.inputs["item_text"]
    s2, checks2, _ = decide(engine, "Eggs Benedict\nPoached eggs and ham with hollandaise\nbreakfast\namerican\n-",
                            dict(OUT, cuisine="american", dish_type="breakfast", flavour=[]))  # fmt: skip
    assert checks2["pii"].passed, checks2["pii"].detail


def test_the_consistency_guard_drops_a_tag_unlike_the_item(engine):
    s, checks, d = decide(engine, output=dict(OUT, dish_type="sushi"))
    assert not checks["consistency"].passed and "dish_type=sushi" in checks["consistency"].detail
    assert s.output["dish_type"] is None and d.route == "accepted" and d.verdict.action == "drop_tag"


def test_toxicity_rejects_insults_and_spares_spotted_dick(engine):
    _, checks, d = decide(engine, raw="This burger is shit, what a fucking ripoff")
    assert not checks["toxicity"].passed and d.route == "rejected"
    _, checks, _ = decide(engine, "Spotted Dick\nSteamed suet pudding with custard\ndesserts\n-\n-",
                          dict(OUT, cuisine="none", dish_type="dessert", flavour=["sweet"]))  # fmt: skip
    assert checks["toxicity"].passed
