import importlib.util
import json
from collections import Counter

from shared.settings import REPO_ROOT

CATALOG = REPO_ROOT / "deploy" / "catalog" / "sample_catalog.jsonl"


def _generator():
    spec = importlib.util.spec_from_file_location("generate", REPO_ROOT / "deploy" / "catalog" / "generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_committed_sample_is_what_the_script_generates():
    assert CATALOG.read_text() == _generator().render(), "regenerate: python deploy/catalog/generate.py > ..."


def test_the_sample_is_big_and_varied_enough():
    rows = [json.loads(line) for line in CATALOG.read_text().splitlines()]
    assert len(rows) >= 500
    assert len({r["item_id"] for r in rows}) == len(rows)
    cuisines = Counter(r["cuisine"] for r in rows)
    assert len(cuisines) >= 8 and cuisines["grocery"] >= 100
    assert len({r["store_id"] for r in rows}) >= 10
    prices = sorted(r["price"] for r in rows)
    assert prices[0] < 2 and prices[-1] > 30
    assert all(r["name"] and r["description"] for r in rows)
