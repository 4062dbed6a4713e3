"""`ladle cascade train`: labels from the given sources -> one classifier per field -> a new version.

The new version is written under <LADLE_DATA_DIR>/cascades (or ``into``, e.g. deploy/cascades
for a version that ships) and serves nowhere until `ladle cascade promote` moves a label to it
through the use case's release gate.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ladle.cascade import fit
from ladle.cascade.labels import golden_ids, merge, read_source
from shared.cascade import CascadeCard, CascadeRegistry
from shared.cascade.card import FieldCard, FieldValidation
from shared.cascade.model import FieldModel, save
from shared.cascade.text import RECIPE, item_text
from shared.runtime.errors import UserError
from shared.settings import LadleSettings
from shared.taxonomy import Taxonomy
from workers.enricher.settings import UseCase

Say = Callable[[str], None]


def train(
    uc: UseCase, taxonomy: Taxonomy, specs: list[str], ladle: LadleSettings, *, name: str | None = None,
    precision: float | None = None, into: Path | None = None, encoder=None, say: Say = lambda _s: None,
) -> tuple[CascadeCard, Path]:  # fmt: skip
    name = name or uc.name
    target = precision if precision is not None else uc.cascade_precision
    sources = [read_source(s, uc, taxonomy, ladle) for s in specs]
    items, held_out = merge(sources, golden_ids(uc))
    for s in sources:
        say(f"{s.info.kind} {s.info.name}: {s.info.rows} rows, labels for {s.info.items} items")
    if held_out:
        say(f"{held_out} items of the use case's golden sets left out")
    if not items:
        raise UserError(f"no labels for use case {uc.name} in {', '.join(specs)}")
    if encoder is None:
        from shared.encoder import shared_encoder

        encoder = shared_encoder()
    say(f"embedding {len(items)} items")
    x = encoder.encode([item_text(t.item) for t in items])
    groups = fit.near_duplicates(x, uc.cascade_near_duplicate)
    fields, cards, sure = {}, {}, {}
    for fname, f in taxonomy.fields.items():
        rows = [i for i, t in enumerate(items) if fname in t.labels]
        say(f"{fname} ({f.kind}): {len(rows)} labels")
        labels = [items[i].labels[fname] for i in rows]
        if len(rows) < 2 * fit.MIN_LABELS:
            cards[fname] = FieldCard(kind=f.kind, values=[], max_items=f.max_items, validation=FieldValidation(
                labels=len(rows), coverage=0.0, precision=None, accuracy=0.0, macro_f1=0.0))  # fmt: skip
            continue
        sims = encoder.encode([v.replace("_", " ") for v in f.values])
        fitter = fit.fit_one if f.kind == "one" else fit.fit_many
        fitted = fitter(fname, f, x[rows], labels, sims, target, groups[np.asarray(rows, dtype=int)])
        cards[fname] = fitted.card
        if fitted.model is not None:
            fields[fname] = fitted.model
            sure[fname] = _sure_everywhere(fitted.model, x, rows, fitted.sure)
    coverage = np.ones(len(items), bool)
    for fname in taxonomy.fields:
        coverage &= sure.get(fname, np.zeros(len(items), bool))
    registry = CascadeRegistry(ladle.data_dir)
    version, folder = registry.next_version(name, into)
    card = CascadeCard(
        name=name, version=version, use_case=uc.name, task=uc.task, taxonomy_version=taxonomy.version,
        encoder=encoder.name, dim=int(x.shape[1]), text=RECIPE, target_precision=target, fields=cards,
        sources=[s.info for s in sources], items=len(items), item_coverage=round(float(coverage.mean()), 4),
        params=fit.params(uc.cascade_near_duplicate), created_by=getpass.getuser(),
    )  # fmt: skip
    save(folder, card, fields)
    return card, folder


def _sure_everywhere(model: FieldModel, x: np.ndarray, rows: list[int], oof_sure: np.ndarray) -> np.ndarray:
    """Per training item: out of fold where the item is labelled, the final model's call elsewhere."""
    out = np.array([s for _, s in model.decide(x)], dtype=bool)
    out[rows] = oof_sure
    return out
