"""`ladle enrich FILE`: batch catalog enrichment with the streaming enricher's engines and
tagging code, through Ray Data (map_batches over an actor pool of engines).

Each finished chunk is published (results to enrichment.results, model calls to
llm.calls, malformed items to catalog.changes.dlq), flushed, then written as a
part file; a re-run skips what the parts and the output already hold.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import structlog
from rich.console import Console

from shared.settings import LadleSettings
from workers.enricher.batch_input import BatchSummary, count, read_changes
from workers.enricher.batch_parts import SCHEMA, PartStore
from workers.enricher.batch_udf import TagBatch
from workers.enricher.settings import EnricherSettings

log = structlog.get_logger(__name__)


def run(
    path: Path,
    out: Path,
    *,
    settings: EnricherSettings,
    ladle: LadleSettings,
    use_case: str | None = None,
    publish: bool = True,
    version: int | None = None,
    console: Console | None = None,
    on_part: Callable[[int], None] | None = None,
) -> BatchSummary:
    from workers.enricher import make_tagger
    from workers.enricher.batch_publish import Publisher
    from workers.enricher.ray_setup import init_ray

    console = console or Console(stderr=True)
    summary = BatchSummary()
    uc = settings.load_use_case(use_case)
    tagger = make_tagger(settings, uc, ladle, mode="batch")
    store = PartStore(out)
    done, keys, todo = store.done_keys(), set(), []
    for c in read_changes(path, version, summary, console):
        key = tagger.job(c).key
        if key in keys:  # the same item and content twice in the file: tagged once
            continue
        keys.add(key)
        if key in done:
            summary.skipped += 1
        else:
            todo.append(c)
    summary.items = len(keys)
    publisher = Publisher(ladle, source=path.name) if publish else None
    t0 = time.perf_counter()
    started = False
    previous = _interrupt_on_sigterm()
    try:
        if todo:
            started = init_ray(settings.ray_address, settings.ray_num_cpus, settings.ray_worker_niceness)
            _execute(todo, tagger, uc, settings, store, publisher, summary, console, on_part)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        if publisher is not None:
            publisher.close()
        if started:
            import ray

            ray.shutdown()
        summary.seconds = time.perf_counter() - t0
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if not summary.interrupted:
        summary.rows_out = store.combine()
    return summary


def _interrupt_on_sigterm():
    """SIGTERM stops a batch run like Ctrl-C: finished chunks stay, a re-run resumes."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, stop)


def _execute(todo, tagger, uc, settings, store, publisher, summary, console, on_part) -> None:
    import ray.data
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its INFO lines would bury our progress bar
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # ours is below
    ctx.print_on_execution_start = False
    chunk = uc.chunk_size or settings.chunk_size
    ds = ray.data.from_items([{"change": c.model_dump_json()} for c in todo]).map_batches(
        TagBatch,
        fn_constructor_kwargs={"tagger": tagger, "spec": uc.engine_spec()},
        batch_size=chunk,
        batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=settings.actors),
        num_cpus=uc.actor.num_cpus,
        num_gpus=uc.actor.num_gpus or None,
    )
    columns = [
        TextColumn("[bold]enriching[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    ]
    t0 = time.perf_counter()
    with Progress(*columns, console=console, transient=False, refresh_per_second=2) as progress:
        task = progress.add_task("items", total=len(todo), rate="")
        parts = 0
        for table in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            if publisher is not None:
                publisher.publish(table)  # flushed before the part: a part's results are in Kafka
            store.write(table.select(SCHEMA.names))
            parts += 1
            if summary.first_result_s is None:
                summary.first_result_s = time.perf_counter() - t0
            count(table, summary)
            done = summary.enriched + summary.failed + summary.retry
            elapsed = time.perf_counter() - t0
            progress.update(
                task, completed=done, rate=f"{done / elapsed:.2f} items/s, {summary.output_tokens / elapsed:.0f} tok/s"
            )
            if on_part is not None:
                on_part(parts)
