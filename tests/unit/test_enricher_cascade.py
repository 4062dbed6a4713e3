"""The tagging core's cascade stage with a hand-made classifier and a scripted engine: what the
classifier is sure of never reaches the engine, the engine is asked only for the rest, and a
mixed item comes out whole, valid and attributed field by field."""

from __future__ import annotations

import json

import pytest

from schemas import CatalogChange, CatalogItem
from shared.taxonomy import Taxonomy
from tests.unit.cascade_fakes import fake_cascade, write_taxonomy
from tests.unit.enricher_fakes import FakeEngine, tagger, use_case

MODEL = "llamacpp/SmolLM2-135M-Instruct"
CASCADE = "cascade/tagtest@1"


def change(name: str) -> CatalogChange:
    item = CatalogItem(item_id=name.lower(), store_id="st-1", name=name, description="x", price=5)
    return CatalogChange(op="upsert", item_id=item.item_id, version=1, item=item)


@pytest.fixture
def uc(tmp_path):
    write_taxonomy(tmp_path / "taxonomy.yaml")
    return use_case(taxonomy=tmp_path / "taxonomy.yaml")


def reply_for(req) -> str:
    asked = req.json_schema["required"]
    full = {"cuisine": "thai", "dish_type": "curry", "dietary": ["vegan"]}
    return json.dumps({f: full[f] for f in asked})


def test_sure_items_get_no_model_call_and_unsure_fields_alone_reach_the_engine(uc):
    t = tagger(uc=uc, cascade=fake_cascade())
    eng = FakeEngine(reply_for)
    sure, mixed, unsure = t.run([t.job(change(n)) for n in ("Sure", "Mixed", "Unsure")], eng.generate)
    assert t.cascade.encoder().calls == 1, "one encoder call for the whole batch"

    r = sure.result
    assert sure.ok and sure.calls == [] and not sure.job.attempts
    assert r.output == {"cuisine": "italian", "dish_type": "pizza", "dietary": ["vegetarian"]}
    assert (r.engine, r.model, r.cascade, r.attempts) == ("cascade", "tagtest@1", "tagtest@1", 1)
    assert r.prompt == t.prompt.ref, "the use case's prompt: its variables say what item_text shows"
    assert r.answered_by == dict.fromkeys(r.output, CASCADE)
    assert r.usage.input_tokens == r.usage.output_tokens == 0 and json.loads(r.raw_output) == r.output
    assert r.cost_usd is not None and r.cost_usd < 1e-6 and r.pricing_version  # the classifier's CPU seconds

    first, second = eng.requests  # one request each for the mixed and the unsure item, none for the sure one
    assert first.json_schema["required"] == ["dish_type"] and list(first.json_schema["properties"]) == ["dish_type"]
    prompt = first.messages[1]["content"]
    assert (
        "- dish_type: one of pizza, curry, salad" in prompt and "- cuisine" not in prompt and "- dietary" not in prompt
    )
    assert second.json_schema["required"] == ["cuisine", "dish_type"]

    m = mixed.result
    assert mixed.ok and len(mixed.calls) == 1 and m.engine == "llamacpp" and m.cascade == "tagtest@1"
    assert m.output == {"cuisine": "italian", "dish_type": "curry", "dietary": ["vegetarian"]}
    assert Taxonomy.load(uc.taxonomy).check(m.output) == m.output, "whole and valid"
    assert m.answered_by == {"cuisine": CASCADE, "dish_type": MODEL, "dietary": CASCADE}
    assert m.cost_usd == pytest.approx(mixed.calls[0].cost_usd, abs=1e-6) and m.cost_usd >= mixed.calls[0].cost_usd

    u = unsure.result
    assert u.output == {"cuisine": "thai", "dish_type": "curry", "dietary": ["vegan"]}
    assert u.answered_by == {"cuisine": MODEL, "dish_type": MODEL, "dietary": CASCADE}


def test_asking_for_every_field_still_keeps_the_classifiers_sure_answers(uc):
    t = tagger(uc=uc.model_copy(update={"cascade_ask": "all"}), cascade=fake_cascade())
    eng = FakeEngine(reply_for)
    [mixed] = t.run([t.job(change("Mixed"))], eng.generate)
    [req] = eng.requests
    assert req.json_schema["required"] == ["cuisine", "dish_type", "dietary"]
    assert mixed.result.output == {"cuisine": "italian", "dish_type": "curry", "dietary": ["vegetarian"]}
    assert mixed.result.answered_by["cuisine"] == CASCADE


def test_a_malformed_reply_about_the_asked_fields_is_retried_against_them(uc):
    t = tagger(uc=uc, cascade=fake_cascade())
    replies = iter(['{"cuisine": "italian"}', '{"dish_type": "salad"}'])
    eng = FakeEngine(lambda req: next(replies))
    [o] = t.run([t.job(change("Mixed"))], eng.generate)
    assert o.ok and o.result.attempts == 2 and [c.status for c in o.calls] == ["error", "ok"]
    assert "unknown field 'cuisine'" in o.calls[0].error
    assert o.result.output["dish_type"] == "salad" and o.result.output["cuisine"] == "italian"


def test_a_cascade_version_is_part_of_what_was_enriched(uc):
    plain, v1, v2 = tagger(uc=uc), tagger(uc=uc, cascade=fake_cascade()), tagger(uc=uc, cascade=fake_cascade(version=2))
    keys = {t.job(change("Sure")).key for t in (plain, v1, v2)}
    assert (
        len(keys) == 3 and v1.job(change("Sure")).key == tagger(uc=uc, cascade=fake_cascade()).job(change("Sure")).key
    )
    ids = {t.run([t.job(change("Sure"))], FakeEngine().generate)[0].result.event_id for t in (v1, v2)}
    assert len(ids) == 2, "a new cascade's answer is not taken for a replay of the old one"


def test_a_cascade_that_could_answer_a_value_outside_the_taxonomy_is_refused(tmp_path):
    import yaml

    from shared.runtime.errors import UserError
    from tests.unit.cascade_fakes import TAXONOMY

    smaller = {**TAXONOMY, "fields": {**TAXONOMY["fields"], "cuisine": {"kind": "one", "values": ["italian", "none"]}}}
    (tmp_path / "taxonomy.yaml").write_text(yaml.safe_dump(smaller))
    with pytest.raises(UserError, match="cascade tagtest@1 field 'cuisine' does not fit taxonomy cascade-test-1"):
        tagger(uc=use_case(taxonomy=tmp_path / "taxonomy.yaml"), cascade=fake_cascade())


def test_an_unsure_one_field_can_be_narrowed_to_the_classifiers_likeliest_values(uc):
    t = tagger(uc=uc.model_copy(update={"cascade_candidates": 1}), cascade=fake_cascade())
    replies = iter(['{"dish_type": "curry"}', '{"dish_type": "pizza"}'])  # curry is not offered: retried
    eng = FakeEngine(lambda req: next(replies))
    [o] = t.run([t.job(change("Mixed"))], eng.generate)
    first, _ = eng.requests
    assert first.json_schema["properties"]["dish_type"]["enum"] == ["pizza"]
    assert "- dish_type: one of pizza\n" in first.messages[1]["content"] + "\n"
    assert o.ok and o.result.attempts == 2 and o.result.output["dish_type"] == "pizza"
