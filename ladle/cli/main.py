"""The `ladle` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from confluent_kafka import KafkaException
from rich.console import Console
from rich.table import Table

from shared.logging import configure
from shared.runtime.errors import FatalError, UserError
from shared.settings import broker_settings, ladle_settings

app = typer.Typer(help="Ladle: streaming LLMOps for catalogs.", no_args_is_help=True, pretty_exceptions_enable=False)
kafka_app = typer.Typer(help="The local Kafka broker (KRaft, single node).", no_args_is_help=True)
topics_app = typer.Typer(help="The topic registry and the broker.", no_args_is_help=True)
schemas_app = typer.Typer(help="Event schemas.", no_args_is_help=True)
produce_app = typer.Typer(help="Produce events into Kafka.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks; each prints JSON lines with its baseline.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(produce_app, name="produce")
app.add_typer(bench_app, name="bench")

# Wide tables when piped (CI logs, files); the terminal's width otherwise.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


def _broker():
    from shared.kafka.broker import LocalBroker

    return LocalBroker(ladle_settings().data_dir, broker_settings())


@kafka_app.command("start")
def kafka_start() -> None:
    """Start the broker (formats storage the first time); waits until it answers."""
    broker = _broker()
    state = broker.start()
    out.print(f"kafka {state} on {broker.bootstrap} (data in {broker.home})")


@kafka_app.command("stop")
def kafka_stop() -> None:
    """Stop the broker cleanly (SIGTERM, then SIGKILL after 30 s)."""
    out.print(f"kafka {_broker().stop()}")


@kafka_app.command("status")
def kafka_status() -> None:
    """Whether the broker runs and answers; exit 1 when it does not."""
    s = _broker().status()
    state = "running" if s["answers"] else ("starting or stuck" if s["running"] else "stopped")
    out.print(f"kafka {state} on {s['bootstrap']} (pid {s['pid'] or '-'}, data in {s['home']})")
    raise typer.Exit(0 if s["answers"] else 1)


def _admin():
    from shared.kafka import clients

    settings = ladle_settings()
    clients.require_broker(settings)
    return clients.admin(settings)


@topics_app.command("apply")
def topics_apply(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff, change nothing.")] = False,
) -> None:
    """Create missing topics and alter configs that differ. Never deletes."""
    from topics import apply as topic_apply
    from topics.registry import Namespace

    admin = _admin()
    changes = topic_apply.plan(admin, Namespace(ladle_settings().topic_prefix))
    colors = {"create": "green", "alter": "yellow", "partitions": "yellow", "warn": "red", "ok": "dim"}
    for c in changes:
        out.print(f"[{colors[c.kind]}]{c.kind:>10}[/] {c.topic} {c.detail}", highlight=False)
    todo = [c for c in changes if c.kind in ("create", "alter", "partitions")]
    if not dry_run:
        topic_apply.apply(admin, todo)
    verb = "would change" if dry_run else "changed"
    out.print(f"{len(changes)} checks, {verb} {len(todo)}, {sum(c.kind == 'warn' for c in changes)} warnings")


@topics_app.command("list")
def topics_list() -> None:
    """The registry side by side with the broker."""
    from topics import apply as topic_apply
    from topics.registry import TOPICS, Namespace

    ns = Namespace(ladle_settings().topic_prefix)
    have = topic_apply.describe(_admin(), [ns.physical(n) for n in TOPICS])
    table = Table("topic", "value model", "key", "partitions (registry/broker)", "retention", "cleanup", "state")
    for name, s in sorted(TOPICS.items()):
        b = have.get(ns.physical(name))
        ret = "forever" if s.retention_ms < 0 else f"{s.retention_ms / 86_400_000:g} d"
        if b is None:
            state = "[red]missing[/]"
        else:
            differs = b.partitions != s.partitions or any(b.configs.get(k) != v for k, v in s.configs().items())
            state = "[yellow]differs[/]" if differs else "[green]ok[/]"
        table.add_row(
            ns.physical(name),
            s.value_model.__name__,
            s.key_field,
            f"{s.partitions}/{b.partitions if b else '-'}",
            ret,
            s.cleanup_policy,
            state,
        )
    out.print(table)


@schemas_app.command("export")
def schemas_export(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the files are stale; write nothing.")] = False,
) -> None:
    """Write JSON Schema files for every event model to schemas/json/."""
    from schemas import export

    if check:
        stale = export.stale_files()
        if stale:
            err.print(f"stale JSON Schema files: {', '.join(stale)}; run `ladle schemas export`")
            raise typer.Exit(1)
        out.print("JSON Schema files are up to date")
        return
    written = export.export()
    out.print(f"wrote {len(written)} file(s) to {export.JSON_DIR}" + (f": {', '.join(written)}" if written else ""))


@produce_app.command("catalog")
def produce_catalog(
    file: Annotated[Path, typer.Argument(help="JSONL or CSV; one item per row.")],
    delete: Annotated[bool, typer.Option("--delete", help="Produce deletes for the rows' item_ids.")] = False,
    version: Annotated[int | None, typer.Option(help="Version for rows without one (default: now, in ms).")] = None,
    dlq: Annotated[bool, typer.Option(help="Also send rejected rows to catalog.changes.dlq.")] = True,
) -> None:
    """Send a catalog file to catalog.changes, keyed by item_id."""
    from ladle.cli.produce import produce_catalog as produce

    s = produce(file, ladle_settings(), delete=delete, version=version, dlq=dlq, console=err)
    for e in s.errors[:10]:
        err.print(e)
    rate = (s.sent / s.seconds) if s.seconds else 0
    out.print(f"sent {s.sent}, rejected {s.rejected}, failed {s.failed} in {s.seconds:.2f}s ({rate:,.0f} rows/s)")
    raise typer.Exit(0 if s.ok else 1)


WORKERS = ("echo", "sink", "embedder", "enricher")


def load_worker(name: str):
    """The (worker, settings) pair of a stage by name, for `ladle worker NAME`."""
    import importlib

    if name not in WORKERS:
        raise UserError(f"unknown worker {name!r}; known workers: {', '.join(WORKERS)}")
    return importlib.import_module(f"workers.{name}").build()


@app.command("worker")
def worker(name: Annotated[str, typer.Argument(help="Which worker, e.g. echo.")]) -> None:
    """Run a Kafka worker until SIGTERM (drains the batch in flight and commits)."""
    from shared import metrics
    from shared.runtime.loop import Runtime

    w, ws = load_worker(name)
    metrics.serve(ws.metrics_port, ws.metrics_addr)
    Runtime(w, ladle_settings(), ws).run()


@bench_app.command("runtime")
def bench_runtime(
    events: Annotated[int, typer.Option(help="Events per run.")] = 200_000,
    size: Annotated[int, typer.Option(help="Approximate bytes per event.")] = 1024,
    rounds: Annotated[int, typer.Option(help="Runs of each side; the best counts.")] = 2,
) -> None:
    """Events/s through the runtime vs a bare confluent-kafka loop, same data, same run."""
    from benchmarks import runtime as bench

    for line in bench.run(ladle_settings(), events=events, size=size, rounds=rounds, console=err):
        out.print(json.dumps(line), highlight=False, soft_wrap=True)


@app.command("demo")
def demo(
    items: Annotated[
        int, typer.Option(help="Sample items to produce, spread over every store; 0 = all 520 (about 15 min here).")
    ] = 120,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every item to go through.")] = 900.0,
    eval_items: Annotated[
        int, typer.Option(help="Golden items the tag use case is scored on (`ladle eval run tag`); 0 skips it.")
    ] = 40,
) -> None:
    """`ladle up`, the sample catalog through every stage, a summary, its quality, a search, a query and the
    HTML report."""
    from ladle.demo import run_demo

    run_demo(out, items or None, timeout, eval_items)


# Each stage adds its commands from its own module: `register(app, bench_app)`.
COMMAND_MODULES: tuple[str, ...] = (
    "ladle.cli.embedder",
    "ladle.cli.sink",
    "ladle.cli.enricher",
    "ladle.cli.gateway",
    "ladle.cli.guardrails",
    "ladle.cli.prompts",
    "ladle.cli.stack",
    "ladle.cli.check",
    "ladle.cli.eval",
    "ladle.cli.cascade",
    "ladle.cli.console",
    "ladle.cli.finetune",
)


def _register_stage_commands() -> None:
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app, bench_app)


_register_stage_commands()


def main() -> None:
    s = ladle_settings()
    configure(s.log_level, s.log_format if not sys.stderr.isatty() else "console")
    try:
        app()
    except UserError as exc:
        err.print(f"error: {exc}", highlight=False)
        sys.exit(2)
    except FatalError as exc:
        err.print(f"fatal: {exc}", highlight=False)
        sys.exit(1)
    except KafkaException as exc:
        err.print(f"kafka error: {exc.args[0].str() if exc.args else exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
