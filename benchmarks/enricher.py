"""Items/s and output tokens/s of the enricher vs its engine called directly, same prompts, same run.

Baseline: the use case's engine (as many engines as the pipeline has actors, one
thread each) answering the first-attempt requests of the same items, nothing
else, in a fresh process of its own like an actor's, at the same OS priority as
the engine actors (the benchmark starts Ray with
worker niceness 0). Pipeline 1, streaming: the items go through
catalog.changes, the runtime, the worker, the Ray actor pool, parsing and
validation, and back out to enrichment.results and llm.calls (timed from the
first message to the end of the last batch; the actors start before). Pipeline 2,
`ladle enrich`: the same items from a file through Ray Data, published to Kafka and
written to Parquet (timed for the whole run after Ray is up, actor start-up
included). Rounds interleave the three; the best round of each counts, as in
`ladle bench runtime`, since load from other processes only ever slows a side down.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from benchmarks.common import figure
from schemas import CatalogChange
from shared.catalog_file import read_rows
from shared.kafka import clients
from shared.runtime import codec
from shared.runtime.loop import Runtime
from shared.settings import REPO_ROOT, LadleSettings
from topics import apply as topic_apply
from topics.registry import TOPICS, Namespace
from workers.enricher import batch, create_worker, make_pool, make_tagger
from workers.enricher.engines import make_engine
from workers.enricher.ray_setup import init_ray
from workers.enricher.settings import EnricherSettings

SAMPLE = REPO_ROOT / "deploy" / "catalog" / "sample_catalog.jsonl"
TOPIC_NAMES = ("catalog.changes", "enrichment.results", "llm.calls")


def sample(n: int) -> list[CatalogChange]:
    rows = [r.change for r in read_rows(SAMPLE, version=1)]
    return rows[:: max(1, len(rows) // n)][:n]


def direct_isolated(es: EnricherSettings, ladle: LadleSettings, changes: list[CatalogChange], engines: int):
    """``direct`` in a fresh process: measured here, llama.cpp runs 30-40% slower in a process
    that also hosts a Ray driver's threads, which would flatter the pipeline."""
    with multiprocessing.get_context("spawn").Pool(1) as p:
        return p.apply(direct, (es, ladle, changes, engines))


def direct(es: EnricherSettings, ladle: LadleSettings, changes: list[CatalogChange], engines: int) -> tuple[float, int]:
    """Seconds and output tokens for the engine alone on the first-attempt prompts."""
    uc = es.load_use_case()
    tagger = make_tagger(es, uc, ladle)
    requests = [tagger.request(tagger.job(c)) for c in changes]
    built = [make_engine(uc.engine_spec()) for _ in range(engines)]

    async def all_of() -> list:
        shares = [requests[i::engines] for i in range(engines)]
        return [
            r
            for part in await asyncio.gather(*(e.generate(s) for e, s in zip(built, shares, strict=True)))
            for r in part
        ]

    t0 = time.perf_counter()
    results = asyncio.run(all_of())
    seconds = time.perf_counter() - t0
    for e in built:
        e.close()
    return seconds, sum(r.output_tokens for r in results)


