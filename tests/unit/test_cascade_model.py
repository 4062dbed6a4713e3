"""A cascade's portable form: numpy serving gives scikit-learn's calibrated probabilities, the
decision rule, thresholds chosen for a precision, the artifact on disk and the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ladle.cascade import fit
from shared.cascade import CascadeRegistry
from shared.cascade.card import FieldCard
from shared.cascade.model import FieldModel, decisions, load, save
from shared.runtime.errors import UserError
from tests.unit.cascade_fakes import fake_cascade


def data(classes: int, n: int = 60, d: int = 8, seed: int = 3):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, d)) + np.eye(classes, d)[y] * 2
    sims = rng.normal(size=(classes, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True), y, sims


@pytest.mark.parametrize("classes", [4, 2])
def test_serving_a_one_field_gives_scikit_learns_calibrated_probabilities(classes):
    x, y, sims = data(classes)
    labels = np.array([f"v{i}" for i in y], dtype=object)
    clf = fit._calibrated(np.hstack([x, x @ sims.T]), labels, seed=0)
    coef, intercept, beta = fit.export(clf, x.shape[1], sims)
    fm = FieldModel("f", FieldCard(kind="one", values=list(clf.classes_)), coef, intercept, beta)
    expected = clf.predict_proba(np.hstack([x, x @ sims.T]))
    np.testing.assert_allclose(fm.proba(x), expected, rtol=1e-9, atol=1e-12)


def test_serving_a_many_value_gives_scikit_learns_binary_probability():
    x, y, sims = data(2)
    t = y == 1
    xa = np.hstack([x, (x @ sims[1])[:, None]])
    clf = fit._calibrated(xa, t, seed=0)
    coef, intercept, beta = fit.export(clf, x.shape[1], sims[1][None, :])
    fm = FieldModel("f", FieldCard(kind="many", values=["a"]), coef[1:2], intercept[1:2], beta)
    np.testing.assert_allclose(fm.proba(x)[:, 0], clf.predict_proba(xa)[:, 1], rtol=1e-9, atol=1e-12)


def test_the_threshold_is_the_lowest_confidence_that_keeps_the_target_precision():
    conf = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    ok = np.array([1, 1, 0, 1, 0], dtype=bool)
    assert fit.threshold(conf, ok, 0.75) == 0.6  # top 4: 3/4 right
    assert fit.threshold(conf, ok, 0.9) == 0.8  # top 2: 2/2
    assert fit.threshold(conf, ~ok, 0.9) is None  # the most confident answer is already wrong
    # equal confidences are taken or left together: 0.8 holds one right and one wrong answer
    assert fit.threshold(np.array([0.9, 0.8, 0.8]), np.array([1, 1, 0], bool), 0.9) == 0.9


def test_a_many_field_is_sure_only_when_every_value_is_decided_within_max_items():
    card = FieldCard(kind="many", values=["a", "b", "c"], max_items=1,
                     yes={"a": 0.8, "b": 0.8, "c": None}, no={"a": 0.2, "b": 0.2, "c": 0.3})  # fmt: skip
    p = np.array([[0.9, 0.1, 0.1], [0.9, 0.5, 0.1], [0.9, 0.9, 0.1], [0.9, 0.1, 0.5]])
    assert decisions(card, p) == [(["a"], True), (["a"], False), (["a", "b"], False), (["a"], False)]
    overlap = FieldCard(kind="many", values=["a"], yes={"a": 0.3}, no={"a": 0.7})  # both sides: the likelier wins
    assert decisions(overlap, np.array([[0.6], [0.4]])) == [(["a"], True), ([], True)]


def test_the_artifact_is_npz_and_json_and_a_changed_weight_is_refused(tmp_path):
    c = fake_cascade()
    folder = save(tmp_path / "v1", c.card, c.fields)
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "model.npz"]
    with np.load(folder / "model.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(f"{f}/{k}" for f in c.fields for k in ("beta", "coef", "intercept"))
    again = load(folder)
    x = np.array([[1.0, 0.0], [0.3, 0.7]])
    for name, fm in c.fields.items():
        np.testing.assert_allclose(again.fields[name].proba(x), fm.proba(x), rtol=1e-6)
    card = json.loads((folder / "card.json").read_text())
    card["weights_sha256"] = "0" * 64
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(UserError, match="does not match its card's weights_sha256"):
        load(folder)


def test_the_registry_is_one_view_over_shipped_and_trained_versions(tmp_path):
    shipped, data_dir = tmp_path / "deploy", tmp_path / "data"
    for root, version in ((shipped, 1), (data_dir / "cascades", 2), (data_dir / "cascades", 1)):
        save(root / "tagtest" / f"v{version}", fake_cascade(version=version).card, fake_cascade().fields)
    (shipped / "tagtest" / "labels.json").write_text(json.dumps({"labels": {"production": 1, "staging": 1}}))
    reg = CascadeRegistry(data_dir, shipped=shipped)
    assert reg.names() == ["tagtest"]
    assert {v: e.origin for v, e in reg.versions("tagtest").items()} == {1: "shipped", 2: "trained"}
    assert reg.resolve("tagtest") == ("tagtest", 1) == reg.resolve("tagtest@production")
    assert reg.resolve("tagtest@2") == ("tagtest", 2)
    assert reg.next_version("tagtest") == (3, data_dir / "cascades" / "tagtest" / "v3")

    move = reg.move("tagtest", "production", 2, by="me", gate="passed")
    assert (move.previous, move.version) == (1, 2)
    assert reg.labels("tagtest") == {"production": 2, "staging": 1}, "moves made here override what ships"
    assert reg.load("tagtest@production").ref == "tagtest@2"
    assert [m.version for m in CascadeRegistry(data_dir, shipped=shipped).history("tagtest")] == [2]
    for ref, message in (("nope", "no cascade 'nope'"), ("tagtest@canary", "has no label 'canary'"),
                         ("tagtest@9", "has no version 9")):  # fmt: skip
        with pytest.raises(UserError, match=message):
            reg.resolve(ref)


def test_validation_keeps_near_duplicates_together_unless_told_not_to():
    x = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0], [0.6, 0.8]])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    groups = fit.near_duplicates(x, 0.85)
    assert groups[0] == groups[1] and len({groups[0], groups[2], groups[3]}) == 3
    assert list(fit.near_duplicates(x, None)) == [0, 1, 2, 3]


def test_a_few_labels_per_value_still_validate_and_a_rare_value_is_never_answered():
    from shared.taxonomy import TagField

    x, y, sims = data(5, n=20)  # 4 labels per value: at most 4 folds
    values = [f"v{i}" for i in range(6)]
    labels = [f"v{i}" for i in y[:-1]] + ["v5"]  # v5: one label, too few to learn
    f = TagField(kind="one", values=values)
    fitted = fit.fit_one("f", f, x, labels, np.vstack([sims, sims[:1]]), 0.9, fit.near_duplicates(x, None))
    assert fitted.card.values == ["v0", "v1", "v2", "v3", "v4"] and fitted.card.validation.labels == 20
    assert fitted.card.validation.accuracy <= 19 / 20, "the v5 row is scored, and always wrong"
