"""`ladle check`: reconcile the catalog topic with the index, the enrichment outputs and ClickHouse."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from ladle.check.report import STAGES

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)


class Bars:
    """Progress bars on stderr (a terminal only; elsewhere the structlog lines say what was read)."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )

    def __call__(self, description: str):
        task = self.progress.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            self.progress.update(task, completed=done, total=total)

        return update


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("check")
    def check(
        stages: Annotated[
            str, typer.Option("--stages", help=f"Which stages to reconcile, comma-separated: {','.join(STAGES)}.")
        ] = ",".join(STAGES),
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as one JSON object.")] = False,
        show: Annotated[int, typer.Option("--show", min=0, help="Offending ids listed per stage and category.")] = 5,
        limit: Annotated[int, typer.Option("--limit", min=0, help="Offending ids per category in --json.")] = 1000,
    ) -> None:
        """Reconcile catalog.changes with the vector index, the enrichment outputs and ClickHouse.

        Reports every item that is missing, stale, duplicated or extra. Exit 0 when clean,
        1 when anything is off, 2 when a part cannot be read.
        """
        from ladle.check.render import render
        from ladle.check.run import parse_stages, run_check
        from shared.settings import ladle_settings

        wanted = parse_stages(stages)
        bars = Bars(err)
        with bars.progress:
            report = run_check(ladle_settings(), wanted, bars)
        if as_json:
            sys.stdout.write(json.dumps(report.to_json(limit)) + "\n")
        else:
            render(report, out, show)
        raise typer.Exit(0 if report.clean else 1)
