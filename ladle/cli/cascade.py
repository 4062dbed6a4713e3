"""`ladle cascade train|list|show|promote`: classifiers that answer before the LLM; `ladle bench cascade`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.runtime.errors import UserError

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)

LabelOption = Annotated[str, typer.Option(help="Label to move.")]
ForceOption = Annotated[bool, typer.Option("--force", help="Move it although the release gate refuses.")]
ReasonOption = Annotated[str | None, typer.Option(help="Why the gate is overridden (with --force).")]


def promote_label(registry, kind: str, name: str, version: int, label: str, force: bool, reason: str | None) -> None:
    """`ladle cascade|finetune promote`: move the label through the release gate, or exit 1 saying it stays."""
    from ladle.cascade.gate import promote
    from shared.settings import ladle_settings

    before = registry.labels(name).get(label)
    moved, verdicts = promote(name, version, label, ladle_settings(), force=force, reason=reason, console=err,
                              kind=kind, registry=registry)  # fmt: skip
    if not moved:
        err.print(f"{name}: {label} stays at {before if before is not None else '-'}: the gate refused version "
                  f"{version} (override with --force --reason TEXT)", highlight=False)  # fmt: skip
        raise typer.Exit(1)
    forced = any(not v.passed for v in verdicts)
    out.print(f"{name}: {label} -> {version}" + (" (forced past the gate)" if forced else "")
              + ("" if verdicts else " (no use case with a gate serves it)"), highlight=False)  # fmt: skip


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    ca = typer.Typer(help="Cascades: a classifier learnt from labels answers first, the LLM gets what it is "
                     "unsure of.", no_args_is_help=True)  # fmt: skip
    app.add_typer(ca, name="cascade")
    bench_app.command("cascade")(bench_cascade)

    @ca.command("train")
    def train_(
        use_case: Annotated[str, typer.Option(help="The use case whose taxonomy the cascade answers.")],
        labels: Annotated[list[str], typer.Option("--labels", help="A label source (repeat, or comma-separated): "
                          "a train dataset (food-group-train) or golden-format file, `accepted` "
                          "(enrichment.accepted), `review` (when the console brings it).")],
        name: Annotated[str | None, typer.Option(help="Cascade name; default: the use case's.")] = None,
        precision: Annotated[float | None, typer.Option(min=0.01, max=1.0, help="Target precision of the "
                             "thresholds on validation; default: the use case's cascade_precision.")] = None,
        into: Annotated[Path | None, typer.Option(help="Write the version here (deploy/cascades ships it); "
                        "default: <LADLE_DATA_DIR>/cascades.")] = None,
    ) -> None:  # fmt: skip
        """Fit one calibrated classifier per field on the merged labels and save it as a new version."""
        from ladle.cascade.train import train
        from shared.settings import ladle_settings
        from shared.taxonomy import Taxonomy
        from workers.enricher.settings import EnricherSettings

        uc = EnricherSettings().load_use_case(use_case)
        specs = [s.strip() for spec in labels for s in spec.split(",") if s.strip()]
        with err.status("training"):
            card, folder = train(uc, Taxonomy.load(uc.taxonomy), specs, ladle_settings(), name=name,
                                 precision=precision, into=into, say=lambda s: err.print(s, highlight=False))  # fmt: skip
        out.print(_fields_table(card))
        out.print(f"{card.ref} written to {folder}: validation covers {card.item_coverage:.0%} of items whole; it "
                  f"serves once `ladle cascade promote {card.name} {card.version}` passes the gate", highlight=False)  # fmt: skip

    @ca.command("list")
    def list_(name: Annotated[str | None, typer.Argument(help="Only this cascade.")] = None) -> None:
        """Every version with its labels, validation and latest gate score."""
        from shared.cascade import CascadeRegistry
        from shared.settings import ladle_settings

        ladle = ladle_settings()
        reg = CascadeRegistry(ladle.data_dir)
        table = Table("cascade", "version", "labels", "origin", "items", "target", "val. coverage", "val. macro-F1",
                      "gate", "created")  # fmt: skip
        for n in [name] if name else reg.names():
            labels = reg.labels(n)
            for v, entry in reg.versions(n).items():
                card = reg.card(f"{n}@{v}")
                f1 = [c.validation.macro_f1 for c in card.fields.values() if c.validation and c.values]
                table.add_row(n, str(v), ", ".join(k for k, x in sorted(labels.items()) if x == v), entry.origin,
                              str(card.items), f"{card.target_precision:g}", _pct(card.item_coverage),
                              f"{sum(f1) / len(f1):.3f}" if f1 else "-", _gate_score(ladle, card),
                              f"{card.created_at:%Y-%m-%d %H:%M}")  # fmt: skip
        out.print(table)

    @ca.command("show")
    def show(
        ref: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@LABEL.")],
        as_json: Annotated[bool, typer.Option("--json", help="The card as JSON.")] = False,
    ) -> None:
        """A version's card: fields, thresholds, label sources with hashes, validation; the label history."""
        from shared.cascade import CascadeRegistry
        from shared.settings import ladle_settings

        ladle = ladle_settings()
        reg = CascadeRegistry(ladle.data_dir)
        card = reg.card(ref)
        if as_json:
            out.print(card.model_dump_json(indent=1), highlight=False, soft_wrap=True)
            return
        entry = reg.entry(ref)
        out.print(f"[bold]{card.ref}[/] ({entry.origin}, {entry.path}) use case {card.use_case}, taxonomy "
                  f"{card.taxonomy_version}, encoder {card.encoder}, target precision {card.target_precision:g}, "
                  f"{card.items} items; validation covers {_pct(card.item_coverage)} of items whole; gate "
                  f"{_gate_score(ladle, card)}")  # fmt: skip
        out.print(_fields_table(card))
        for s in card.sources:
            out.print(f"labels: {s.kind} {s.name} sha256 {s.sha256[:16]} ({s.rows} rows, {s.items} items)",
                      highlight=False)  # fmt: skip
        for m in reg.history(card.name):
            out.print(f"{m.at:%Y-%m-%d %H:%M} {m.label} -> {m.version} (from {m.previous}) by {m.by}"
                      + (" FORCED: " + m.reason if m.forced else "") + (f"; {m.gate}" if m.gate else ""),
                      highlight=False)  # fmt: skip

    @ca.command("promote")
    def promote_(name: str, version: int, label: LabelOption = "production", force: ForceOption = False,
                 reason: ReasonOption = None) -> None:  # fmt: skip
        """Point a label at a version through the gate of every use case that serves NAME@label: the version
        is scored on the gate's dataset (earlier runs reused) and refused below the gate's minimum or when
        significantly worse than the version the label points at now."""
        from shared.cascade import CascadeRegistry
        from shared.settings import ladle_settings

        promote_label(CascadeRegistry(ladle_settings().data_dir), "cascade", name, version, label, force, reason)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _fields_table(card) -> Table:
    table = Table("field", "kind", "values", "labels", "threshold", "val. coverage", "val. precision", "val. macro-F1")
    for name, c in card.fields.items():
        v = c.validation
        if c.kind == "one":
            thr = "-" if c.threshold is None else f"{c.threshold:.3f}"
        else:
            thr = f"{sum(x is not None for x in c.yes.values())} yes / {sum(x is not None for x in c.no.values())} no"
        table.add_row(name, c.kind, str(len(c.values)) if c.values else "not learnt", str(v.labels if v else 0), thr,
                      _pct(v.coverage if v else None), _pct(v.precision if v else None),
                      f"{v.macro_f1:.3f}" if v else "-")  # fmt: skip
    return table


