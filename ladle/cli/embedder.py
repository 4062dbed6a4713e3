"""`ladle search`, `ladle reindex` and `ladle bench embedder`: the embedder's commands."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shared.runtime.errors import FatalError, UserError
from workers.embedder.client import running

out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)


def search_local(q: str, flt, limit: int) -> dict:
    """Open the index in this process (no service running) and search it."""
    from shared.settings import ladle_settings
    from workers.embedder.api import run_search
    from workers.embedder.apply import Index
    from workers.embedder.collections import collections_for
    from workers.embedder.settings import EmbedderSettings
    from workers.embedder.text import TextTemplate

    settings = EmbedderSettings()
    cols = collections_for(settings, ladle_settings().data_dir)
    info = cols.current()
    if info is None:
        raise UserError("there is no index yet; run `ladle worker embedder` over catalog.changes first")
    store = cols.open_reader(info)
    try:
        encoder = settings.load_encoder(info.model)
        return run_search(Index(info, store, encoder, TextTemplate(settings.text_template)), q, flt, limit)
    finally:
        store.close()


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("search")
    def search(
        query: Annotated[str, typer.Argument(help="What to look for, e.g. 'creamy pasta'.")],
        store: Annotated[str | None, typer.Option("--store", help="Only this store_id.")] = None,
        category: Annotated[str | None, typer.Option("--category", help="Only this category.")] = None,
        max_price: Annotated[float | None, typer.Option("--max-price", min=0, help="Price at most this.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 10,
        as_json: Annotated[bool, typer.Option("--json", help="Print the raw result as JSON.")] = False,
    ) -> None:
        """Search the catalog index: through the embedder service, or by opening the index when none runs."""
        from workers.embedder.settings import EmbedderSettings
        from workers.embedder.store import SearchFilter

        settings = EmbedderSettings()
        client = running(settings)
        if client is not None:
            params = {"q": query, "limit": limit}
            params.update(
                {k: v for k, v in (("store", store), ("category", category), ("max_price", max_price)) if v is not None}
            )
            resp = client.get("/search", params=params)
            if resp.status_code != 200:
                raise UserError(f"the embedder service answered {resp.status_code}: {resp.text[:300]}")
            result, via = resp.json(), str(client.base_url)
        else:
            result, via = search_local(query, SearchFilter(store, category, max_price), limit), "index opened locally"
        if as_json:
            out.print(json.dumps(result), highlight=False, soft_wrap=True)
            return
        table = Table("#", "score", "item", "name", "store", "category", "price", title=f"“{query}”")
        for i, r in enumerate(result["results"], 1):
            price = "" if r.get("price") is None else f"{r['price']:.2f} {r.get('currency') or ''}".strip()
            table.add_row(
                str(i),
                f"{r['score']:.3f}",
                r["item_id"],
                r.get("name") or "",
                r.get("store_id") or "",
                r.get("category") or "",
                price,
            )
        out.print(table)
        out.print(
            f"{len(result['results'])} results in {result['took_ms']:.1f} ms from {result['collection']} "
            f"({result['model']}, {via})",
            highlight=False,
        )

    @app.command("reindex")
    def reindex(
        model: Annotated[str, typer.Option("--model", help="sentence-transformers model path or name.")],
    ) -> None:
        """Re-embed the catalog with another model into a new collection, then switch readers to it atomically."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from shared.settings import ladle_settings
        from workers.embedder.collections import collections_for
        from workers.embedder.reindex import DONE, Reindexer, run_standalone
        from workers.embedder.settings import EmbedderSettings

        settings = EmbedderSettings()
        ladle = ladle_settings()
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
        )
        client = running(settings)
        with progress:
            task = progress.add_task("starting", total=None)

            def show(s) -> None:
                s = s if isinstance(s, dict) else s.public()
                progress.update(
                    task,
                    description=f"{s['phase']} {s['collection']}",
                    completed=s["processed"],
                    total=s["total"] or None,
                )

            if client is not None:
                resp = client.post("/reindex", json={"model": model})
                if resp.status_code != 202:
                    raise UserError(f"the embedder service refused: {resp.json().get('detail', resp.text)}")
                while True:
                    state = client.get("/reindex").json()
                    show(state)
                    if state["phase"] in DONE:
                        break
                    time.sleep(0.5)
                where = f"in the service at {client.base_url}"
            else:
                cols = collections_for(settings, ladle.data_dir)
                state = run_standalone(Reindexer(ladle, settings, cols, model, on_progress=show)).public()
                where = "in this process (no service running)"
        if state["phase"] != "done":
            raise FatalError(f"reindex {state['phase']}: {state['error']}")
        out.print(
            f"reindexed {state['processed']:,} changes ({state['embedded']:,} embedded, {state['invalid']} invalid) "
            f"into {state['collection']} in {state['seconds']:.1f}s {where}; readers switched, "
            f"{state['previous'] or 'no previous collection'} removed",
            highlight=False,
        )

    @bench_app.command("embedder")
    def bench_embedder(
        items: Annotated[int, typer.Option(help="Distinct items for the throughput run.")] = 2000,
        unchanged: Annotated[int, typer.Option(help="Unchanged-item events for the skip-path run.")] = 40_000,
        freshness_s: Annotated[float, typer.Option(help="Seconds of paced load for the freshness run.")] = 20.0,
        batch_size: Annotated[int, typer.Option(help="Texts per model call, on both sides.")] = 64,
    ) -> None:
        """Kafka -> embed -> Qdrant Edge -> commit vs raw model.encode; freshness at half capacity; skip path."""
        from benchmarks import embedder as bench
        from shared.settings import ladle_settings

        for line in bench.run(
            ladle_settings(),
            items=items,
            unchanged=unchanged,
            freshness_s=freshness_s,
            batch_size=batch_size,
            console=err,
        ):
            out.print(json.dumps(line), highlight=False, soft_wrap=True)
