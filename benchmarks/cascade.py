"""A use case with its cascade against the same use case with the LLM alone, on the same golden
rows in one run: items/s, cost per 1k items, macro-F1 and the share of items that needed a
model call. Both sides run `ladle eval run`'s path (guardrails and scoring included) with one
engine instance and one guardrails engine, loaded before the clock starts.

Goals (docs/cascade.md): at least 80% of items without a model call, macro-F1 no more than 0.02
below the LLM alone, at least 20x its throughput.
"""

from __future__ import annotations

from collections.abc import Iterator

from benchmarks.common import figure
from shared.runtime.errors import UserError
from shared.settings import LadleSettings


def run(ladle: LadleSettings, dataset: str = "food-group", limit: int | None = None, console=None) -> Iterator[dict]:
    from ladle.eval import datasets
    from ladle.eval.run import UseCasePath, evaluate

    _, _, entry = datasets.locate(dataset)
    if entry is None:
        raise UserError(f"{dataset} is not in deploy/eval/datasets.yaml: its use case is unknown")
    cascade = UseCasePath(entry.use_case, ladle)
    if cascade.cascade is None:
        raise UserError(f"use case {entry.use_case} has no cascade (`cascade:` in its use case entry)")
    alone = UseCasePath(entry.use_case, ladle, cascade="off", engine_call=cascade.call_engine, guardrails=False)
    alone.guardrails = cascade.guardrails
    ds = datasets.load(dataset, cascade.taxonomy, limit)
    try:
        cascade.call_engine([])  # load the model and the encoder before timing
        cascade.cascade.encoder()
        runs = {}
        for side, path in (("llm_only", alone), ("cascade", cascade)):
            runs[side] = evaluate(path, ds).run
            if console is not None:
                r = runs[side]
                console.print(f"{side}: {r.items} items in {r.seconds:.1f}s, macro-F1 {r.metric('all', 'macro_f1'):.3f}, "
                              f"llm_call_share {r.metric('all', 'llm_call_share'):.3f}", highlight=False)  # fmt: skip
    finally:
        cascade.close()
    c, a = runs["cascade"], runs["llm_only"]
    common = {"use_case": entry.use_case, "dataset": ds.name, "dataset_sha256": ds.sha256, "split": ds.split,
              "items": len(ds.rows), "cascade": cascade.cascade.ref, "baseline_is": "the same use case without its "
              "cascade (the LLM alone), same rows, same engine, same run"}  # fmt: skip

    def m(run, name):
        return run.metric("all", name) or 0.0

    yield figure("cascade", "items_per_s", m(c, "items_per_s"), m(a, "items_per_s"), "items/s", goal="ratio >= 20",
                 **common)  # fmt: skip
    yield figure("cascade", "cost_per_1k_items_usd", m(c, "cost_per_1k_items_usd"), m(a, "cost_per_1k_items_usd"),
                 "USD", higher_is_better=False, **common)  # fmt: skip
    yield figure("cascade", "macro_f1", m(c, "macro_f1"), m(a, "macro_f1"), "macro-F1",
                 diff=round(m(c, "macro_f1") - m(a, "macro_f1"), 4), goal="diff >= -0.02", **common)  # fmt: skip
    yield figure("cascade", "llm_call_share", m(c, "llm_call_share"), m(a, "llm_call_share"), "share of items",
                 higher_is_better=False, goal="value <= 0.20", **common)  # fmt: skip
