"""Events/s through the worker runtime vs a bare confluent-kafka consume->produce loop.

Both read the same 1 KB events from the same topic (each with its own consumer
group) and write them to their own output topic. The runtime validates every
event against its schema, runs the echo worker, re-serialises, flushes the
producer and commits per batch; the bare loop only moves bytes and commits
asynchronously. Time runs from the first message to the last output acknowledged.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

from confluent_kafka import Consumer
from rich.console import Console

from benchmarks.common import figure
from schemas import CatalogChange, CatalogItem
from shared.kafka import clients
from shared.runtime import codec
from shared.runtime.loop import Runtime
from shared.settings import LadleSettings
from topics import apply as topic_apply
from topics.registry import TOPICS, Namespace
from workers.echo import EchoSettings, EchoWorker

BATCH = EchoSettings().max_batch_size  # the runtime's default, for both sides


def make_events(n: int, size: int) -> list[tuple[str, bytes]]:
    base = CatalogChange(
        op="upsert",
        item_id="item-0",
        version=1,
        item=CatalogItem(item_id="item-0", store_id="store-1", name="Dish", description="", price=9.99),
    )
    pad = max(0, size - len(codec.encode(base)))
    words = ("creamy tomato basil garlic spicy crispy grilled fresh smoky sweet tangy " * (pad // 60 + 2))[:pad]
    out = []
    for i in range(n):
        item_id = f"item-{i:08d}"
        c = CatalogChange(
            op="upsert",
            item_id=item_id,
            version=1,
            item=CatalogItem(
                item_id=item_id, store_id=f"store-{i % 50}", name=f"Dish {i}", description=words, price=i % 40 + 0.5
            ),
        )
        out.append((item_id, codec.encode(c)))
    return out


def bare_loop(settings: LadleSettings, src: str, dst: str, n: int, validate: bool = False) -> float:
    """The baseline; with ``validate`` it also parses and re-serialises each event, as the runtime must."""
    c = Consumer(clients.consumer_config(settings, f"bench-bare-{uuid.uuid4().hex[:8]}"))
    p = clients.producer(settings)
    c.subscribe([src])
    done, first = 0, None
    while done < n:
        msgs = c.consume(num_messages=BATCH, timeout=0.2)
        if not msgs:
            continue
        if first is None:
            first = time.monotonic()
        for m in msgs:
            if m.error() is None:
                value = codec.encode(CatalogChange.from_json(m.value())) if validate else m.value()
                while True:
                    try:
                        p.produce(dst, value, m.key())
                        break
                    except BufferError:
                        p.poll(0.05)
        p.poll(0)
        c.commit(asynchronous=True)
        done += len(msgs)
    p.flush(60)
    elapsed = time.monotonic() - first
    c.close()
    return n / elapsed


def runtime_loop(settings: LadleSettings, src_logical: str, dst_logical: str, n: int) -> float:
    ws = EchoSettings(
        group_id=f"bench-runtime-{uuid.uuid4().hex[:8]}",
        input_topic=src_logical,
        output_topic=dst_logical,
        max_batch_size=BATCH,
        max_batch_wait_s=0.2,
    )
    stats = Runtime(EchoWorker(ws), settings, ws).run(max_messages=n)
    return n / stats.busy_s


def run(settings: LadleSettings, *, events: int, size: int, rounds: int, console: Console) -> Iterator[dict]:
    clients.require_broker(settings)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    s = settings.model_copy(update={"topic_prefix": prefix})
    ns = Namespace(prefix)
    admin = clients.admin(s)
    topic_apply.ensure(
        admin, ns, {"catalog.changes": TOPICS["catalog.changes"], "catalog.changes.dlq": TOPICS["catalog.changes.dlq"]}
    )
    from confluent_kafka.admin import NewTopic

    for fut in admin.create_topics([NewTopic(prefix + t, 6, 1) for t in ("out.bare", "out.runtime")]).values():
        fut.result(30)
    console.print(f"producing {events:,} events of ~{size} bytes to {prefix}catalog.changes")
    data = make_events(events, size)
    p = clients.producer(s)
    for key, value in data:
        clients.produce_waiting(p, prefix + "catalog.changes", value, key)
    p.flush(120)
    bare, checked, rt = [], [], []
    src = prefix + "catalog.changes"
    for r in range(rounds):
        bare.append(bare_loop(s, src, prefix + "out.bare", events))
        console.print(f"round {r + 1}/{rounds}: bare loop            {bare[-1]:>9,.0f} events/s")
        checked.append(bare_loop(s, src, prefix + "out.bare", events, validate=True))
        console.print(f"round {r + 1}/{rounds}: bare loop + pydantic {checked[-1]:>9,.0f} events/s")
        rt.append(runtime_loop(s, "catalog.changes", "out.runtime", events))
        console.print(f"round {r + 1}/{rounds}: runtime              {rt[-1]:>9,.0f} events/s")
    admin.delete_topics([prefix + t for t in ("catalog.changes", "catalog.changes.dlq", "out.bare", "out.runtime")])
    common = dict(event_bytes=size, events=events, rounds=rounds)
    # The runtime's own overhead: against a hand-written loop doing the same validation and serialisation.
    yield figure("runtime", "events_per_s_vs_validating_loop", max(rt), max(checked), "events/s", **common)
    # The headline: against a loop that moves bytes and checks nothing.
    yield figure("runtime", "events_per_s", max(rt), max(bare), "events/s", **common)
