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

    @bench_app.command("gateway")
    def bench_gateway(
        rates: Annotated[str, typer.Option(help="Comma-separated request rates.")] = "100,500",
        seconds: Annotated[float, typer.Option(help="Seconds of load per rate and target.")] = 10.0,
    ) -> None:
        """Added latency of the gateway vs LiteLLM's proxy over the same fast local upstream."""
        import json

        from rich.console import Console

        from benchmarks import gateway as bench

        err = Console(stderr=True)
        for line in bench.run(rates=[int(r) for r in rates.split(",")], seconds=seconds, console=err):
            print(json.dumps(line), flush=True)
