"""The embedder: end-to-end items/s against the raw model, freshness under load, and the skip path.

1. Throughput: distinct items through Kafka -> validate -> embed -> Qdrant Edge ->
   publish -> commit, against ``model.encode`` on the same texts with the same batch
   size in the same run (goal: ratio >= 0.85). Time runs from the first message to
   the worker's return, so the last checkpoint (store flush, commit) counts.
2. Freshness: new items offered at half the measured capacity, each stamped when
   produced; p50/p99 of ``freshness_ms`` from the CatalogEmbedded events (goal p99 <= 1 s).
3. Skip path: items already in the index with the same text, changed again (new
   version): events/s through the embedder against the echo worker on the same events
   (the runtime alone); goal >= 20,000/s. No model call may happen.
"""

from __future__ import annotations

import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from confluent_kafka.admin import NewTopic
from rich.console import Console

from benchmarks.common import figure
from schemas import CatalogChange, CatalogEmbedded
from shared.catalog_file import read_rows
from shared.encoder import Encoder
from shared.kafka import clients
from shared.runtime import codec
from shared.runtime.loop import Runtime
from shared.settings import REPO_ROOT, LadleSettings
from topics import apply as topic_apply
from topics.registry import TOPICS, Namespace
from workers.echo import EchoSettings, EchoWorker
from workers.embedder import EmbedderSettings, create_worker
from workers.embedder.apply import _item_payload, fields_hash
from workers.embedder.collections import EdgeCollections, new_info
from workers.embedder.text import TextTemplate, content_hash

SAMPLE = REPO_ROOT / "deploy" / "catalog" / "sample_catalog.jsonl"
NEEDED = ("catalog.changes", "catalog.changes.dlq", "catalog.embedded")


def make_changes(n: int, version: int, tag: str) -> list[CatalogChange]:
    """n distinct items with realistic texts: the sample catalog, each pass a different variant."""
    base = [r.change for r in read_rows(SAMPLE, version=version)]
    out = []
    for i in range(n):
        src = base[i % len(base)].item
        item_id = f"{tag}-{i:07d}"
        item = src.model_copy(
            update={"item_id": item_id, "description": f"{src.description} Variant {i // len(base)}."}
        )
        out.append(CatalogChange(op="upsert", item_id=item_id, version=version, item=item))
    return out


def _space(settings: LadleSettings, tmp: Path, name: str, extra: tuple[str, ...] = ()) -> LadleSettings:
    prefix = f"bench{uuid.uuid4().hex[:6]}.{name}."
    s = settings.model_copy(update={"topic_prefix": prefix, "data_dir": tmp / name})
    admin = clients.admin(s)
    topic_apply.ensure(admin, Namespace(prefix), {t: TOPICS[t] for t in NEEDED})
    if extra:
        for fut in admin.create_topics([NewTopic(prefix + t, 6, 1) for t in extra]).values():
            fut.result(30)
    return s


def _produce(s: LadleSettings, changes: list[CatalogChange]) -> None:
    p = clients.producer(s)
    topic = s.topic_prefix + "catalog.changes"
    for c in changes:
        clients.produce_waiting(p, topic, codec.encode(c), c.item_id)
    p.flush(120)


def _cleanup(s: LadleSettings, extra: tuple[str, ...] = ()) -> None:
    clients.admin(s).delete_topics([s.topic_prefix + t for t in NEEDED + extra])


def _embedder(s: LadleSettings, encoder: Encoder, batch_size: int):
    es = EmbedderSettings(group_id=f"{s.topic_prefix}embedder", api_port=0, encode_batch_size=batch_size)
    return create_worker(es, s, collections=EdgeCollections(s.data_dir / "embedder"), encoder=encoder), es


def _run_timed(runtime: Runtime, n: int) -> float:
    runtime.run(max_messages=n, idle_exit_s=60)
    end = time.monotonic()
    return n / (end - runtime.stats.first_message_at)


def _raw_encode(encoder: Encoder, texts: list[str], batch_size: int) -> float:
    t0 = time.perf_counter()
    encoder.model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    return len(texts) / (time.perf_counter() - t0)


def throughput(settings, tmp, encoder, items, batch_size, console) -> tuple[float, float]:
    """End to end vs the raw model, measured before and after it (the better raw run is the baseline):
    on a shared machine the load drifts, and taking the better one never flatters the ratio."""
    s = _space(settings, tmp, "throughput")
    changes = make_changes(items, 1, "tp")
    template = TextTemplate(EmbedderSettings().text_template)
    texts = [template.render(c.item) for c in changes]
    encoder.model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up, outside both timings
    raw = _raw_encode(encoder, texts, batch_size)
    console.print(f"raw model.encode        {raw:>9,.1f} items/s ({items} texts, batch {batch_size})")
    _produce(s, changes)
    worker, es = _embedder(s, encoder, batch_size)
    e2e = _run_timed(Runtime(worker, s, es), items)
    console.print(f"end to end (Kafka->Edge) {e2e:>8,.1f} items/s")
    raw = max(raw, _raw_encode(encoder, texts, batch_size))
    console.print(f"raw model.encode, best  {raw:>9,.1f} items/s")
    _cleanup(s)
    return e2e, raw


