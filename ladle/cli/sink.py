"""`ladle query`, `ladle report`, `ladle db migrate`, `ladle bench sink`.

Queries go to the sink's API when it runs (it owns the embedded store) and
open the store directly when the stack is down.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.runtime.errors import UserError
from workers.sink.client import query_api

out = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)


def _locally(fn, *args, migrate_first: bool = True):
    from workers.sink.migrations import migrate
    from workers.sink.settings import sink_settings
    from workers.sink.store import ClickHouseStore

    settings = sink_settings()
    store = ClickHouseStore.open(settings)
    try:
        if migrate_first:
            migrate(store, body_ttl_days=settings.clickhouse_body_ttl_days)
        return fn(store, *args)
    finally:
        store.close()


def print_rows(rows, fmt: str) -> None:
    if fmt == "json":
        from fastapi.encoders import jsonable_encoder

        out.print_json(json.dumps(jsonable_encoder([dict(zip(rows.columns, r, strict=True)) for r in rows.rows])))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(rows.columns)
        w.writerows(rows.rows)
        sys.stdout.write(buf.getvalue())
    else:
        table = Table(*rows.columns)
        for r in rows.rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        out.print(table)
        out.print(f"{len(rows.rows)} row(s)")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    db_app = typer.Typer(help="The ClickHouse store (embedded chDB or a server).", no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command("migrate")
    def db_migrate() -> None:
        """Apply the migrations in deploy/clickhouse/ (idempotent)."""
        from workers.sink.migrations import migrate
        from workers.sink.settings import sink_settings

        days = sink_settings().clickhouse_body_ttl_days
        applied = _locally(lambda store: migrate(store, body_ttl_days=days), migrate_first=False)
        out.print(f"migrations applied: {applied if applied else 'none new'}")

    users_app = typer.Typer(help="Analyst accounts of the sink's SQL interfaces (deploy/sink/users.yaml).")
    db_app.add_typer(users_app, name="users")

    @users_app.command("add")
    def users_add(
        name: Annotated[str, typer.Argument(help="The account's user name.")],
        password: Annotated[
            str | None, typer.Option(help="Its password; prompted for (hidden) when left out, or --generate.")
        ] = None,
        generate: Annotated[bool, typer.Option(help="Make a random password and print it (stderr).")] = False,
    ) -> None:
        """Print the users-file line for an account (read-only, like every account): paste it under `users:`."""
        import secrets

        from workers.sink.accounts import account_line

        if generate:
            password = secrets.token_urlsafe(18)
            err.print(f"password for {name}: {password}", highlight=False)
        elif password is None:
            password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
        if not password:
            raise UserError("an empty password is not a password")
        typer.echo(account_line(name, password))

    @app.command("query")
    def query(
        sql: Annotated[str, typer.Argument(help="One read-only statement.")],
        fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    ) -> None:
        """Run read-only SQL on the analytics store (writes are refused by ClickHouse itself)."""
        from workers.sink.readonly import run_readonly

        if fmt not in ("table", "csv", "json"):
            raise UserError(f"unknown --format {fmt!r}; use table, csv or json")
        rows = query_api("/query", json={"sql": sql})
        if rows is None:
            rows = _locally(run_readonly, sql)
        print_rows(rows, fmt)

    @app.command("report")
    def report(
        name: Annotated[
            str, typer.Argument(help="cost, latency, cache, guardrails, freshness, dead_letters or quality.")
        ],
        since: Annotated[str, typer.Option(help="Window, e.g. 24h, 7d, 2w.")] = "7d",
        by: Annotated[str | None, typer.Option(help="Group by, e.g. model,team.")] = None,
        html_path: Annotated[Path | None, typer.Option("--html", help="Where to write the HTML report.")] = None,
        fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
        use_case: Annotated[str, typer.Option(help="quality: whose evaluation runs.")] = "tag",
    ) -> None:
        """A canned report as a table, and as an HTML page with charts (`quality`: evaluation runs)."""
        from workers.sink import html
        from workers.sink.reports import REPORTS, run_report

        if name == "quality":
            _quality_report(use_case, html_path or Path("reports") / "quality.html", since)
            return

        group_by = [b.strip() for b in by.split(",") if b.strip()] if by else None
        params = {"since": since} | ({"by": ",".join(group_by)} if group_by else {})
        rows = query_api(f"/reports/{name}", params=params)
        if rows is None:
            rows = _locally(run_report, name, since, group_by)
        print_rows(rows, fmt)
        dims = group_by if group_by is not None else REPORTS[name].default_group_by
        path = html_path or Path("reports") / f"{name}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html.render(name, rows, dims, since))
        err.print(f"wrote {path}")

    @bench_app.command("sink")
    def bench_sink(
        events: Annotated[int, typer.Option(help="llm.calls events to land.")] = 200_000,
        report_rows: Annotated[int, typer.Option(help="Rows for the report-latency figure.")] = 10_000_000,
    ) -> None:
        """Events/s Kafka -> ClickHouse vs a raw chDB Arrow insert; canned report latency."""
        from benchmarks import sink as bench
        from shared.settings import ladle_settings

        for line in bench.run(ladle_settings(), events=events, report_rows=report_rows, console=err):
            out.print(json.dumps(line), highlight=False, soft_wrap=True)


def _quality_report(use_case: str, path: Path, since: str) -> None:
    from ladle.eval.quality import render
    from shared.taxonomy import Taxonomy
    from workers.enricher.settings import EnricherSettings
    from workers.sink.readonly import run_readonly
    from workers.sink.reports import parse_since

    days = max(1, round(parse_since(since) / 86_400))
    taxonomy = Taxonomy.load(EnricherSettings().load_use_case(use_case).taxonomy)
    one = [n for n, f in taxonomy.fields.items() if f.kind == "one"]

    def query(sql: str, params: dict):
        rows = query_api("/query", json={"sql": sql, "parameters": params})
        return rows if rows is not None else _locally(run_readonly, sql, params)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(query, use_case, days, one_fields=one))
    err.print(f"wrote {path}")
