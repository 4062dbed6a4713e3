"""reports/demo.html: what `ladle demo` did, as one page of charts with their numbers beside them.

Tag quality per field (the evaluation the demo ran), cost by team and model, the latency
distribution of LLM calls, guardrail actions, index freshness and dead letters, each read
from ClickHouse through the sink's API; then the search and the analyst query. Inline SVG
(shared/charts.py): no scripts, no network, the file opens anywhere.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime

from shared.charts import bar_chart, column_chart, donut_chart, empty, page, panel, panels, table, tiles

Sql = Callable[..., list[dict]]  # (sql, parameters) -> rows as dicts, through the sink's API
WINDOW = "7d"
LATENCY_SQL = """
SELECT pow(2, floor(log2(greatest(latency_ms, 1)))) AS from_ms, count() AS calls
FROM llm_calls FINAL
WHERE occurred_at >= now() - INTERVAL 7 DAY AND {answered}
GROUP BY from_ms ORDER BY from_ms
"""
ANSWERED = "status = 'ok' AND cache_status NOT IN ('exact_hit', 'semantic_hit')"
LATENCY_QUANTILES_SQL = f"""
SELECT round(quantile(0.5)(latency_ms), 1) AS p50, round(quantile(0.95)(latency_ms), 1) AS p95,
       round(quantile(0.99)(latency_ms), 1) AS p99, count() AS calls
