"""`ladle up | down | status | logs`: the whole platform on one machine under a supervisor."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

out = Console(width=None if sys.stdout.isatty() else 160)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("up")
    def up(
        services: Annotated[
            str | None, typer.Option(help="Comma-separated subset (sink,embedder,guardrails,enricher,llm,gateway).")
        ] = None,
        wait: Annotated[float, typer.Option(help="Seconds to wait for every service to be healthy.")] = 600.0,
    ) -> None:
        """Start the broker, apply topics and migrations, then run every service under a supervisor."""
        from ladle.stack import control
        from shared.settings import ladle_settings

        ok = control.up(ladle_settings(), out, services, wait)
        control.print_status(ladle_settings(), out)
        raise typer.Exit(0 if ok else 1)

    @app.command("down")
    def down(
        keep_broker: Annotated[
            bool, typer.Option("--keep-broker", help="Leave the local Kafka broker running.")
        ] = False,
    ) -> None:
        """Drain and stop the services in order (gateway first, sink last), then the local broker."""
        from ladle.stack import control
        from shared.settings import ladle_settings

        control.down(ladle_settings(), out, keep_broker)

    @app.command("status")
    def status() -> None:
        """Each service's health, restarts, consumer lag and throughput; exit 1 unless all are healthy."""
        from ladle.stack import control
        from shared.settings import ladle_settings

        raise typer.Exit(0 if control.print_status(ladle_settings(), out) else 1)

    @app.command("logs")
    def logs(
        service: Annotated[
            str | None, typer.Argument(help="A service, `kafka`, or nothing for the supervisor.")
        ] = None,
        lines: Annotated[int, typer.Option("-n", help="Lines from the end.")] = 50,
        follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False,
    ) -> None:
        """Print a service's log (JSON lines from structlog)."""
        from ladle.stack import control
        from shared.settings import ladle_settings

        control.logs(ladle_settings(), service, lines, follow)