class Counting:
    """The pool, counting the output tokens of every call the pipeline makes."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.output_tokens = 0

    def generate(self, requests):
        results = self.pool.generate(requests)
        self.output_tokens += sum(r.output_tokens for r in results)
        return results

    def close(self) -> None:
        self.pool.close()


def streaming(es, ladle, changes, round_: int) -> tuple[float, int]:
    uc = es.load_use_case()
    engines = Counting(make_pool(es, uc).start())
    worker = create_worker(es, ladle, engines=engines)
    p = clients.producer(ladle)
    for c in changes:  # a new version each round: the round's own results
        c = CatalogChange(op="upsert", item_id=c.item_id, version=round_ + 1, item=c.item)
        p.produce(ladle.topic_prefix + "catalog.changes", codec.encode(c), c.item_id)
    p.flush(60)
    stats = Runtime(worker, ladle, es).run(max_messages=len(changes), idle_exit_s=120)
    return stats.busy_s, engines.output_tokens


def batch_run(es, ladle, changes, work: Path, n: int, console: Console) -> tuple[float, int, int, float]:
    path = work / f"items-{n}.jsonl"
    path.write_text("".join(json.dumps(c.item.model_dump(mode="json") | {"version": 1}) + "\n" for c in changes))
    s = batch.run(path, work / f"results-{n}.parquet", settings=es, ladle=ladle, console=console)
    return s.seconds, s.output_tokens, s.enriched, s.first_result_s or 0.0


def run(
    settings: LadleSettings, *, items: int, actors: int, use_case: str, rounds: int, console: Console
) -> Iterator[dict]:
    clients.require_broker(settings)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    work = Path(tempfile.mkdtemp(prefix="ladle-bench-enricher-"))
    ladle = settings.model_copy(update={"topic_prefix": prefix, "data_dir": work / "data"})
    admin = clients.admin(ladle)
    specs = {n: TOPICS[n] for name in TOPIC_NAMES for n in (name, name + ".dlq")}
    topic_apply.ensure(admin, Namespace(prefix), specs)
    # The engines run at the priority of the baseline (this process), not Ray's default nice 15.
    es = EnricherSettings(use_case=use_case, actors=actors, max_batch_size=64, ray_worker_niceness=0)
    uc = es.load_use_case()
    changes = sample(items)
    started = init_ray(es.ray_address, es.ray_num_cpus, es.ray_worker_niceness)
    direct_s, stream, batched = [], [], []  # (seconds, output tokens[, items])
    try:
        for r in range(rounds):
            # Fresh consumer group and state each round, so every round tags every item.
            es_r = es.model_copy(update={"group_id": f"{prefix}enricher{r}", "state_dir": work / f"state{r}"})
            tag = f"round {r + 1}/{rounds}"
            direct_s.append(direct_isolated(es_r, ladle, changes, actors))
            console.print(f"{tag}: engine alone   {_rate(items, *direct_s[-1])}")
            stream.append(streaming(es_r, ladle, changes, r))
            console.print(f"{tag}: streaming      {_rate(items, *stream[-1])}")
            batched.append(batch_run(es_r, ladle, changes, work, r, console))
            console.print(
                f"{tag}: ladle enrich   {_rate(batched[-1][2], *batched[-1][:2])}, first chunk at {batched[-1][3]:.1f} s"
            )
    finally:
        if started:
            import ray

            ray.shutdown()
        admin.delete_topics([prefix + n for n in specs])
        shutil.rmtree(work, ignore_errors=True)
    common = dict(items=items, actors=actors, rounds=rounds, engine=uc.engine, model=uc.model)
    # Best round of each side, as `ladle bench runtime` does: load spikes only ever slow a side down.
    base_items = max(items / s for s, _ in direct_s)
    base_tok = max(t / s for s, t in direct_s)
    b_items = max(n / s for s, _, n, _ in batched)
    b_tok = max(t / s for s, t, _, _ in batched)
    # Ray Data and actor start-up plus the first chunk, included in the batch figures.
    first = min(f for *_, f in batched)
    s_items = max(items / s for s, _ in stream)
    s_tok = max(t / s for s, t in stream)
    yield figure(
        "enricher", "batch_output_tokens_per_s", b_tok, base_tok, "tokens/s", first_chunk_s=round(first, 1), **common
    )
    yield figure(
        "enricher", "batch_items_per_s", b_items, base_items, "items/s", first_chunk_s=round(first, 1), **common
    )
    yield figure("enricher", "stream_output_tokens_per_s", s_tok, base_tok, "tokens/s", **common)
    yield figure("enricher", "stream_items_per_s", s_items, base_items, "items/s", **common)


def _rate(items: int, seconds: float, tokens: int) -> str:
    return f"{items / seconds:6.2f} items/s {tokens / seconds:7.1f} output tokens/s ({seconds:.1f} s)"
