"""Charts as inline SVG and pages around them: no scripts, no network, they open anywhere.
Reports (the sink), evaluation pages (the application) and the console draw with these."""

from __future__ import annotations

import html

PALETTE = ["#3366cc", "#ff9900", "#dc3912", "#109618", "#990099", "#0099c6"]
STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-top:1em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:right}th{background:#f3f3f3}"
    ".warn{color:#b00}.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:1em 0}"
    ".tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px;background:#fafafa}"
    ".tile b{display:block;font-size:20px}.tile span{font-size:12px;color:#555}"
    ".panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:18px}"
    ".panel{border:1px solid #e3e3e3;border-radius:6px;padding:10px 14px}.panel h2{margin:0 0 6px;font-size:17px}"
    ".panel .row{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}.panel svg{max-width:100%;height:auto}"
    ".empty{color:#777;font-style:italic}pre{white-space:pre-wrap;font-size:12px}"
)


def page(title: str, body: str) -> str:
    """A whole HTML document around ``body``."""
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def table(columns: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.4g}" if isinstance(v, float) else str(v)


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


def heatmap(rows: list[str], cols: list[str], counts: list[list[float]], title: str, cell: int = 22) -> str:
    """A matrix of counts (a confusion matrix: rows expected, columns answered), darker = more."""
    left, top = 230, 40 + 8 * max((len(c) for c in cols), default=0)
    width, height = left + cell * len(cols) + 20, top + cell * len(rows) + 20
    peak = max((v for r in counts for v in r), default=0) or 1
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<text x="8" y="20" font-size="15" font-weight="bold">{html.escape(title)}</text>',
    ]
    for j, c in enumerate(cols):
        x = left + j * cell + cell / 2
        out.append(f'<text x="{x}" y="{top - 6}" font-size="11" transform="rotate(-60 {x} {top - 6})">'
                   f"{html.escape(c[:40])}</text>")  # fmt: skip
    for i, r in enumerate(rows):
        y = top + i * cell
        out.append(
            f'<text x="{left - 6}" y="{y + cell * 0.7}" font-size="11" text-anchor="end">{html.escape(r[:40])}</text>'
        )
        for j, v in enumerate(counts[i]):
            shade = int(255 - 215 * (v / peak)) if v else 255
            out.append(
                f'<rect x="{left + j * cell}" y="{y}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="rgb({shade},{shade},255)" stroke="#ddd"><title>{html.escape(r)} / {html.escape(cols[j])}: '
                f"{v:g}</title></rect>"
            )
            if v:
                out.append(f'<text x="{left + j * cell + cell / 2}" y="{y + cell * 0.68}" font-size="10" '
                           f'text-anchor="middle">{v:g}</text>')  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def line_chart(xs: list[str], series: dict[str, list[float | None]], title: str, width: int = 860,
               height: int = 300, y_max: float | None = None) -> str:  # fmt: skip
    """Lines over ordered x labels (runs over time): one line and marker per point per series."""
    left, right, top, bottom = 60, 160, 34, 70
    n = max(1, len(xs))
    peak = y_max or max([v for vals in series.values() for v in vals if v is not None] or [1.0]) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def pos(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * (i + 0.5) / n)
        return x, top + plot_h * (1 - v / peak)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<text x="8" y="20" font-size="15" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        out.append(f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">{peak * frac:.3g}</text>')
    for i, x in enumerate(xs):
        px = left + plot_w * (i + 0.5) / n
        out.append(f'<text x="{px}" y="{top + plot_h + 14}" font-size="10" text-anchor="end" '
                   f'transform="rotate(-35 {px} {top + plot_h + 14})">{html.escape(x[:24])}</text>')  # fmt: skip
    for j, (name, vals) in enumerate(series.items()):
        color = PALETTE[j % len(PALETTE)]
        points = [pos(i, v) for i, v in enumerate(vals) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (x, y), v in zip(points, [v for v in vals if v is not None], strict=True):
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"><title>{html.escape(name)}: '
                       f"{v:.4g}</title></circle>")  # fmt: skip
        out.append(f'<rect x="{width - right + 10}" y="{top + 16 * j}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{width - right + 24}" y="{top + 9 + 16 * j}" font-size="11">{html.escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def tiles(items: list[tuple[str, str]]) -> str:
    """Headline numbers as cards: (label, value)."""
    cards = "".join(f"<div class=tile><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>" for k, v in items)
    return f"<div class=tiles>{cards}</div>"


def panel(title: str, chart: str, numbers: str, note: str = "") -> str:
    """A titled section: the chart with its numbers beside it."""
    extra = f"<p>{note}</p>" if note else ""
    return f"<section class=panel><h2>{html.escape(title)}</h2>{extra}<div class=row>{chart}{numbers}</div></section>"


def panels(sections: list[str]) -> str:
    return f"<div class=panels>{''.join(sections)}</div>"


def empty(text: str) -> str:
    return f"<p class=empty>{html.escape(text)}</p>"


def column_chart(labels: list[str], values: list[float], title: str, unit: str = "", width: int = 560,
                 height: int = 260) -> str:  # fmt: skip
    """Vertical bars over ordered labels (a histogram's buckets), each with its value on top."""
    left, right, top, bottom = 44, 10, 34, 64
    n = max(1, len(labels))
    peak = max([v for v in values if v is not None] or [1.0]) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / n
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">',
        f'<text x="8" y="20" font-size="15" font-weight="bold">{html.escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot
        cx = x + slot / 2
        if v:
            h = max(1.0, plot_h * v / peak)
            out.append(
                f'<rect x="{x + slot * 0.12:.1f}" y="{top + plot_h - h:.1f}" width="{slot * 0.76:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{html.escape(label)}: {v:g}{unit}</title></rect>'
            )
            out.append(
                f'<text x="{cx:.1f}" y="{top + plot_h - h - 3:.1f}" font-size="10" text-anchor="middle">{v:,.4g}</text>'
            )
        out.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 12}" font-size="10" text-anchor="end" '
            f'transform="rotate(-35 {cx:.1f} {top + plot_h + 12})">{html.escape(label[:18])}</text>'
        )
    out.append("</svg>")
    return "".join(out)  # fmt: skip