def _gate_score(ladle, card) -> str:
    """The latest kept evaluation of this version on its use case's gate dataset."""
    from ladle.eval import datasets, store
    from workers.enricher.settings import EnricherSettings

    try:
        gate = EnricherSettings().load_use_case(card.use_case).gate
        dataset = datasets.locate(gate.dataset)[0] if gate else None  # a file's runs carry its stem
    except UserError:
        return "-"
    if gate is None:
        return "no gate"
    for run in reversed(store.list_runs(ladle, card.use_case)):
        if run.cascade == card.ref and run.dataset == dataset and run.status == "ok":
            value = run.metric(gate.field, gate.metric)
            mark = "pass" if value is not None and value >= gate.min else "below min"
            return f"{gate.metric} {value:.3f} on {run.dataset} ({run.items}): {mark}"
    return "not run"


def bench_cascade(
    dataset: Annotated[str, typer.Option(help="A golden dataset; its use case (with its cascade) is measured.")] =
    "food-group",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N rows.")] = None,
) -> None:  # fmt: skip
    """Cascade vs LLM only on the same golden rows in one run: items/s, cost per 1k items, macro-F1, LLM call share."""
    from benchmarks import cascade as bench
    from shared.settings import ladle_settings

    for line in bench.run(ladle_settings(), dataset, limit, console=err):
        out.print(json.dumps(line), highlight=False, soft_wrap=True)
