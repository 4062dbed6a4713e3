"""The evaluation and cost pages: rows from the sink, drawn as inline SVG (shared.charts)."""

from __future__ import annotations

from schemas import EvalItem, EvalRun
from services.console.pages import e
from services.console.sinkq import SinkClient, SinkUnavailable
from shared import charts
from shared.evaluation.compare import compare
from shared.runtime.errors import UserError
from shared.taxonomy import Taxonomy

RUNS_SQL = """
SELECT run_id, use_case, task, dataset, dataset_sha256, prompt_name, prompt_version, model, cascade, items, status,
       formatDateTime(started_at, '%Y-%m-%d %H:%i') AS started, metric_fields, metric_names, metric_values
FROM eval_runs FINAL ORDER BY started_at, run_id LIMIT 500
"""


def _safe(draw, what: str) -> str:
    try:
        return draw()
    except SinkUnavailable as exc:
        return charts.empty(f"{what}: {exc}")


def _metrics(run: dict) -> dict[str, float]:
    return {f"{f}/{m}": float(v) for f, m, v in zip(run["metric_fields"], run["metric_names"], run["metric_values"],
                                                    strict=True)}  # fmt: skip


def runs(sink: SinkClient) -> list[dict]:
    return sink.query(RUNS_SQL)


def evaluations_body(all_runs: list[dict], compare_html: str = "") -> str:
    if not all_runs:
        return charts.empty("No evaluation runs landed yet: `ladle eval run` writes them to eval.runs.")
    sections = []
    for use_case in sorted({r["use_case"] for r in all_runs}):
        rs = [r for r in all_runs if r["use_case"] == use_case]
        names = sorted({k for r in rs for k in _metrics(r) if k.startswith("all/")}) or sorted(
            {k for r in rs for k in _metrics(r)})[:4]  # fmt: skip
        xs = [f"{r['started']} {r['run_id'][:8]}" for r in rs]
        series = {n: [_metrics(r).get(n) for r in rs] for n in names}
        chart = charts.line_chart(xs, series, f"{use_case}: scores per run", width=760, y_max=1.0)
        rows = [[r["run_id"], r["started"], r["dataset"], f"{r['prompt_name']}@{r['prompt_version']}", r["model"],
                 r["items"], r["status"]] for r in rs]  # fmt: skip
        sections.append(charts.panel(use_case, chart, charts.table(["run", "started", "dataset", "prompt", "model",
                                                                    "items", "status"], rows)))  # fmt: skip
    options = "".join(f'<option value="{e(r["run_id"])}">{e(r["use_case"])} · {e(r["started"])} · {e(r["run_id"])}'
                      "</option>" for r in reversed(all_runs))  # fmt: skip
    form = (
        f'<form method="get" action="/evaluations"><label>Run A <select name="a">{options}</select></label> '
        f'<label>Run B <select name="b">{options}</select></label> <button type="submit">Compare</button></form>'
    )
    return charts.panels(sections) + "<h2>Compare two runs</h2>" + form + compare_html


