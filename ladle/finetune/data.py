"""Training examples in OpenAI's chat format, rendered exactly as the enricher sends them: the use
case's prompt (system and user message, the taxonomy listed) and, as the assistant's answer, the
JSON object the engine must produce. The same format `POST /v1/files` takes (shared.finetune.files checks it)."""

from __future__ import annotations

import hashlib
import json
import random

from ladle.cascade.labels import TrainingItem
from ladle.eval.datasets import Row
from shared.finetune.files import Example
from shared.runtime.errors import UserError
from shared.taxonomy import Taxonomy


def answer(labels: dict, taxonomy: Taxonomy) -> str | None:
    """The JSON the engine must answer for these labels, fields in the taxonomy's order; None when a
    field is unlabelled (a partial answer would teach the model to leave fields out)."""
    if any(name not in labels for name in taxonomy.fields):
        return None
    return json.dumps({name: labels[name] for name in taxonomy.fields}, ensure_ascii=False)


def examples(items: list[TrainingItem], path, taxonomy: Taxonomy) -> tuple[list[Example], int]:
    """One example per fully labelled item through the use case's path (``ladle.eval.run.UseCasePath``
    without its cascade); also the number of items left out for a missing field."""
    out, skipped = [], 0
    for t in items:
        text = answer(t.labels, taxonomy)
        if text is None:
            skipped += 1
            continue
        change = Row(0, t.item.item_id, t.item, t.labels).change()
        messages = path.tagger.job(change).messages
        out.append({"messages": [*messages, {"role": "assistant", "content": text}]})
    return out, skipped


def split(rows: list[Example], share: float, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, validation): a seeded random ``share`` held out, at least one row when there are two."""
    if not rows:
        raise UserError("no training examples")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_val = min(max(round(len(rows) * share), 1 if len(rows) > 1 and share > 0 else 0), len(rows) - 1)
    val = {order[i] for i in range(n_val)}
    return [r for i, r in enumerate(rows) if i not in val], [r for i, r in enumerate(rows) if i in val]


def sha256(rows: list[Example]) -> str:
    return hashlib.sha256("\n".join(json.dumps(r, sort_keys=True) for r in rows).encode()).hexdigest()
