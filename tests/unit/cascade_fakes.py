"""A hand-made cascade over 2-dim vectors and a fake encoder that maps item names to them, so the
tagging core's cascade stage runs with no model (tests/unit)."""

from __future__ import annotations

import numpy as np
import yaml

from shared.cascade import Cascade, CascadeCard
from shared.cascade.card import FieldCard
from shared.cascade.model import FieldModel

TAXONOMY = {
    "version": "cascade-test-1",
    "fields": {
        "cuisine": {"kind": "one", "values": ["italian", "thai", "none"]},
        "dish_type": {"kind": "one", "values": ["pizza", "curry", "salad"]},
        "dietary": {"kind": "many", "max_items": 1, "values": ["vegetarian", "vegan"]},
    },
}
# Item names -> vectors: x[0] makes the cuisine sure (italian), x[1] the dish type (pizza).
VECTORS = {"Sure": [1.0, 1.0], "Mixed": [1.0, 0.0], "Unsure": [0.0, 0.0]}


class FakeEncoder:
    name = "fake-encoder"
    dim = 2

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        return np.array([next(v for k, v in VECTORS.items() if text.startswith(k)) for text in texts])


def write_taxonomy(path) -> None:
    path.write_text(yaml.safe_dump(TAXONOMY, sort_keys=False))


def fake_cascade(name: str = "tagtest", version: int = 1) -> Cascade:
    one = {"kind": "one", "threshold": 0.9}
    fields = {
        "cuisine": FieldModel("cuisine", FieldCard(values=["italian", "thai"], **one),
                              np.array([[10.0, 0.0], [-10.0, 0.0]]), np.zeros(2), np.array([1.0])),
        "dish_type": FieldModel("dish_type", FieldCard(values=["pizza", "curry"], **one),
                                np.array([[0.0, 10.0], [0.0, -10.0]]), np.zeros(2), np.array([1.0])),
        # vegetarian when x[0] is 1 (p ~ 1), vegan otherwise: always sure, never both
        "dietary": FieldModel("dietary", FieldCard(kind="many", values=["vegetarian", "vegan"], max_items=1,
                                                   yes={"vegetarian": 0.9, "vegan": 0.9},
                                                   no={"vegetarian": 0.1, "vegan": 0.1}),
                              np.array([[10.0, 0.0], [-10.0, 0.0]]), np.array([-5.0, 5.0]), np.array([1.0, 1.0])),
    }  # fmt: skip
    card = CascadeCard(name=name, version=version, use_case="tag", task="tag", taxonomy_version="cascade-test-1",
                       encoder="fake-encoder", dim=2, text="test", target_precision=0.95,
                       fields={n: f.card for n, f in fields.items()})  # fmt: skip
    return Cascade(card, fields, encoder=FakeEncoder())
