"""Build the food-group use case's datasets from ../shared/evaldata/catalog.jsonl (USDA SR28,
25 food groups, 8 items each): per group, 3 items for the golden split (scored, never
learnt from) and 5 for training, chosen with a fixed seed. Rows keep their `source`.

    python deploy/eval/build_food_group.py ../shared/evaldata/catalog.jsonl deploy/eval
"""

from __future__ import annotations

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 20261202
GOLDEN_PER_GROUP = 3


def row(r: dict) -> dict:
    return {
        "id": r["id"],
        "item": {
            "item_id": r["id"],
            "store_id": "usda",
            "name": r["name"],
            "description": r.get("description") or "",
            "price": 0,
        },  # fmt: skip
        "expected": {"food_group": r["labels"]["food_group"]},
        "source": r["source"],
    }


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    by_group: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_group[r["labels"]["food_group"]].append(r)
    rng = random.Random(SEED)
    golden, train = [], []
    for group in sorted(by_group):
        items = sorted(by_group[group], key=lambda r: r["id"])
        rng.shuffle(items)
        golden += items[:GOLDEN_PER_GROUP]
        train += items[GOLDEN_PER_GROUP:]
    rng.shuffle(golden)
    rng.shuffle(train)
    return [row(r) for r in golden], [row(r) for r in train]


def main(src: Path, out: Path) -> None:
    rows = [json.loads(line) for line in src.read_text().splitlines() if line.strip()]
    golden, train = split(rows)
    for name, part in (("food-group.jsonl", golden), ("food-group-train.jsonl", train)):
        (out / name).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in part))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
