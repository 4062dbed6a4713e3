"""Reports as HTML pages with charts (inline SVG: no scripts, no network, opens anywhere)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal

from shared.charts import bar_chart, page
from workers.sink.readonly import QueryRows

PRIMARY = {"cost": "cost_usd", "latency": "calls", "cache": "hit_rate", "guardrails": "verdicts",
           "freshness": "events", "dead_letters": "letters"}  # fmt: skip


def _num(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float | Decimal):
        return float(v)
    return None


def chart_for(report: str, rows: QueryRows, dims: list[str]) -> str:
    if not rows.rows:
        return "<p><em>No data in this window.</em></p>"
    idx = {c: i for i, c in enumerate(rows.columns)}
    labels = [" / ".join(str(r[idx[d]]) for d in dims) or "all" for r in rows.rows][:25]
    quantiles = [c for c in rows.columns if c.endswith(("_p50", "_p95", "_p99"))]
    charts = []
    if quantiles:
        base = quantiles[0].rsplit("_", 1)[0]
        cols = [c for c in quantiles if c.startswith(base)]
        charts.append(
            bar_chart(labels, {c: [_num(r[idx[c]]) for r in rows.rows][:25] for c in cols}, f"{base} quantiles")
        )
    primary = PRIMARY.get(report)
    if primary in idx:
        charts.append(bar_chart(labels, {primary: [_num(r[idx[primary]]) for r in rows.rows][:25]}, primary))
    return "".join(charts)


def table_html(rows: QueryRows) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: str, rows: QueryRows, dims: list[str], since: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"Ladle {report} report, last {since}" + (f", by {', '.join(dims)}" if dims else "")
    return page(
        title, f"<p>Generated {now}; {len(rows.rows)} rows.</p>{chart_for(report, rows, dims)}{table_html(rows)}"
    )