def freshness(settings, tmp, encoder, rate, seconds, batch_size, console) -> list[float]:
    s = _space(settings, tmp, "freshness")
    n = max(10, int(rate * seconds))
    changes = make_changes(n, 1, "fr")
    worker, es = _embedder(s, encoder, batch_size)
    runtime = Runtime(worker, s, es)
    thread = threading.Thread(target=runtime.run, kwargs={"max_messages": n, "idle_exit_s": 60}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not runtime._assigned and time.monotonic() < deadline:  # wait for the group join: not a freshness cost
        time.sleep(0.05)
    console.print(f"offering {n} items at {rate:,.1f}/s for {seconds:.0f}s")
    p = clients.producer(s, **{"linger.ms": 0})
    topic = s.topic_prefix + "catalog.changes"
    start = time.monotonic()
    for i, c in enumerate(changes):
        wait = start + i / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        c.occurred_at = datetime.now(UTC)
        p.produce(topic, codec.encode(c), c.item_id)
        p.poll(0)
    p.flush(60)
    thread.join(120)
    ids = {c.item_id for c in changes}
    lat = [e.freshness_ms for e in _read_embedded(s, n) if e.item_id in ids]
    _cleanup(s)
    return lat


def _read_embedded(s: LadleSettings, n: int, timeout: float = 60.0) -> list[CatalogEmbedded]:
    from confluent_kafka import Consumer, TopicPartition

    name = s.topic_prefix + "catalog.embedded"
    c = Consumer(clients.consumer_config(s, f"bench-read-{uuid.uuid4().hex[:6]}"))
    parts = c.list_topics(name, timeout=10).topics[name].partitions
    c.assign([TopicPartition(name, p, 0) for p in parts])
    out: list[CatalogEmbedded] = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        for m in c.consume(1000, 0.5):
            if m.error() is None:
                out.append(CatalogEmbedded.model_validate_json(m.value()))
    c.close()
    return out


def unchanged_path(settings, tmp, encoder, n, batch_size, console) -> tuple[float, float, int]:
    s = _space(settings, tmp, "unchanged", extra=("out.echo",))
    v1 = make_changes(n, 1, "un")
    cols = EdgeCollections(s.data_dir / "embedder")
    info = new_info("catalog", encoder.name, encoder.dim)
    store = cols.create(info)
    cols.switch(info)
    template = TextTemplate(EmbedderSettings().text_template)
    now = datetime.now(UTC).isoformat()
    rng = np.random.default_rng(7)
    console.print(f"seeding the index with {n:,} items (random vectors, real hashes)")
    for start in range(0, n, 1000):
        chunk = v1[start : start + 1000]
        vecs = rng.standard_normal((len(chunk), encoder.dim)).astype(np.float32)
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).tolist()
        points = []
        for c, vec in zip(chunk, vecs, strict=True):
            payload = _item_payload(c)
            payload.update(
                content_hash=content_hash(template.render(c.item)),
                fields_hash=fields_hash(c.item, template),
                model=info.model,
                embedded_at=now,
                embedded_version=1,
            )
            points.append((c.item_id, vec, payload))
        store.upsert(points)
    store.close()
    _produce(s, [c.model_copy(update={"version": 2}) for c in v1])
    texts = encoder.texts
    worker, es = _embedder(s, encoder, batch_size)
    skip = _run_timed(Runtime(worker, s, es), n)
    calls = encoder.texts - texts
    console.print(f"unchanged items         {skip:>9,.0f} events/s ({calls} model calls)")
    ws = EchoSettings(group_id=f"{s.topic_prefix}echo", input_topic="catalog.changes", output_topic="out.echo")
    echo = _run_timed(Runtime(EchoWorker(ws), s, ws), n)
    console.print(f"echo worker (runtime)   {echo:>9,.0f} events/s")
    _cleanup(s, ("out.echo",))
    return skip, echo, calls


def run(
    settings: LadleSettings, *, items: int, unchanged: int, freshness_s: float, batch_size: int, console: Console
) -> Iterator[dict]:
    clients.require_broker(settings)
    encoder = Encoder.load("all-MiniLM-L6-v2", batch_size=batch_size)
    with tempfile.TemporaryDirectory(prefix="ladle-bench-embedder-") as tmp:
        tmp = Path(tmp)
        e2e, raw = throughput(settings, tmp, encoder, items, batch_size, console)
        yield figure(
            "embedder",
            "items_per_s_vs_model_encode",
            e2e,
            raw,
            "items/s",
            items=items,
            batch_size=batch_size,
            goal_ratio=0.85,
            backend="edge",
            model=encoder.name,
        )
        rate = e2e / 2
        lat = freshness(settings, tmp, encoder, rate, freshness_s, batch_size, console)
        lat.sort()
        p50 = lat[len(lat) // 2]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        common = dict(offered_items_per_s=round(rate, 1), items=len(lat), baseline_is="goal")
        yield figure("embedder", "freshness_p50_ms", p50, 1000.0, "ms", higher_is_better=False, **common)
        yield figure("embedder", "freshness_p99_ms", p99, 1000.0, "ms", higher_is_better=False, **common)
        skip, echo, calls = unchanged_path(settings, tmp, encoder, unchanged, batch_size, console)
        yield figure(
            "embedder",
            "unchanged_events_per_s",
            skip,
            echo,
            "events/s",
            goal=20_000,
            goal_ratio=round(skip / 20_000, 3),
            model_calls=calls,
            events=unchanged,
            baseline_is="echo worker",
        )
