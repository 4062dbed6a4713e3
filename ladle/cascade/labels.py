"""Training labels from every source, merged by trust: a person over a golden set over an LLM.

A source (`ladle cascade train --labels SOURCE`) is one of:

- a dataset of deploy/eval/datasets.yaml whose split is `train` (`food-group-train`), or any
  golden-format JSONL file: kind ``golden``. A `golden` split is refused: it scores the use case.
- ``accepted``: enrichment.accepted read to its end. Only fields an LLM answered count (never a
  cascade's own answers: it would learn its mistakes back), as the guardrails let them through,
  for the latest version of each item; the item itself comes from catalog.changes at that version.
- ``review``: a person's decisions in the console's review queue (review.decisions read to its
  end): every field of what the reviewer accepted or corrected, for the latest version of each
  item (a rejection names no right answer: it teaches nothing); the item from catalog.changes.

Where two sources label the same item's field, the more trusted one wins (card.TRUST); between
sources of one kind, the one named first. Items of the use case's golden sets are left out
whatever the source, so the golden split stays unseen.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from ladle.eval import datasets
from schemas import CatalogChange, CatalogItem, GuardedResult, ReviewDecision
from shared.cascade.card import TRUST, LabelSource
from shared.runtime.errors import UserError
from shared.settings import LadleSettings
from shared.taxonomy import Taxonomy
from workers.enricher.settings import UseCase


@dataclass
class SourceLabels:
    info: LabelSource
    items: dict[str, tuple[CatalogItem, dict]] = field(default_factory=dict)  # item_id -> (item, field -> value)


@dataclass
class TrainingItem:
    item: CatalogItem
    labels: dict  # field -> value (one) or list of values (many)


Reader = Callable[[str, UseCase, Taxonomy, LadleSettings], SourceLabels]


def read_golden(ref: str, uc: UseCase, taxonomy: Taxonomy, _ladle: LadleSettings) -> SourceLabels:
    name, _, entry = datasets.locate(ref)
    if entry is not None and entry.split == "golden":
        raise UserError(f"{name} is a golden split: it scores {entry.use_case} and is never trained on "
                        f"(train on {name}-train)")  # fmt: skip
    ds = datasets.load(ref, taxonomy)
    if ds.bad:
        raise UserError(f"{ds.path}: {len(ds.bad)} unreadable row(s), first: {ds.bad[0]}")
    out = SourceLabels(LabelSource(kind="golden", name=name, sha256=ds.sha256, rows=len(ds.rows), items=0))
    for row in ds.rows:
        out.items[row.id] = (row.item, dict(row.expected))
    return out


def read_accepted(_ref: str, uc: UseCase, taxonomy: Taxonomy, ladle: LadleSettings) -> SourceLabels:
    from topics.registry import Namespace

    ns = Namespace(ladle.topic_prefix)
    latest: dict[str, tuple[int, dict]] = {}  # item_id -> (version, labels)
    rows = 0

    def on_accepted(msgs) -> None:
        nonlocal rows
        for m in msgs:
            try:
                g = GuardedResult.from_json(m.value())
            except ValueError:
                continue  # the sink dead-letters what does not decode; it teaches nothing
            rows += 1
            r = g.result
            if g.route != "accepted" or r.task != uc.task:
                continue
            labels = llm_labels(r.output, r.answered_by, taxonomy)
            if labels and r.item_version >= latest.get(r.item_id, (-1, {}))[0]:
                latest[r.item_id] = (r.item_version, labels)

    _read(ladle, ns.physical("enrichment.accepted"), on_accepted)
    return _with_items(ladle, latest, LabelSource(kind="accepted", name="enrichment.accepted", sha256="", rows=rows,
                                                  items=0))  # fmt: skip


def _with_items(ladle: LadleSettings, latest: dict[str, tuple[int, dict]], info: LabelSource) -> SourceLabels:
    """Each labelled item as catalog.changes has it at the labelled version (an item retention
    already deleted there is left out: nothing to learn from); the digest covers the labels."""
    from topics.registry import Namespace

    wanted = {(i, v) for i, (v, _) in latest.items()}
    items: dict[tuple[str, int], CatalogItem] = {}

    def on_change(msgs) -> None:
        for m in msgs:
            try:
                c = CatalogChange.from_json(m.value())
            except ValueError:
                continue
            if c.item is not None and (c.item_id, c.version) in wanted:
                items[(c.item_id, c.version)] = c.item

    _read(ladle, Namespace(ladle.topic_prefix).physical("catalog.changes"), on_change)
    out = SourceLabels(info)
    for item_id, (version, labels) in sorted(latest.items()):
        item = items.get((item_id, version))
        if item is not None:
            out.items[item_id] = (item, labels)
    body = json.dumps(sorted((i, latest[i][0], lab) for i, (_, lab) in out.items.items()), sort_keys=True)
    out.info.sha256 = hashlib.sha256(body.encode()).hexdigest()
    return out


def _read(ladle: LadleSettings, physical: str, on_batch) -> None:
    from shared.kafka import read

    r = read.TopicReader(read.reader(ladle, "cascade-labels"), [physical])
    try:
        ends = r.ends()
        r.read_to_end(lambda msgs: on_batch([m for m in msgs if not read.past_end(m, ends)]), ends)
    finally:
        r.close()


def llm_labels(output: dict, answered_by: dict[str, str], taxonomy: Taxonomy) -> dict:
    """The fields of an accepted result an LLM answered, in the taxonomy's spelling."""
    out = {}
    for name, f in taxonomy.fields.items():
        if answered_by.get(name, "").startswith("cascade/") or name not in output:
            continue
        value = output[name]
        if f.kind == "one":
            canon = f.canonical(value) if isinstance(value, str) else None
            if canon is not None:
                out[name] = canon
        elif isinstance(value, list) and all(isinstance(v, str) and f.canonical(v) for v in value):
            out[name] = sorted({f.canonical(v) for v in value})
    return out