FROM llm_calls FINAL WHERE occurred_at >= now() - INTERVAL 7 DAY AND {ANSWERED}
"""
QUALITY_METRICS = ("accuracy", "micro_f1", "macro_f1")


def _report(sql: Sql, name: str, by: list[str]) -> list[dict]:
    from workers.sink.reports import report_sql

    q, params = report_sql(name, WINDOW, by)
    return sql(q, params)


def _ms(v) -> str:
    return "–" if v is None else f"{v:g}"


def _f(v) -> float:
    return float(v) if v is not None else 0.0


def quality_panel(quality: dict | None) -> str:
    if not quality:
        return panel("Tag quality per field", empty("No evaluation in this demo run (--eval-items 0)."), "")
    metrics = [m for m in quality["metrics"] if m["metric"] in QUALITY_METRICS]
    fields = list(dict.fromkeys(m["field"] for m in metrics))
    names = [n for n in QUALITY_METRICS if any(m["metric"] == n for m in metrics)]
    value = {(m["field"], m["metric"]): m["value"] for m in metrics}
    series = {n: [value.get((f, n)) for f in fields] for n in names}
    chart = bar_chart(fields, series, f"{quality['dataset']}: {quality['items']} golden items", width=600)
    numbers = table(["field", *names], [[f, *[value.get((f, n)) for n in names]] for f in fields])
    note = f'<span class="warn">{html.escape(quality["warning"])}</span>' if quality.get("warning") else ""
    return panel("Tag quality per field", chart, numbers, note)


def cost_panel(rows: list[dict]) -> str:
    if not rows:
        return panel("Cost by team and model", empty("No LLM calls in the last 7 days."), "")
    labels = [f"{r['team'] or '(none)'} / {r['model']}" for r in rows]
    chart = bar_chart(labels, {"cost_usd": [_f(r["cost_usd"]) for r in rows]}, "USD, last 7 days", width=600)
    numbers = table(["team", "model", "calls", "cost USD"],
                    [[r["team"], r["model"], r["calls"], f"{_f(r['cost_usd']):.6f}"] for r in rows])  # fmt: skip
    return panel("Cost by team and model", chart, numbers)


def latency_panel(buckets: list[dict], quantiles: dict) -> str:
    if not buckets:
        return panel("LLM latency distribution", empty("No answered calls in the last 7 days."), "")
    labels = [f"{int(b['from_ms'])}-{int(b['from_ms']) * 2} ms" for b in buckets]
    chart = column_chart(
        labels, [float(b["calls"]) for b in buckets], "answered calls by latency (cache hits left out)"
    )
    numbers = table(["", "ms"], [[q, quantiles[q]] for q in ("p50", "p95", "p99")] + [["calls", quantiles["calls"]]])
    return panel("LLM latency distribution", chart, numbers)


def guardrails_panel(actions: list[dict]) -> str:
    if not actions:
        return panel("Guardrail actions", empty("No guardrail verdicts yet."), "")
    chart = donut_chart([a["action"] for a in actions], [float(a["n"]) for a in actions], "verdicts by action")
    numbers = table(["action", "verdicts"], [[a["action"], a["n"]] for a in actions])
    return panel("Guardrail actions", chart, numbers)


def freshness_panel(rows: list[dict]) -> str:
    rows = [r for r in rows if r.get("freshness_ms_p50") is not None]
    if not rows:
        return panel("Index freshness", empty("No index upserts in the last 7 days."), "")
    qs = ("p50", "p90", "p95", "p99")
    series = {q: [_f(r[f"freshness_ms_{q}"]) / 1000 for r in rows] for q in qs}
    chart = bar_chart([r["collection"] for r in rows], series, "seconds from catalog change to the index", width=600)
    numbers = table(["collection", "events", *[f"{q} s" for q in qs]],
                    [[r["collection"], r["events"], *[round(_f(r[f"freshness_ms_{q}"]) / 1000, 2) for q in qs]]
                     for r in rows])  # fmt: skip
    return panel("Index freshness", chart, numbers)


def dead_letters_panel(rows: list[dict]) -> str:
    if not rows:
        return panel("Dead letters", empty("None in the last 7 days: every message was processed."), "")
    labels = [f"{r['original_topic']} / {r['error_class']}" for r in rows]
    chart = bar_chart(labels, {"letters": [float(r["letters"]) for r in rows]}, "letters by topic and error", 600)
    numbers = table(
        ["topic", "error", "letters"], [[r["original_topic"], r["error_class"], r["letters"]] for r in rows]
    )
    return panel("Dead letters", chart, numbers)


def render(facts: dict, hits: list[dict], analyst: list[dict], analyst_sql: str, sql: Sql) -> str:
    c, f = facts["calls"], facts["freshness"]
    dead = _report(sql, "dead_letters", ["original_topic", "error_class"])
    headline = [
        ("items", str(facts["items"])),
        ("tags per item", str(facts["tags"]["tags_per_item"])),
        ("LLM calls (tagging)", str(c["calls"])),
        ("cost (pricing table)", f"${_f(c['cost_usd']):.6f}"),
        ("tagging latency p50 / p95", f"{_ms(c['p50_ms'])} / {_ms(c['p95_ms'])} ms"),
        ("index freshness p50 / p95", f"{f['p50_s']} / {f['p95_s']} s"),
        ("dead letters", str(sum(int(r["letters"]) for r in dead))),
        ("routes", ", ".join(f"{r['route']} {r['n']}" for r in facts["routes"]) or "none"),
    ]
    if facts.get("cascade"):
        cascade = facts["cascade"]
        headline.append(
            ("answered by the cascade's classifier alone", f"{cascade['classified']} of {cascade['items']}")
        )
    body = [
        f"<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M UTC} from ClickHouse (the sink's API); windows: last "
        f"{WINDOW}.</p>",
        tiles(headline),
        panels([
            quality_panel(facts.get("quality")),
            cost_panel(_report(sql, "cost", ["team", "model"])),
            latency_panel(sql(LATENCY_SQL.format(answered=ANSWERED), {}), sql(LATENCY_QUANTILES_SQL, {})[0]),
            guardrails_panel(facts["actions"]),
            freshness_panel(_report(sql, "freshness", ["collection"])),
            dead_letters_panel(dead),
        ]),
        "<h2>Search</h2>",
        table(["item", "name", "score"], [[h.get("item_id"), h.get("name", ""), h.get("score")] for h in hits]),
        "<h2>An analyst's question: accepted items per tag</h2>",
        f"<pre>{html.escape(analyst_sql)}</pre>",
        table(["tag", "items"], [[r["tag"], r["items"]] for r in analyst]),
    ]  # fmt: skip
    return page("Ladle demo", "".join(body))
