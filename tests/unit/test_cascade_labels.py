"""Training labels: the trust order between sources, what counts from an LLM, golden splits kept out."""

from __future__ import annotations

import json

import pytest

from ladle.cascade.labels import SourceLabels, golden_ids, llm_labels, merge, read_source
from schemas import CatalogItem
from shared.cascade.card import LabelSource
from shared.runtime.errors import UserError
from shared.settings import REPO_ROOT, LadleSettings
from shared.taxonomy import Taxonomy
from tests.unit.enricher_fakes import use_case

TAX = Taxonomy.load(REPO_ROOT / "deploy" / "enricher" / "taxonomy.yaml")


def source(kind: str, name: str, **labels: dict) -> SourceLabels:
    s = SourceLabels(LabelSource(kind=kind, name=name, sha256="", rows=len(labels), items=0))
    for item_id, lab in labels.items():
        s.items[item_id] = (CatalogItem(item_id=item_id, store_id=name, name=item_id, price=1), lab)
    return s


def test_a_person_beats_a_golden_set_beats_an_llm_field_by_field():
    llm = source("accepted", "enrichment.accepted", a={"cuisine": "thai", "dish_type": "curry"}, b={"cuisine": "thai"})
    gold = source("golden", "tag-train", a={"cuisine": "indian"}, c={"cuisine": "greek"})
    person = source("review", "review.decisions", a={"dish_type": "bowl"})
    gold2 = source("golden", "more.jsonl", c={"cuisine": "italian"}, d={"cuisine": "none"})
    items, held_out = merge([llm, gold, person, gold2], exclude={"d"})
    by_id = {t.item.item_id: t for t in items}
    assert by_id["a"].labels == {"dish_type": "bowl", "cuisine": "indian"}
    assert by_id["a"].item.store_id == "review.decisions", "the item as its most trusted source has it"
    assert by_id["b"].labels == {"cuisine": "thai"}
    assert by_id["c"].labels == {"cuisine": "greek"}, "between sources of one kind, the one named first"
    assert "d" not in by_id and held_out == 1
    assert [s.info.items for s in (llm, gold, person, gold2)] == [1, 2, 1, 0]


def test_only_fields_an_llm_answered_count_and_only_as_the_taxonomy_spells_them():
    output = {"cuisine": "Italian", "dish_type": "pizza", "dietary": ["Gluten-Free"], "allergens": ["gluten", "x"],
              "flavour": None}  # fmt: skip
    by = {"dish_type": "cascade/tag@3", "cuisine": "llamacpp/SmolLM2-135M-Instruct"}
    assert llm_labels(output, by, TAX) == {"cuisine": "italian", "dietary": ["gluten_free"]}


def test_a_golden_split_is_never_trained_on_and_its_items_are_held_out(tmp_path):
    settings = LadleSettings(data_dir=tmp_path)
    with pytest.raises(UserError, match="tag is a golden split: it scores tag and is never trained on"):
        read_source("tag", use_case(), TAX, settings)
    train = read_source("golden:tag-train", use_case(), TAX, settings)
    assert train.info.kind == "golden" and train.info.rows == len(train.items) == 272
    assert not golden_ids(use_case()) & set(train.items)
    rows = [json.loads(line) for line in open(REPO_ROOT / "deploy" / "eval" / "tag.jsonl")]
    assert golden_ids(use_case()) == {r["id"] for r in rows}
