"""`ladle gateway serve|hash-key|train-verifier`, `ladle bench gateway|semantic-cache`."""

from __future__ import annotations

from pathlib import Path
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

    @gw.command("train-verifier")
    def train_verifier(
        cv: Annotated[
            bool, typer.Option("--cv", help="Cross-validate the recipe on the dev pairs instead of writing.")
        ] = False,
        repeats: Annotated[int, typer.Option(min=1, help="CV repeats (5 grouped folds each).")] = 10,
        out: Annotated[Path | None, typer.Option(help="Where to write the artifact.")] = None,
    ) -> None:
        """Train the semantic cache's verifier on the dev and project pairs (deploy/gateway/verifier/verifier.json),
        or with --cv print its held-out figures as JSON lines."""
        import json

        from rich.console import Console
        from rich.progress import Progress

        from services.gateway.encoder import shared_encoder
        from services.gateway.verifier import train

        err = Console(stderr=True)
        with err.status("embedding the pairs (MiniLM)"):
            data = train.load(shared_encoder("all-minilm-l6-v2"))
        if not cv:
            path = out or train.ARTIFACT
            art = train.write(data, path)
            agree = train.check_consistency(data, path)
            print(json.dumps({"artifact": str(path), "threshold": round(art["threshold"], 4),
                              "min_cosine": art["min_cosine"], "min_cosine_same": art["min_cosine_same"],
                              "pairs": len(data.y), "decision_matches_verifier": agree}))  # fmt: skip
            return
        with Progress(console=err, transient=True) as bar:
            task = bar.add_task("cross-validating", total=repeats * 5)
            for line in train.report(data, repeats, progress=lambda: bar.advance(task)):
                print(json.dumps(line), flush=True)
        err.print(f"cross-validated: {int(data.dev.sum())} dev pairs, {repeats} x 5 folds")

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
        pairs: Annotated[
            Path | None,
            typer.Option(
                help="Score this labelled pair file (JSON lines: a, b, label 1/0, optional category; ambiguous rows "
                "are negatives) through the gateway's own lookup and verifier with its config, instead of latency.",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="With --pairs: JSON lines (pairs_precision, then per category).")
        ] = False,
    ) -> None:
        """Semantic-cache lookup latency vs numpy brute force (and with the verifier vs without), precision/hit rate
        per threshold; with --pairs, the gateway's decision scored on a labelled pair file."""
        import json

        from rich.console import Console

        from benchmarks import semantic_cache as bench

        err = Console(stderr=True)
        if pairs is not None:
            lines = list(bench.pair_figures(pairs, err))
            if as_json:
                for line in lines:
                    print(json.dumps(line), flush=True)
            else:
                _print_pairs(lines)
            return
        n = 0
        for line in bench.run(entries=entries, hnsw=hnsw, console=err):
            print(json.dumps(line), flush=True)
            n += 1
        err.print(f"semantic-cache: {n} figures")


def _print_pairs(lines: list[dict]) -> None:
    """The pair figures as a table: the file, then a row per category."""
    import sys

    from rich.console import Console
    from rich.table import Table

    head, cats = lines[0], lines[1:]
    out = Console(width=None if sys.stdout.isatty() else 140)
    out.print(f"{head['data']} ({head['pairs']} pairs) through {head['config']}: threshold {head['threshold']}, "
              f"verifier {head['verifier']}")  # fmt: skip

    def rate(x) -> str:
        return "-" if x is None else f"{x:.3f}"

    table = Table("pairs", "n", "precision", "hit rate", "hits", "wrong hits", "before: hits", "before: wrong hits")
    table.add_row("all", str(head["pairs"]), rate(head["value"]), rate(head["hit_rate"]), str(head["hits"]),
                  str(head["wrong_hits"]), str(head["baseline_hits"]), str(head["baseline_wrong_hits"]))  # fmt: skip
    for c in cats:
        table.add_row(c["category"], str(c["pairs"]), rate(c["value"]), rate(c["hit_rate"]), str(c["hits"]),
                      str(c["wrong_hits"]), str(c["baseline_hits"]), str(c["baseline_wrong_hits"]))  # fmt: skip
    out.print(table)
    out.print(f"before the verifier (cosine >= 0.95 alone): precision {rate(head['baseline'])}, hit rate "
              f"{rate(head['baseline_hit_rate'])}, {head['baseline_wrong_hits']} wrong hits")  # fmt: skip