def donut_chart(labels: list[str], values: list[float], title: str, size: int = 260) -> str:
    """Shares of a whole as a ring, one arc per label, with a legend and each share."""
    import math

    total = sum(v for v in values if v) or 1.0
    r, cx, cy = size * 0.32, size * 0.4, size * 0.55
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 180}" height="{size + 20}" role="img">',
        f'<text x="8" y="20" font-size="15" font-weight="bold">{html.escape(title)}</text>',
    ]
    angle = -math.pi / 2
    for j, (label, v) in enumerate(zip(labels, values, strict=True)):
        color = PALETTE[j % len(PALETTE)]
        if v:
            sweep = 2 * math.pi * v / total
            if sweep >= 2 * math.pi - 1e-9:  # one label holds everything: a whole ring
                out.append(
                    f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="none" stroke="{color}" '
                    f'stroke-width="{r * 0.45:.1f}"><title>{html.escape(label)}: {v:g}</title></circle>'
                )
            else:
                x0, y0 = cx + r * math.cos(angle), cy + r * math.sin(angle)
                x1, y1 = cx + r * math.cos(angle + sweep), cy + r * math.sin(angle + sweep)
                big = 1 if sweep > math.pi else 0
                out.append(
                    f'<path d="M{x0:.1f},{y0:.1f} A{r:.1f},{r:.1f} 0 {big} 1 {x1:.1f},{y1:.1f}" fill="none" '
                    f'stroke="{color}" stroke-width="{r * 0.45:.1f}"><title>{html.escape(label)}: {v:g}'
                    "</title></path>"
                )
            angle += sweep
        ly = 40 + 18 * j
        out.append(f'<rect x="{size - 20}" y="{ly}" width="10" height="10" fill="{color}"/>')
        out.append(
            f'<text x="{size - 6}" y="{ly + 9}" font-size="11">{html.escape(label[:22])} {(v or 0) / total:.0%}</text>'
        )
    out.append("</svg>")
    return "".join(out)  # fmt: skip
