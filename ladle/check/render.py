"""The check's report for people: one table of counts per stage, then the first offenders."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ladle.check.report import CATEGORIES, FAILURES, CheckReport

COLORS = {"missing": "red", "stale": "yellow", "duplicated": "magenta", "extra": "cyan", "dead_lettered": "dim"}


def _n(n: int, category: str) -> str:
    return f"[{COLORS[category]}]{n:,}[/]" if n else "0"


def render(report: CheckReport, out: Console, show: int = 5) -> None:
    table = Table(
        "stage", "checked", "ok", *(c.replace("_", "-") for c in CATEGORIES), "read from", title="ladle check"
    )
    for s in report.stages:
        table.add_row(s.stage, f"{s.checked:,}", f"{s.ok:,}", *(_n(s.count(c), c) for c in CATEGORIES), s.source)
    out.print(table)
    if show:
        found = Table("stage", "category", "id", "detail", title=f"first {show} per category")
        for s in report.stages:
            for c in CATEGORIES:
                for f in sorted(s.findings[c], key=lambda f: (f.id, f.detail))[:show]:
                    found.add_row(s.stage, f"[{COLORS[c]}]{c.replace('_', '-')}[/]", f.id, f.detail)
        if found.row_count:
            out.print(found)
    for s in report.stages:
        for note in s.notes:
            out.print(f"note ({s.stage}): {note}", highlight=False)
    out.print(report.summary(), style="green" if report.clean else "bold red", highlight=False)


__all__ = ["FAILURES", "render"]
