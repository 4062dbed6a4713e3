"""Reports as HTML pages with charts (inline SVG: no scripts, no network, opens anywhere)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal

from workers.sink.readonly import QueryRows

PALETTE = ["#3366cc", "#ff9900", "#dc3912", "#109618", "#990099", "#0099c6"]
PRIMARY = {"cost": "cost_usd", "latency": "calls", "cache": "hit_rate", "guardrails": "verdicts",
           "freshness": "events", "dead_letters": "letters"}  # fmt: skip


def _num(v) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float | Decimal):
        return float(v)
    return None


def bar_chart(labels: list[str], series: dict[str, list[float | None]], title: str, width: int = 860) -> str:
    """Horizontal grouped bars: one row per label, one bar per series."""
    n, k = len(labels), max(1, len(series))
    row_h, bar_h, left, top = 10 + 14 * k, 12, 220, 34
    height = top + n * row_h + 30
    peak = max([v for vals in series.values() for v in vals if v is not None] or [1.0]) or 1.0
    scale = (width - left - 90) / peak
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<text x="8" y="20" font-size="15" font-weight="bold">{html.escape(title)}</text>',
    ]
    for i, label in enumerate(labels):
        y = top + i * row_h
        out.append(
            f'<text x="{left - 8}" y="{y + row_h / 2 + 4}" font-size="12" text-anchor="end">{html.escape(label[:34])}</text>'
        )
        for j, (name, vals) in enumerate(series.items()):
            v = vals[i]
            if v is None:
                continue
            w = max(1.0, v * scale)
            by = y + 4 + j * 14
            out.append(
                f'<rect x="{left}" y="{by}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[j % len(PALETTE)]}"><title>{html.escape(name)}: {v:g}</title></rect>'
            )
            out.append(f'<text x="{left + w + 4:.1f}" y="{by + 10}" font-size="11">{v:,.4g}</text>')
    lx = left
    for j, name in enumerate(series):
        out.append(f'<rect x="{lx}" y="{height - 18}" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>')
        out.append(f'<text x="{lx + 14}" y="{height - 9}" font-size="11">{html.escape(name)}</text>')
        lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)


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
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin-top:1em}}
td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:right}}th{{background:#f3f3f3}}</style></head>
<body><h1>{html.escape(title)}</h1><p>Generated {now}; {len(rows.rows)} rows.</p>
{chart_for(report, rows, dims)}{table_html(rows)}</body></html>
"""