def read_review(_ref: str, uc: UseCase, taxonomy: Taxonomy, ladle: LadleSettings) -> SourceLabels:
    from topics.registry import Namespace

    latest: dict[str, tuple[int, dict]] = {}  # item_id -> (version, labels)
    rows = 0

    def on_decision(msgs) -> None:
        nonlocal rows
        for m in msgs:
            try:
                d = ReviewDecision.from_json(m.value())
            except ValueError:
                continue
            rows += 1
            if d.task != uc.task or d.action == "reject":
                continue
            try:
                labels = taxonomy.check(d.after)  # a decision made under an older taxonomy may not fit it
            except ValueError:
                continue
            if d.item_version >= latest.get(d.item_id, (-1, {}))[0]:
                latest[d.item_id] = (d.item_version, labels)

    _read(ladle, Namespace(ladle.topic_prefix).physical("review.decisions"), on_decision)
    return _with_items(ladle, latest, LabelSource(kind="review", name="review.decisions", sha256="", rows=rows,
                                                  items=0))  # fmt: skip


READERS: dict[str, Reader] = {"accepted": read_accepted, "review": read_review}


def read_source(spec: str, uc: UseCase, taxonomy: Taxonomy, ladle: LadleSettings) -> SourceLabels:
    """``accepted``, ``review``, or a dataset name or file (``golden:`` in front is optional)."""
    kind, _, ref = spec.partition(":") if spec.startswith("golden:") else (spec, "", spec)
    reader = READERS.get(kind, read_golden)
    return reader(ref, uc, taxonomy, ladle)


def golden_ids(uc: UseCase) -> set[str]:
    """Item ids of the golden splits that score this use case: never trained on."""
    ids: set[str] = set()
    for name, entry in datasets.manifest().items():
        if entry.split == "golden" and entry.use_case == uc.name:
            ids.update(r.id for r in datasets.load(name).rows)
    return ids


def merge(sources: list[SourceLabels], exclude: set[str]) -> tuple[list[TrainingItem], int]:
    """One TrainingItem per item: each field's label from the most trusted source that has one
    (the first named, between equals); the item as that item's most trusted source has it.
    Also returns how many items were left out for being golden."""
    ranked = sorted(enumerate(sources), key=lambda p: (-TRUST[p[1].info.kind], p[0]))
    merged: dict[str, TrainingItem] = {}
    used: dict[str, set[str]] = {}  # item_id -> names of the sources that gave it a label
    held_out = set()
    for _, src in ranked:
        for item_id, (item, labels) in src.items.items():
            if item_id in exclude:
                held_out.add(item_id)
                continue
            t = merged.setdefault(item_id, TrainingItem(item, {}))
            new = {f: v for f, v in labels.items() if f not in t.labels}
            if new:
                t.labels.update(new)
                used.setdefault(item_id, set()).add(src.info.name)
    for src in sources:
        src.info.items = sum(src.info.name in names for names in used.values())
    return list(merged.values()), len(held_out)