def costs_body(sink: SinkClient, since: str) -> str:
    def spend() -> str:
        rows = sink.report("cost", since, "team,model")
        if not rows:
            return charts.empty("no calls in the window")
        labels = [f"{r['team']} / {r['model']}" for r in rows]
        chart = charts.bar_chart(labels, {"USD": [float(r["cost_usd"] or 0) for r in rows]},
                                 f"spend by team and model, last {since}", width=640)  # fmt: skip
        return chart + charts.table(
            ["team", "model", "calls", "USD"],
            [[r["team"], r["model"], r["calls"], float(r["cost_usd"] or 0)] for r in rows],
        )

    def latency() -> str:
        rows = [r for r in sink.report("latency", since, "model") if r.get("latency_ms_p50") is not None]
        if not rows:
            return charts.empty("no answered calls in the window")
        series = {p: [r[f"latency_ms_{p}"] for r in rows] for p in ("p50", "p95", "p99")}
        return charts.bar_chart([r["model"] for r in rows], series, "latency percentiles (ms) by model", width=640)

    def cache() -> str:
        rows = sink.report("cache", since, "use_case")
        if not rows:
            return charts.empty("no calls in the window")
        return charts.bar_chart([r["use_case"] for r in rows], {"hit rate": [r["hit_rate"] for r in rows]},
                                "cache hit rate by use case", width=640)  # fmt: skip

    def guardrails() -> str:
        rows = sink.report("guardrails", since, "action")
        if not rows:
            return charts.empty("no verdicts in the window")
        return charts.donut_chart([r["action"] for r in rows], [float(r["verdicts"]) for r in rows],
                                  "guardrail actions")  # fmt: skip

    def freshness() -> str:
        rows = [r for r in sink.report("freshness", since, "collection") if r.get("freshness_ms_p50") is not None]
        if not rows:
            return charts.empty("no catalog changes indexed in the window")
        series = {p: [r[f"freshness_ms_{p}"] / 1000 for r in rows] for p in ("p50", "p95")}
        return charts.bar_chart([r["collection"] for r in rows], series, "seconds from change to index", width=640)

    def reviews() -> str:
        rows = sink.query("SELECT action, count() AS n FROM review_decisions FINAL GROUP BY action ORDER BY action")
        if not rows:
            return charts.empty("no review decisions yet")
        return charts.donut_chart([r["action"] for r in rows], [float(r["n"]) for r in rows], "review decisions")

    parts = [("Spend", spend), ("Latency", latency), ("Cache", cache), ("Guardrails", guardrails),
             ("Freshness", freshness), ("Reviews", reviews)]  # fmt: skip
    return charts.panels([charts.panel(title, _safe(fn, title), "") for title, fn in parts])


ITEMS_SQL = """
SELECT run_id, row, item_id, expected, predicted, answered FROM eval_items FINAL
WHERE run_id IN (%(a)s, %(b)s) ORDER BY run_id, row
"""


def _answer(taxonomy: Taxonomy, values: dict[str, list[str]]) -> dict:
    """A landed answer (every field an array) in the run's shape: a `one` field's lone value."""
    kinds = {n: f.kind for n, f in taxonomy.fields.items()}
    return {k: (v[0] if v else None) if kinds.get(k) == "one" else list(v) for k, v in values.items()}


def compare_runs(sink: SinkClient, taxonomies, all_runs: list[dict], a: str, b: str) -> str:
    """Two runs per field (macro-F1, then the mean over fields as "all"): A, B, B - A, its 95% paired
    bootstrap interval, McNemar's test on the items, and the verdict (shared.evaluation.compare)."""
    by_id = {r["run_id"]: r for r in all_runs}
    if a not in by_id or b not in by_id:
        return charts.empty(f"no run {a if a not in by_id else b!r}")
    ra, rb = by_id[a], by_id[b]
    taxonomy = taxonomies.of(ra["task"] or ra["use_case"])
    items: dict[str, list[EvalItem]] = {a: [], b: []}
    for r in sink.query(ITEMS_SQL, {"a": a, "b": b}):
        items[r["run_id"]].append(EvalItem(run_id=r["run_id"], row=r["row"], item_id=r["item_id"],
                                           expected=_answer(taxonomy, r["expected"]),
                                           predicted=_answer(taxonomy, r["predicted"]) if r["answered"] else None))  # fmt: skip
    runs = [EvalRun.model_construct(run_id=x["run_id"], dataset=x["dataset"], dataset_sha256=x["dataset_sha256"])
            for x in (ra, rb)]  # fmt: skip
    try:
        rows = compare(taxonomy, runs[0], items[a], runs[1], items[b], rounds=1000)
    except UserError as exc:
        return f'<div id="compare">{charts.empty(str(exc))}</div>'
    table = charts.table(["field", "metric", "A", "B", "B - A", "95% interval", "only A right", "only B right",
                          "McNemar p", "verdict"],
                         [[c.field, c.metric, c.a, c.b, c.diff, f"[{c.low:.3f}, {c.high:.3f}]", c.only_a, c.only_b,
                           c.p_value, c.verdict] for c in rows])  # fmt: skip
    return f'<div id="compare"><h3>{e(a)} (A) vs {e(b)} (B) on {e(ra["dataset"])}</h3>{table}</div>'
