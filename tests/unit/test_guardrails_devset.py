"""The labelled dev set: the file is what its generator writes, and its splits do not leak."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEVSET = REPO / "deploy" / "guardrails" / "devset.jsonl"


def rows() -> list[dict]:
    return [json.loads(line) for line in DEVSET.read_text().splitlines()]


def test_the_file_matches_its_generator():
    out = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "guardrails" / "generate_devset.py")],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    assert out.stdout.decode() == DEVSET.read_text(), (
        "regenerate: python deploy/guardrails/generate_devset.py > deploy/guardrails/devset.jsonl"
    )


def test_every_check_has_positives_in_both_splits_and_items_never_cross():
    data = rows()
    for check in ("size", "schema", "taxonomy", "consistency", "pii", "injection", "toxicity"):
        per_split = Counter(r["split"] for r in data if r["labels"][check])
        assert per_split["dev"] >= 10 and per_split["test"] >= 10, (check, per_split)
    split_of: dict[str, set[str]] = {}
    for r in data:
        split_of.setdefault(r["result"]["item_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())
    assert len({r["id"] for r in data}) == len(data)
