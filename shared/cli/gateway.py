"""`ladle gateway serve|hash-key`."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    gw = typer.Typer(help="The OpenAI-compatible LLM gateway.", no_args_is_help=True)
    app.add_typer(gw, name="gateway")

    @gw.command("serve")
    def serve() -> None:
        """Serve the gateway (LADLE_GATEWAY_HOST/PORT, config in LADLE_GATEWAY_CONFIG_FILE)."""
        from services.gateway.server import serve as run

        run()

    @gw.command("hash-key")
    def hash_key(key: Annotated[str, typer.Argument(help="An API key to store in the config as sha256.")]) -> None:
        """Print the sha256 of a key, for a team's key_sha256 list (keys are never stored in clear)."""
        from services.gateway.config import hash_key as h

        typer.echo(h(key))
