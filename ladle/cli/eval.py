"""`ladle eval datasets|run|list|compare|gate`: golden datasets, scored runs, comparisons, the release gate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from shared.runtime.errors import LadleError, UserError

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)


def progress_bar(label: str) -> Progress:
    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err,
                    transient=False)  # fmt: skip


def evaluate_with_progress(path, ds, label: str):
    from ladle.eval.run import evaluate

    with progress_bar(label) as bar:
        task = bar.add_task(label, total=len(ds.rows))
        return evaluate(path, ds, progress=lambda done, total: bar.update(task, completed=done, total=total))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    ev = typer.Typer(help="Evaluation: golden datasets, scored runs, comparisons, the release gate.",
                     no_args_is_help=True)  # fmt: skip
    app.add_typer(ev, name="eval")
    bench_app.command("eval")(bench_eval)

    @ev.command("datasets")
    def datasets_() -> None:
        """The shipped golden datasets: name, rows, content hash, use case, split."""
        from ladle.eval import datasets

        table = Table("dataset", "rows", "sha256", "use case", "split", "file")
        for name, entry in sorted(datasets.manifest().items()):
            ds = datasets.load(name)
            table.add_row(name, str(len(ds.rows)), ds.sha256[:16], entry.use_case, entry.split, str(entry.file))
        out.print(table)

    @ev.command("run")
    def run(
        dataset: Annotated[str, typer.Argument(help="A dataset name (`ladle eval datasets`) or a JSONL file.")],
        use_case: Annotated[str | None, typer.Option(help="Default: the dataset's own use case.")] = None,
        prompt_version: Annotated[int | None, typer.Option(help="Evaluate this prompt version.")] = None,
        cascade: Annotated[
            str | None,
            typer.Option(
                help="Evaluate this cascade (NAME@VERSION or NAME@LABEL) instead of the use case's; off: none."
            ),
        ] = None,  # fmt: skip
        limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON line per metric.")] = False,
        html_path: Annotated[Path | None, typer.Option("--html", help="Also write an HTML page.")] = None,
        publish: Annotated[bool, typer.Option(help="Publish to eval.runs/eval.items (the sink lands them).")] = True,
    ) -> None:
        """Run the use case's real path on every row and score it."""
        from ladle.eval import datasets, store
        from ladle.eval.html import run_page
        from ladle.eval.run import UseCasePath, json_lines
        from shared.settings import ladle_settings

        ladle = ladle_settings()
        _, _, entry = datasets.locate(dataset)
        name = use_case or (entry.use_case if entry else None)
        if name is None:
            raise UserError(f"{dataset} is not in deploy/eval/datasets.yaml: say which use case with --use-case")
        path = UseCasePath(name, ladle, prompt_version=prompt_version, cascade=cascade)
        ds = datasets.load(dataset, path.taxonomy, limit)
        for bad in ds.bad:
            err.print(f"{ds.path}: {bad}", highlight=False)
        if not ds.rows:
            raise UserError(f"{ds.path}: no row could be read")
        try:
            result = evaluate_with_progress(path, ds, f"{name} on {ds.name}")
        finally:
            path.close()
        saved = store.save(ladle, result)
        if publish:
            try:
                store.publish(ladle, result)
            except LadleError as exc:
                err.print(f"warning: not published ({exc}); the run is kept in {saved}", highlight=False)
        if html_path is not None:
            html_path.parent.mkdir(parents=True, exist_ok=True)
            html_path.write_text(run_page(result.run, result.items, result.scores))
            err.print(f"wrote {html_path}")
        if as_json:
            for line in json_lines(result):
                out.print(json.dumps(line), highlight=False, soft_wrap=True)
        else:
            _print_run(result.run)
        err.print(f"run {result.run.run_id}: {result.run.items} items in {result.run.seconds:.1f}s, kept in {saved}"
                  + (f"; {len(ds.bad)} row(s) could not be scored" if ds.bad else ""), highlight=False)  # fmt: skip
        raise typer.Exit(1 if ds.bad else 0)

    @ev.command("list")
    def list_(use_case: Annotated[str | None, typer.Option(help="Only this use case's runs.")] = None) -> None:
        """Kept runs, oldest first, with their headline score."""
        from ladle.eval import store
        from shared.settings import ladle_settings

        table = Table("run", "use case", "dataset", "items", "prompt", "model", "macro-F1", "started")
        for r in store.list_runs(ladle_settings(), use_case):
            prompt = f"{r.prompt.name}@{r.prompt.version}" if r.prompt else "-"
            f1 = r.metric("all", "macro_f1")
            table.add_row(r.run_id, r.use_case, r.dataset, str(r.items), prompt, r.model,
                          f"{f1:.3f}" if f1 is not None else "-", f"{r.started_at:%Y-%m-%d %H:%M}")  # fmt: skip
        out.print(table)

    @ev.command("compare")
    def compare_(
        run_a: Annotated[str, typer.Argument(help="The baseline run.")],
        run_b: Annotated[str, typer.Argument(help="The candidate run.")],
        as_json: Annotated[bool, typer.Option("--json", help="One JSON line per field.")] = False,
        html_path: Annotated[Path | None, typer.Option("--html", help="Also write an HTML page.")] = None,
    ) -> None:
        """Per field: both scores, B - A with a paired bootstrap 95% interval, McNemar's test, a verdict."""
        from ladle.eval import store
        from ladle.eval.html import compare_page
        from shared.evaluation.compare import compare
        from shared.settings import ladle_settings
        from shared.taxonomy import Taxonomy
        from workers.enricher.settings import EnricherSettings

        ladle = ladle_settings()
        a, items_a = store.load(ladle, run_a)
        b, items_b = store.load(ladle, run_b)
        taxonomy = Taxonomy.load(EnricherSettings().load_use_case(a.use_case).taxonomy)
        comps = compare(taxonomy, a, items_a, b, items_b)
        if html_path is not None:
            html_path.parent.mkdir(parents=True, exist_ok=True)
            html_path.write_text(compare_page(a, b, comps))
            err.print(f"wrote {html_path}")
        if as_json:
            for c in comps:
                out.print(json.dumps(c.line(a.run_id, b.run_id)), highlight=False, soft_wrap=True)
            return
        table = Table("field", "metric", "A", "B", "B - A", "95% CI", "McNemar p", "verdict")
        for c in comps:
            table.add_row(c.field, c.metric, f"{c.a:.3f}", f"{c.b:.3f}", f"{c.diff:+.3f}",
                          f"[{c.low:+.3f}, {c.high:+.3f}]", f"{c.p_value:.3g}", c.verdict)  # fmt: skip
        out.print(table)

    @ev.command("gate")
    def gate(
        use_case: Annotated[str, typer.Option(help="The use case whose production is guarded.")],
        candidate: Annotated[
            str | None, typer.Option(help="The candidate: another use case entry (a new model, engine, cascade or "
                                     "adapter for the same task); default: the use case as configured now.")
        ] = None,
        baseline_run: Annotated[
            str | None, typer.Option("--baseline", help="Production's run (default: the latest kept run of the "
                                     "use case on the gate dataset).")
        ] = None,
    ) -> None:  # fmt: skip
        """Exit 0 when the candidate passes the use case's gate, 1 (with the reason) when it does not."""
        from ladle.eval import gate as g
        from ladle.eval import store
        from ladle.eval.run import UseCasePath
        from shared.settings import ladle_settings

        ladle = ladle_settings()
        prod = UseCasePath(use_case, ladle)
        spec = g.gate_of(prod.use_case)
        cand = UseCasePath(candidate, ladle) if candidate else prod
        if cand.use_case.task != prod.use_case.task:
            raise UserError(f"{candidate} does task {cand.use_case.task!r}, {use_case} does {prod.use_case.task!r}")
        try:
            baseline = store.load(ladle, baseline_run) if baseline_run else g.run_or_reuse(ladle, prod, spec)
            if cand is prod:
                result = baseline
            else:
                with progress_bar(f"{candidate} on {spec.dataset}") as bar:
                    t = bar.add_task("", total=None)
                    result = g.run_or_reuse(
                        ladle, cand, spec, progress=lambda d, n: bar.update(t, completed=d, total=n)
                    )
        finally:
            prod.close()
            if cand is not prod:
                cand.close()
        decision = g.decide(spec, cand, result, baseline)
        out.print(decision.reason, highlight=False)
        raise typer.Exit(0 if decision.passed else 1)


def bench_eval(
    dataset: Annotated[str, typer.Option(help="A golden dataset; its use case is evaluated.")] = "tag",
    rows: Annotated[int, typer.Option(min=1, help="Rows per round.")] = 24,
    rounds: Annotated[int, typer.Option(min=1, help="Rounds of each side; the best counts.")] = 2,
) -> None:
    """The eval path's items/s vs direct engine calls on the same rows; scoring 100k items vs scikit-learn."""
    from benchmarks import eval as bench
    from shared.settings import ladle_settings

    for line in bench.run(ladle_settings(), dataset, rows, rounds, console=err):
        out.print(json.dumps(line), highlight=False, soft_wrap=True)


def _print_run(run) -> None:
    table = Table("field", "metric", "value")
    for x in run.metrics:
        table.add_row(x.field, x.metric, f"{x.value:.4g}")
    out.print(table)
