"""`ladle gateway serve|hash-key`, `ladle bench gateway|semantic-cache`."""

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

    @bench_app.command("semantic-cache")
    def bench_semantic_cache(
        entries: Annotated[int, typer.Option(help="Cache entries for the lookup latency.")] = 100_000,
        hnsw: Annotated[
            bool,
            typer.Option(help="Also optimize the shard (HNSW: minutes per 100k entries on 2 cores) and measure it."),
        ] = False,
    ) -> None:
        """Semantic-cache lookup latency vs numpy brute force, and precision/hit rate per threshold."""
        import json

        from rich.console import Console

        from benchmarks import semantic_cache as bench

        err = Console(stderr=True)
        n = 0
        for line in bench.run(entries=entries, hnsw=hnsw, console=err):
            print(json.dumps(line), flush=True)
            n += 1
        err.print(f"semantic-cache: {n} figures")
