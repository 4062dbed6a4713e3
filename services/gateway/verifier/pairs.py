"""Labelled question pairs: what the verifier is trained on and what `ladle bench semantic-cache
--pairs` scores.

A pair file is JSON lines with ``a`` (the question answered and cached), ``b`` (the question
asked later) and ``label``: 1 (or true, or "paraphrase") when the answer cached for ``a`` is right
for ``b``, 0 (false, "different") when it is not; a row with ``"ambiguous": true`` counts as a
negative, whatever its label. Optional: ``category`` (for per-category figures), ``id``, ``source``.

Groups: pairs that share a question (after case and whitespace) are one group, so grouped folds
never put a question seen in training into a test pair (union-find over the texts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shared.runtime.errors import UserError

POSITIVE = {1, "paraphrase"}  # 1 == True == 1.0
NEGATIVE = {0, "different"}


@dataclass(frozen=True, slots=True)
class Pair:
    a: str
    b: str
    label: bool  # the answer cached for a is right for b (an ambiguous row is False)
    category: str
    id: str


def load(path: Path) -> list[Pair]:
    """Every pair of the file, in order; a bad row is a UserError naming its line."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise UserError(f"cannot read the pair file {path}: {exc.strerror or exc}") from None
    pairs = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise UserError(f"{path}:{n}: not JSON") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}:{n}: a row must be an object with a, b and label")
        a, b, label = row.get("a"), row.get("b"), row.get("label")
        if not isinstance(a, str) or not isinstance(b, str) or not a.strip() or not b.strip():
            raise UserError(f"{path}:{n}: `a` and `b` must be non-empty strings")
        if label not in POSITIVE and label not in NEGATIVE:
            raise UserError(f'{path}:{n}: `label` must be 1 or 0 (or "paraphrase" / "different"), not {label!r}')
        category = row.get("category") or row.get("split") or "-"
        pairs.append(Pair(a, b, label in POSITIVE and not row.get("ambiguous"), str(category), str(row.get("id", n))))
    if not pairs:
        raise UserError(f"{path} has no pairs")
    return pairs


def _key(text: str) -> str:
    return " ".join(text.lower().split()).strip(" ?!.")


def groups(pairs: list[Pair]) -> list[int]:
    """One group number per pair: pairs connected through a shared question share it."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        parent[find(_key(p.a))] = find(_key(p.b))
    roots: dict[str, int] = {}
    return [roots.setdefault(find(_key(p.a)), len(roots)) for p in pairs]
