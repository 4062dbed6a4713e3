"""`ladle finetune create|list|show`: LoRA adapters on the use case's own open model."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from ladle.cli.cascade import ForceOption, LabelOption, ReasonOption, promote_label

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)


def _clock(s: float) -> str:
    s = int(s)
    return f"{s // 60}m{s % 60:02d}s"


def print_progress(p) -> None:
    err.print(f"step {p.step}/{p.steps} loss {p.loss:.4f} {p.tokens_per_s:.0f} tokens/s elapsed "
              f"{_clock(p.elapsed_s)} left {_clock(p.eta_s)}", highlight=False)  # fmt: skip


def bench_finetune(
    examples: Annotated[int, typer.Option(min=1, help="Training examples (food-group-train repeated).")] = 200,
    items: Annotated[int, typer.Option(min=1, help="Golden rows each serving side answers.")] = 20,
) -> None:
    """Training tokens/s and wall time for N examples; serving tokens/s adapter and merged vs the base model."""
    from benchmarks import finetune as bench
    from shared.settings import ladle_settings

    for line in bench.run(ladle_settings(), examples, items, console=err):
        out.print(json.dumps(line), highlight=False, soft_wrap=True)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    ft = typer.Typer(help="Fine-tuning: a LoRA adapter on the use case's own open model learns its labels.",
                     no_args_is_help=True)  # fmt: skip
    app.add_typer(ft, name="finetune")
    register_jobs(ft)
    bench_app.command("finetune")(bench_finetune)

    @ft.command("create")
    def create_(
        use_case: Annotated[str, typer.Option(help="The use case whose prompt and answers the model learns.")],
        labels: Annotated[list[str] | None, typer.Option("--labels", help="A label source (repeat, or "
                          "comma-separated): a train dataset (food-group-train) or golden-format file, `accepted`, "
                          "`review`.")] = None,
        training_file: Annotated[str | None, typer.Option(help="Chat-format JSONL (OpenAI's fine-tuning format) "
                                 "instead of --labels.")] = None,
        job_id: Annotated[str | None, typer.Option(help="Run as this job (the gateway made its record).")] = None,
        team: Annotated[str, typer.Option(help="The team the job is for (the gateway's).")] = "",
        base: Annotated[str | None, typer.Option(help="Base GGUF (path or package:NAME); default: the use "
                        "case's model_path.")] = None,
        epochs: Annotated[int, typer.Option(min=1)] = 3,
        learning_rate: Annotated[float, typer.Option(min=0.0)] = 2e-4,
        rank: Annotated[int, typer.Option(min=1, help="LoRA rank.")] = 16,
        max_steps: Annotated[int | None, typer.Option(min=1, help="Stop after N optimizer steps "
                             "(overrides --epochs).")] = None,
        batch_size: Annotated[int, typer.Option(min=1)] = 8,
        layers: Annotated[int | None, typer.Option(min=1, help="LoRA on the top N layers only: the backward pass "
                          "stops below them (about 2x faster on CPU with 10 of 30); default: every layer.")] = None,
        name: Annotated[str | None, typer.Option(help="Adapter name; default: the use case's.")] = None,
        merge: Annotated[bool, typer.Option(help="Also write the merged model (q8_0 GGUF): llama.cpp's fast "
                         "path.")] = True,
        gate: Annotated[bool, typer.Option(help="Score the use case with the adapter (alone) on its gate "
                        "dataset.")] = True,
        into: Annotated[str | None, typer.Option(help="Write the version here (deploy/finetune ships it); "
                        "default: <LADLE_DATA_DIR>/finetune.")] = None,
        threads: Annotated[int, typer.Option(min=1, help="torch threads. One by default: on a shared CPU, "
                           "torch's threads wait on each other (2 were 4x slower than 1 here).")] = 1,
    ) -> None:  # fmt: skip
        """Train a LoRA adapter on the labels in the use case's own prompt, convert it to GGUF, register it."""
        from pathlib import Path

        from ladle.cli.eval import progress_bar
        from ladle.finetune.create import Options, create
        from ladle.finetune.train import Hyper
        from shared.finetune.files import parse_jsonl
        from shared.runtime.errors import UserError
        from shared.settings import ladle_settings

        specs = [s.strip() for spec in labels or [] for s in spec.split(",") if s.strip()]
        if bool(specs) == bool(training_file):
            raise UserError("give --labels SOURCE or --training-file FILE.jsonl (one of them)")
        rows = None
        if training_file:
            rows, bad = parse_jsonl(Path(training_file).read_bytes())
            if bad:
                raise UserError(f"{training_file} {bad[0]}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
        opts = Options(use_case, specs, base=base, name=name, merge=merge, gate=gate, threads=threads,
                       into=Path(into) if into else None,
                       hyper=Hyper(epochs=epochs, learning_rate=learning_rate, rank=rank, max_steps=max_steps,
                                   batch_size=batch_size, layers=layers))  # fmt: skip
        from schemas import FineTuneJob
        from shared.finetune import jobs

        ladle = ladle_settings()
        job = FineTuneJob(job_id=job_id or jobs.new_job_id(), status="validating_files", use_case=use_case,
                          training_files=specs or [training_file], hyperparameters=opts.hyper.as_dict(),
                          base_model=base or "", team=team)  # fmt: skip
        err.print(f"job {job.job_id}", highlight=False)
        with progress_bar("gate") as bar:
            task = bar.add_task("", total=None, visible=False)

            def on_gate(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, visible=True)

            def work(started, progress, cancelled):
                def both(p) -> None:
                    print_progress(p)
                    progress(p)

                made = create(opts, ladle, say=lambda s: err.print(s, highlight=False), progress=both, rows=rows,
                              gate_progress=on_gate, started=started, cancelled=cancelled)  # fmt: skip
                folders.append(made[1])
                return made[0]

            folders: list = []
            card = jobs.run(ladle, job, work)
            folder = folders[0]
        out.print(json.dumps(summary(card)), highlight=False, soft_wrap=True)
        out.print(f"{card.ref} written to {folder}; serve it with `lora: {card.ref}` in a use case", highlight=False)

    @ft.command("promote")
    def promote_(name: str, version: int, label: LabelOption = "production", force: ForceOption = False,
                 reason: ReasonOption = None) -> None:  # fmt: skip
        """Point a label at an adapter version through the gate of every use case whose `lora:` is NAME@label
        (scored with the candidate, against the version the label points at now), as cascades are promoted."""
        from shared.finetune import AdapterRegistry
        from shared.settings import ladle_settings

        promote_label(AdapterRegistry(ladle_settings().data_dir), "lora", name, version, label, force, reason)

    @ft.command("merge")
    def merge_(ref: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME@LABEL).")]) -> None:
        """Merge a version's adapter into its base (q8_0 GGUF in the data dir): llama.cpp's fast path for a
        version that ships with its adapter only."""
        from ladle.finetune.create import merge_version
        from shared.settings import ladle_settings

        path = merge_version(ref, ladle_settings(), say=lambda s: err.print(s, highlight=False))
        out.print(f"{ref}: {path} ({path.stat().st_size / 1e6:.0f} MB); the llama.cpp engine serves it now",
                  highlight=False)  # fmt: skip

    @ft.command("adapters")
    def adapters(name: Annotated[str | None, typer.Argument(help="Only this adapter.")] = None) -> None:
        """Every adapter version: use case, base, examples, validation and gate scores."""
        from shared.finetune import AdapterRegistry
        from shared.settings import ladle_settings

        reg = AdapterRegistry(ladle_settings().data_dir)
        table = Table("adapter", "version", "labels", "origin", "use case", "base", "examples", "val. exact",
                      "gate", "adapter MB", "created")  # fmt: skip
        for n in [name] if name else reg.names():
            labels = reg.labels(n)
            for v, entry in reg.versions(n).items():
                card = reg.card(f"{n}@{v}")
                g = card.gate or {}
                table.add_row(n, str(v), ", ".join(k for k, x in sorted(labels.items()) if x == v), entry.origin,
                              card.use_case, card.base_model, str(card.examples),
                              str(card.validation.get("after", {}).get("exact_match", "-")),
                              f"{g.get('metric')} {g.get('value'):.3f}" if g.get("value") is not None else "-",
                              f"{card.adapter_bytes / 1e6:.1f}", f"{card.created_at:%Y-%m-%d %H:%M}")  # fmt: skip
        out.print(table)

    @ft.command("card")
    def card_(ref: Annotated[str, typer.Argument(help="NAME, NAME@VERSION or NAME@LABEL.")]) -> None:
        """A version's card (JSON): base, label sources with hashes, hyperparameters, validation, gate."""
        from shared.finetune import AdapterRegistry
        from shared.settings import ladle_settings

        out.print(AdapterRegistry(ladle_settings().data_dir).card(ref).model_dump_json(indent=1), highlight=False,
                  soft_wrap=True)  # fmt: skip


def register_jobs(ft: typer.Typer) -> None:
    @ft.command("list")
    def list_() -> None:
        """Fine-tuning jobs, oldest first (a job whose process died is marked failed first)."""
        from shared.finetune import jobs
        from shared.settings import ladle_settings

        ladle = ladle_settings()
        jobs.reap(ladle)
        table = Table("job", "status", "use case", "step", "loss", "tokens/s", "machine s", "fine_tuned_model", "at")
        for j in jobs.list_jobs(ladle):
            table.add_row(j.job_id, j.status, j.use_case, f"{j.step}/{j.steps}", "-" if j.loss is None else
                          f"{j.loss:.4f}", f"{j.tokens_per_s:.0f}", f"{j.machine_s:.0f}", j.fine_tuned_model or "-",
                          f"{j.occurred_at:%Y-%m-%d %H:%M:%S}")  # fmt: skip
        out.print(table)

    @ft.command("show")
    def show(job_id: str) -> None:
        """A job's state and its events (statuses and progress), as JSON lines."""
        from shared.finetune import jobs
        from shared.settings import ladle_settings

        ladle = ladle_settings()
        jobs.reap(ladle)
        for e in jobs.events(ladle, job_id):
            out.print(e.model_dump_json(exclude={"hyperparameters"}), highlight=False, soft_wrap=True)

    @ft.command("cancel")
    def cancel(job_id: str) -> None:
        """Stop a job at its next step (it is marked cancelled)."""
        from shared.finetune import jobs
        from shared.settings import ladle_settings

        job = jobs.cancel(ladle_settings(), job_id)
        out.print(f"{job_id}: {'cancelled' if job.status == 'cancelled' else 'cancel requested'}", highlight=False)


def summary(card) -> dict:
    return {"adapter": card.ref, "use_case": card.use_case, "examples": card.examples,
            "validation_examples": card.validation_examples, **{f"train_{k}": v for k, v in card.train.items()},
            "validation": card.validation, "gate": card.gate, "adapter_bytes": card.adapter_bytes}  # fmt: skip
