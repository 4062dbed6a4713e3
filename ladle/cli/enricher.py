"""The enricher's commands: `ladle enrich FILE` and `ladle bench enricher`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shared.runtime.errors import UserError
from shared.settings import ladle_settings

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("enrich")(enrich)
    bench_app.command("enricher")(bench_enricher)


def pick_use_case(settings, task: str, use_case: str | None) -> str:
    """The named use case (it must do ``task``), else the one named like the task, else the first that does it."""
    from workers.enricher.settings import load_use_cases

    cases = load_use_cases(settings.use_cases_file)
    if use_case:
        uc = settings.load_use_case(use_case)
        if uc.task != task:
            raise UserError(f"use case {use_case!r} does task {uc.task!r}, not {task!r}")
        return use_case
    if task in cases and cases[task].task == task:
        return task
    for name, uc in cases.items():
        if uc.task == task:
            return name
    raise UserError(f"no use case does task {task!r} in {settings.use_cases_file}")


def enrich(
    file: Annotated[Path, typer.Argument(help="Catalog file, JSONL or CSV (as `ladle produce catalog` reads).")],
    task: Annotated[str, typer.Option(help="What to do to each item; picks the use case named like it.")] = "tag",
    out_path: Annotated[
        Path, typer.Option("--out", help="Parquet file of results; parts beside it until done.")
    ] = Path("results.parquet"),
    use_case: Annotated[str | None, typer.Option(help="A use case from the use cases file.")] = None,
    actors: Annotated[int | None, typer.Option(help="Engine actors (default LADLE_ENRICHER_ACTORS).")] = None,
    publish: Annotated[
        bool, typer.Option(help="Also publish results to enrichment.results and calls to llm.calls.")
    ] = True,
    version: Annotated[
        int | None, typer.Option(help="Version for rows without one (default: the file's mtime in ms).")
    ] = None,
) -> None:
    """Tag a catalog file with the enricher's engines on Ray Data; re-run to resume an interrupted run."""
    from workers.enricher import batch
    from workers.enricher.settings import EnricherSettings

    settings = EnricherSettings()
    if actors:
        settings = settings.model_copy(update={"actors": actors})
    name = pick_use_case(settings, task, use_case)
    s = batch.run(
        file, out_path, settings=settings, ladle=ladle_settings(), use_case=name, publish=publish, console=err
    )
    rate = s.enriched / s.seconds if s.seconds else 0.0
    tok = s.output_tokens / s.seconds if s.seconds else 0.0
    line = (
        f"enriched {s.enriched}, skipped {s.skipped} already done, failed {s.failed}, retry {s.retry}, "
        f"rejected {s.rejected} of {s.items} items in {s.seconds:.1f}s ({rate:.2f} items/s, {tok:.0f} output tokens/s), "
        f"cost ${s.cost_usd:.6f}; {s.classified} answered by the cascade's classifier with no model call"
    )
    if s.interrupted:
        out.print(f"interrupted: {line}; run the same command again to finish", highlight=False)
        raise typer.Exit(130)
    out.print(f"{line}; wrote {s.rows_out} rows to {out_path}", highlight=False)
    raise typer.Exit(0 if s.failed == s.retry == s.rejected == 0 else 1)


def bench_enricher(
    items: Annotated[int, typer.Option(help="Catalog items per run.")] = 24,
    actors: Annotated[int, typer.Option(help="Engine actors (and engines in the direct baseline).")] = 1,
    use_case: Annotated[str, typer.Option(help="The use case to run.")] = "tag",
    rounds: Annotated[int, typer.Option(help="Rounds of each side, interleaved; the best counts.")] = 2,
) -> None:
    """Items/s and output tokens/s through the streaming worker and `ladle enrich` vs the engine called directly."""
    from benchmarks import enricher as bench

    for line in bench.run(ladle_settings(), items=items, actors=actors, use_case=use_case, rounds=rounds, console=err):
        out.print(json.dumps(line), highlight=False, soft_wrap=True)
