"""Evaluation pages: one run (scores per field, confusion matrices, the wrong answers) and two
runs side by side (per field, with the significance verdict)."""

from __future__ import annotations

import html

from schemas import EvalItem, EvalRun
from shared.charts import bar_chart, heatmap, page, table
from shared.evaluation.compare import FieldComparison
from shared.evaluation.metrics import INVALID, FieldScores


def confusion(s: FieldScores) -> tuple[list[str], list[str], list[list[float]]]:
    """Rows: expected values seen; columns: answered values seen, then "(no answer)"."""
    rows = sorted({s.values[t] for t, ok in zip(s.true, s.scored, strict=True) if ok})
    cols = sorted({s.values[p] for p, ok in zip(s.pred, s.scored, strict=True) if ok and p != INVALID})
    has_none = bool(((s.pred == INVALID) & s.scored).any())
    counts = [[0.0] * (len(cols) + has_none) for _ in rows]
    ri, ci = {v: i for i, v in enumerate(rows)}, {v: i for i, v in enumerate(cols)}
    for t, p, ok in zip(s.true, s.pred, s.scored, strict=True):
        if ok:
            j = len(cols) if p == INVALID else ci[s.values[p]]
            counts[ri[s.values[t]]][j] += 1
    return rows, cols + (["(no answer)"] if has_none else []), counts


def run_page(run: EvalRun, items: list[EvalItem], scores: list[FieldScores]) -> str:
    headline = [(f"{x.field} {x.metric}", x.value) for x in run.metrics if x.metric in ("macro_f1", "accuracy")]
    prompt = f"{run.prompt.name}@{run.prompt.version}" if run.prompt else "-"
    body = [
        f"<p>Use case <b>{html.escape(run.use_case)}</b>, dataset <b>{html.escape(run.dataset)}</b> "
        f"(sha256 {run.dataset_sha256[:12]}, {run.items} items), prompt {html.escape(prompt)}, model "
        f"{html.escape(run.model)} on {html.escape(run.engine)}"
        + (f", cascade {html.escape(run.cascade)}" if run.cascade else "")
        + (f", adapter {html.escape(run.adapter)}" if run.adapter else "")
        + f"; {run.seconds:.1f} s, ${run.cost_usd:.6f}.</p>",
        bar_chart([k for k, _ in headline], {"score": [v for _, v in headline]}, "Scores per field"),
        table(["field", "metric", "value"], [[x.field, x.metric, x.value] for x in run.metrics]),
    ]
    for s in scores:
        if s.kind == "one":
            rows, cols, counts = confusion(s)
            body.append(heatmap(rows, cols, counts, f"{s.name}: expected (rows) vs answered (columns)"))
    wrong = [i for i in items if not all(i.correct.values())][:200]
    body.append(f"<h2>Wrong answers ({sum(not all(i.correct.values()) for i in items)}, first 200)</h2>")
    body.append(table(["row", "item", "expected", "answered", "route", "error"],
                      [[i.row, i.item_id, _show(i.expected), _show(i.predicted), i.route, i.error or ""]
                       for i in wrong]))  # fmt: skip
    return page(f"Evaluation {run.run_id}", "".join(body))


def compare_page(a: EvalRun, b: EvalRun, comps: list[FieldComparison]) -> str:
    labels = [c.field for c in comps]
    body = [
        f"<p>A: {html.escape(a.run_id)} ({html.escape(_what(a))})<br>B: {html.escape(b.run_id)} "
        f"({html.escape(_what(b))})<br>Dataset {html.escape(a.dataset)} (sha256 {a.dataset_sha256[:12]}).</p>",
        bar_chart(labels, {"A": [c.a for c in comps], "B": [c.b for c in comps]}, "macro-F1 per field, A and B"),
        table(
            ["field", "metric", "A", "B", "B - A", "95% CI", "only A right", "only B right", "McNemar p", "verdict"],
            [
                [
                    c.field,
                    c.metric,
                    c.a,
                    c.b,
                    c.diff,
                    f"[{c.low:+.3f}, {c.high:+.3f}]",
                    c.only_a,
                    c.only_b,
                    c.p_value,
                    c.verdict,
                ]
                for c in comps
            ],
        ),  # fmt: skip
    ]
    return page(f"Evaluation {a.run_id} vs {b.run_id}", "".join(body))


def _what(r: EvalRun) -> str:
    prompt = f"{r.prompt.name}@{r.prompt.version}" if r.prompt else "-"
    extra = "".join(f", {k} {v}" for k, v in (("cascade", r.cascade), ("adapter", r.adapter)) if v)
    return f"{r.use_case}: prompt {prompt}, {r.model} on {r.engine}{extra}"


def _show(d: dict | None) -> str:
    if d is None:
        return "(no answer)"
    return "; ".join(f"{k}={'|'.join(v) if isinstance(v, list) else v}" for k, v in d.items())
