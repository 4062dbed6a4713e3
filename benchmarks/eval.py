"""The evaluation path's items/s against the use case's engine called directly, same rows, same run;
and scoring 100k items against scikit-learn on the same answers.

Eval side: `ladle eval run`'s path on the first N golden rows (prompt rendering, the engine,
parsing and retries, the guardrail policy, scoring). Baseline: the same engine instance
answering the same rows' first-attempt requests, chunk for chunk, nothing else. Rounds
interleave the two; the best round of each counts (other load only ever slows a side down).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

from benchmarks.common import figure
from shared.settings import LadleSettings


def run(ladle: LadleSettings, dataset: str = "tag", rows: int = 24, rounds: int = 2, chunk: int = 8,
        console=None) -> Iterator[dict]:  # fmt: skip
    from ladle.eval import datasets
    from ladle.eval.run import UseCasePath, evaluate

    _, _, entry = datasets.locate(dataset)
    path = UseCasePath(entry.use_case if entry else "tag", ladle)
    ds = datasets.load(dataset, path.taxonomy, rows)
    try:
        path.call_engine([])  # load the model before timing
        requests = [path.tagger.request(path.tagger.job(r.change())) for r in ds.rows]
        best_eval, best_direct = 0.0, 0.0
        for r in range(rounds):
            t0 = time.perf_counter()
            for start in range(0, len(requests), chunk):
                path.call_engine(requests[start : start + chunk])
            best_direct = max(best_direct, len(requests) / (time.perf_counter() - t0))
            result = evaluate(path, ds, chunk=chunk)
            best_eval = max(best_eval, result.run.items / result.run.seconds)
            if console is not None:
                console.print(f"round {r + 1}: eval {best_eval:.2f} items/s, direct {best_direct:.2f} items/s")
    finally:
        path.close()
    yield figure("eval", "items_per_s", best_eval, best_direct, "items/s", use_case=path.use_case.name,
                 items=len(ds.rows), rounds=rounds,
                 baseline_is="the use case's engine called directly on the same first-attempt requests")  # fmt: skip
    yield scoring_figure()


def scoring_figure(n: int = 100_000) -> dict:
    from sklearn.metrics import f1_score

    from shared.evaluation import metrics as m
    from shared.settings import REPO_ROOT
    from shared.taxonomy import Taxonomy

    tax = Taxonomy.load(REPO_ROOT / "deploy" / "enricher" / "taxonomy.yaml")
    rng = random.Random(5)
    expected, predicted = [], []
    for _ in range(n):
        expected.append({f: (rng.choice(x.values) if x.kind == "one" else rng.sample(x.values, 1))
                         for f, x in tax.fields.items()})  # fmt: skip
        predicted.append({f: (rng.choice(x.values) if x.kind == "one" else rng.sample(x.values, 1))
                          for f, x in tax.fields.items()})  # fmt: skip
    t0 = time.perf_counter()
    scores = m.field_scores(tax, expected, predicted)
    ours = [s.metrics() for s in scores]
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for s in scores:  # the same arrays, scikit-learn's metrics
        if s.kind == "one":
            f1_score(s.true, s.pred, average="macro")
        else:
            f1_score(s.true, s.pred, average="micro")
            f1_score(s.true, s.pred, average="macro", zero_division=0)
    t_sk = time.perf_counter() - t0
    assert all(v is not None for o in ours for v in o.values())
    return figure("eval", "scoring_100k_items_s", t_ours, t_sk, "s", higher_is_better=False, items=n,
                  includes="building the arrays from the answers", baseline_is="scikit-learn's f1_score on the same "
                  "arrays (array building excluded)", fields=len(scores))  # fmt: skip
