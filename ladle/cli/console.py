"""`ladle console serve`: the web console (playground, review queue, evaluations, costs)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    console = typer.Typer(help="The web console: playground, review queue, evaluations, costs.", no_args_is_help=True)
    app.add_typer(console, name="console")

    @console.command("serve")
    def serve() -> None:
        """Serve the console (LADLE_CONSOLE_HOST/PORT, default 127.0.0.1:8085; sign in with an analyst account)."""
        from services.console.server import serve as run

        run()
