"""Evaluation metrics against hand-computed examples and scikit-learn; the comparison statistics
on constructed cases; datasets' bad rows named by line."""

from __future__ import annotations

import json
import random
import time

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from ladle.eval import datasets
from ladle.eval.run import Answer, run_metrics, score
from schemas import EvalRun
from shared.evaluation import metrics as m
from shared.evaluation.compare import compare
from shared.taxonomy import TagField, Taxonomy

TAX = Taxonomy(
    version="t",
    fields={
        "cuisine": TagField(kind="one", values=["thai", "italian", "greek", "none"]),
        "dietary": TagField(kind="many", values=["vegan", "vegetarian", "gluten_free"], max_items=2),
    },
)


def test_one_field_by_hand():
    expected = [{"cuisine": "thai"}, {"cuisine": "thai"}, {"cuisine": "italian"}, {"cuisine": "greek"}]
    predicted = [{"cuisine": "thai"}, {"cuisine": "italian"}, {"cuisine": "italian"}, None]
    (s,) = m.field_scores(TAX, expected, predicted)
    got = s.metrics()
    # thai: tp1 fn1 -> 2/3; italian: tp1 fp1 -> 2/3; greek: fn1 -> 0 ("no answer" is no class)
    assert got["accuracy"] == pytest.approx(0.5)
    assert got["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert list(s.correct()) == [True, False, True, False]


def test_many_field_by_hand():
    expected = [{"dietary": ["vegan", "gluten_free"]}, {"dietary": []}, {"dietary": ["vegetarian"]}]
    predicted = [{"dietary": ["vegan"]}, {"dietary": ["vegan"]}, {"dietary": ["vegetarian"]}]
    (s,) = m.field_scores(TAX, expected, predicted)
    got = s.metrics()
    # (item, value) decisions: tp 2 (vegan@0, vegetarian@2), fp 1 (vegan@1), fn 1 (gluten_free@0)
    assert got["micro_f1"] == pytest.approx(4 / 6)
    # vegan: tp1 fp1 -> 2/3; vegetarian: 1; gluten_free: fn1 -> 0
    assert got["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert list(s.correct()) == [False, False, True]


def _random_case(rng: random.Random, n: int):
    expected, predicted = [], []
    for _ in range(n):
        expected.append({"cuisine": rng.choice(TAX.fields["cuisine"].values),
                         "dietary": rng.sample(TAX.fields["dietary"].values, rng.randint(0, 2))})  # fmt: skip
        if rng.random() < 0.1:
            predicted.append(None)
        else:
            predicted.append({"cuisine": rng.choice(TAX.fields["cuisine"].values),
                              "dietary": rng.sample(TAX.fields["dietary"].values, rng.randint(0, 2))})  # fmt: skip
    return expected, predicted


@pytest.mark.parametrize("seed", range(5))
def test_the_metrics_agree_with_scikit_learn(seed):
    rng = random.Random(seed)
    expected, predicted = _random_case(rng, 300)
    one, many = m.field_scores(TAX, expected, predicted)
    y_true = [e["cuisine"] for e in expected]
    y_pred = [p["cuisine"] if p else "<none>" for p in predicted]
    labels = sorted(set(y_true) | {y for y in y_pred if y != "<none>"})
    assert one.metrics()["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert one.metrics()["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    values = TAX.fields["dietary"].values
    t = np.array([[v in e["dietary"] for v in values] for e in expected])
    p = np.array([[v in (q or {}).get("dietary", []) for v in values] for q in predicted])
    assert many.metrics()["micro_f1"] == pytest.approx(f1_score(t, p, average="micro", zero_division=0))
    present = [i for i in range(len(values)) if t[:, i].any() or p[:, i].any()]
    assert many.metrics()["macro_f1"] == pytest.approx(f1_score(t, p, labels=present, average="macro", zero_division=0))


def test_items_without_a_field_are_not_scored_on_it():
    expected = [{"cuisine": "thai"}, {"cuisine": "greek", "dietary": ["vegan"]}]
    predicted = [{"cuisine": "thai", "dietary": ["vegan"]}, {"cuisine": "greek", "dietary": ["vegan"]}]
    one, many = m.field_scores(TAX, expected, predicted)
    assert many.metrics() == {"micro_f1": 1.0, "macro_f1": 1.0}  # item 0's extra "vegan" is not held against it
    assert list(many.correct()) == [False, True] and list(many.scored) == [False, True]


def test_run_metrics_end_with_the_headline_and_count_calls_cost_and_invalid_answers():
    expected = [{"cuisine": "thai"}, {"cuisine": "italian"}]
    answers = [Answer({"cuisine": "thai"}, llm_calls=1, cost_usd=0.002, latency_ms=100),
               Answer(None, llm_calls=0, cost_usd=0.0, latency_ms=300)]  # fmt: skip
    scores = m.field_scores(TAX, expected, [a.predicted for a in answers])
    out = run_metrics(scores, answers, seconds=4.0)
    by = {(x.field, x.metric): x.value for x in out}
    assert (out[-1].field, out[-1].metric) == ("all", "macro_f1")
    assert by[("all", "invalid_rate")] == 0.5 and by[("all", "llm_call_share")] == 0.5
    assert by[("all", "cost_per_1k_items_usd")] == pytest.approx(1.0)
    assert by[("all", "items_per_s")] == 0.5 and by[("all", "latency_p50_ms")] == 200.0


def test_scoring_100k_items_is_vectorised():
    rng = random.Random(1)
    expected, predicted = _random_case(rng, 100_000)
    t0 = time.process_time()
    scores = m.field_scores(TAX, expected, predicted)
    got = [s.metrics() for s in scores]
    spent = time.process_time() - t0
    assert len(got) == 2 and all(0 < v < 1 for g in got for v in g.values())
    print(f"scored 100k items in {spent:.2f} s CPU")  # the benchmark reports it; no threshold here


def test_mcnemar_exact_p_values_by_hand():
    a = np.array([True] * 10 + [False] * 10)
    b = np.array([True] * 10 + [True] * 10)
    only_a, only_b, p = m.mcnemar(a, b)
    assert (only_a, only_b) == (0, 10) and p == pytest.approx(2 / 2**10)
    assert m.mcnemar(a, a) == (0, 0, 1.0)
    x, y = np.array([True, False, True, False]), np.array([False, True, True, False])
    assert m.mcnemar(x, y)[2] == pytest.approx(1.0)  # 1 vs 1 discordant: no evidence


def _run(run_id: str, items: list) -> EvalRun:
    return EvalRun(run_id=run_id, use_case="t", dataset="d", dataset_sha256="b" * 64, items=len(items))


def _items(run_id: str, expected, predicted):
    from ladle.eval.datasets import Row
    from schemas import CatalogItem

    rows = [Row(i + 1, f"i{i}", CatalogItem(item_id=f"i{i}", store_id="s", name="n", price=0), e)
            for i, e in enumerate(expected)]  # fmt: skip
    ds = datasets.Dataset("d", None, "b" * 64, rows)
    answers = [Answer(p) for p in predicted]
    return score(run_id, {"use_case": "t"}, ds, answers, 1.0, _run(run_id, []).started_at, TAX).items


def test_compare_calls_a_large_paired_gain_better_and_noise_no_difference():
    rng = random.Random(3)
    expected = [{"cuisine": rng.choice(["thai", "italian", "greek"])} for _ in range(200)]
    weak = [{"cuisine": e["cuisine"] if rng.random() < 0.4 else "none"} for e in expected]
    strong = [{"cuisine": e["cuisine"] if rng.random() < 0.9 else "none"} for e in expected]
    a, b = _items("a", expected, weak), _items("b", expected, strong)
    comps = compare(TAX, _run("a", a), a, _run("b", b), b, rounds=500)
    assert [c.field for c in comps] == ["cuisine", "all"]
    assert comps[0].verdict == "better" and comps[0].diff > 0.2 and comps[0].p_value < 1e-6
    assert compare(TAX, _run("b", b), b, _run("a", a), a, rounds=500)[0].verdict == "worse"
    flip = [{"cuisine": s["cuisine"] if rng.random() < 0.98 else "none"} for s in strong]  # 2% noise
    c = _items("c", expected, flip)
    assert compare(TAX, _run("b", b), b, _run("c", c), c, rounds=500)[0].verdict == "no significant difference"


def test_all_fields_counts_items_that_got_more_fields_right_not_only_items_right_on_every_field():
    # B fixes cuisine on 30 of 40 items; dietary stays wrong for both, so no item is right on every field
    expected = [{"cuisine": "thai", "dietary": ["vegan"]}] * 40
    weak = [{"cuisine": "none", "dietary": ["vegetarian"]}] * 40
    strong = [{"cuisine": "thai", "dietary": ["vegetarian"]}] * 30 + weak[:10]
    a, b = _items("a", expected, weak), _items("b", expected, strong)
    comp = compare(TAX, _run("a", a), a, _run("b", b), b, rounds=500)[-1]
    assert comp.field == "all" and (comp.only_a, comp.only_b) == (0, 30)
    assert comp.p_value == pytest.approx(2 / 2**30) and comp.verdict == "better"
    assert m.mcnemar(np.array([0.5, 1.0, 0.0]), np.array([0.5, 0.5, 1.0])) == (1, 1, 1.0)


def test_a_bad_dataset_row_is_named_by_its_line_and_the_rest_are_read(tmp_path):
    good = {"id": "x1", "item": {"name": "Pad Thai", "price": 9}, "expected": {"cuisine": "thai"}}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({"id": "x3", "item": {"name": "Soup"}, "expected": {"cuisine": "martian"}}),
        json.dumps({"id": "x4", "item": {"name": ""}, "expected": {"cuisine": "thai"}}),
        json.dumps({"id": "x5", "item": {"name": "Tea"}, "expected": {"flavour": ["sweet"]}}),
        json.dumps({**good, "id": "x6"}),
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n")
    ds = datasets.load(str(path), TAX)
    assert [r.id for r in ds.rows] == ["x1", "x6"] and [r.line for r in ds.rows] == [1, 6]
    assert [b.split(":")[0] for b in ds.bad] == ["line 2", "line 3", "line 4", "line 5"]
    assert "not JSON" in ds.bad[0] and "martian" in ds.bad[1] and "name" in ds.bad[2] and "flavour" in ds.bad[3]


def test_usda_rows_are_read_in_their_own_shape():
    from shared.settings import REPO_ROOT

    tax = Taxonomy.load(REPO_ROOT / "deploy" / "enricher" / "food_group_taxonomy.yaml")
    row = datasets.parse_row(1, json.dumps({"id": "cat-1", "name": "Milk, whole", "description": "",
                                            "labels": {"food_group": "Dairy and Egg Products"}}), tax)  # fmt: skip
    assert row.expected == {"food_group": "Dairy and Egg Products"} and row.item.name == "Milk, whole"


def test_the_shipped_datasets_read_whole_and_match_their_generators():
    from pathlib import Path

    from shared.settings import REPO_ROOT

    for name, tax_file in (("tag", "taxonomy.yaml"), ("food-group", "food_group_taxonomy.yaml")):
        ds = datasets.load(name, Taxonomy.load(REPO_ROOT / "deploy" / "enricher" / tax_file))
        assert ds.rows and not ds.bad and ds.use_case == name and ds.split == "golden"
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", REPO_ROOT / "deploy" / "catalog" / "generate.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for file, text in gen.render_golden().items():
        assert (REPO_ROOT / "deploy" / "eval" / file).read_text() == text, f"{file} is stale: rerun the generator"
    golden = {json.loads(line)["id"] for line in Path(REPO_ROOT / "deploy/eval/tag.jsonl").read_text().splitlines()}
    train = {
        json.loads(line)["id"] for line in Path(REPO_ROOT / "deploy/eval/tag-train.jsonl").read_text().splitlines()
    }
    assert not golden & train and len(golden | train) == 520


def test_a_bootstrap_resample_without_any_item_of_a_field_is_left_out_not_a_crash():
    # dietary is scored on one item of two: about a quarter of the resamples draw only the other one
    expected = [{"cuisine": "thai", "dietary": ["vegan"]}, {"cuisine": "italian"}]
    a = m.field_scores(TAX, expected, [{"cuisine": "thai", "dietary": ["vegan"]}, None])
    b = m.field_scores(TAX, expected, [{"cuisine": "thai", "dietary": []}, {"cuisine": "italian"}])
    diff, low, high = m.paired_bootstrap(a, b, "dietary", "macro_f1", rounds=200)
    assert diff == pytest.approx(-1.0) and low == high == pytest.approx(-1.0)
    assert m.paired_bootstrap(a, a, "all", "macro_f1", rounds=200) == (0.0, 0.0, 0.0)


def test_a_line_separator_inside_a_json_string_does_not_split_its_row(tmp_path):
    row = {"id": "x1", "item": {"name": "Pad Thai", "description": "rice noodles\u2028peanuts"}, "expected": {}}
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(row | {"expected": {"cuisine": "thai"}}, ensure_ascii=False) + "\n", encoding="utf-8")
    ds = datasets.load(str(path), TAX)
    assert not ds.bad and [r.item.description for r in ds.rows] == ["rice noodles\u2028peanuts"]
