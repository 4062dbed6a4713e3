"""`ladle demo` (and `make demo`): the platform's spine end to end on this machine.

Starts the broker, applies the topic registry, produces the sample catalog,
and shows what landed. Stages join the demo as they land (see the README).
"""

from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.table import Table

from shared.cli.produce import produce_catalog
from shared.kafka import clients
from shared.kafka.broker import LocalBroker
from shared.runtime.errors import FatalError
from shared.settings import REPO_ROOT, broker_settings, ladle_settings
from topics import apply as topic_apply
from topics.registry import TOPICS, Namespace

SAMPLE = REPO_ROOT / "deploy" / "catalog" / "sample_catalog.jsonl"


def topic_counts(settings, names: list[str]) -> dict[str, int]:
    """Messages per topic (high minus low watermark, summed over partitions)."""
    c = Consumer(clients.consumer_config(settings, "ladle-demo-inspect"))
    out = {}
    for name in names:
        meta = c.list_topics(name, timeout=10).topics.get(name)
        if meta is None or meta.error:
            continue
        total = 0
        for p in meta.partitions:
            low, high = c.get_watermark_offsets(TopicPartition(name, p), timeout=10)
            total += high - low
        out[name] = total
    c.close()
    return out


def run_demo(console: Console) -> None:
    started = time.perf_counter()
    settings = ladle_settings()
    broker = LocalBroker(settings.data_dir, broker_settings())
    console.rule("[bold]1. Kafka broker (KRaft, jars from Maven Central)")
    console.print(f"kafka {broker.start()} on {broker.bootstrap}")
    settings = settings.model_copy(update={"kafka_bootstrap": broker.bootstrap})

    console.rule("[bold]2. Topics from the registry")
    ns = Namespace(settings.topic_prefix)
    changes = topic_apply.ensure(clients.admin(settings), ns)
    made = sum(c.kind == "create" for c in changes)
    console.print(
        f"{len(TOPICS)} topics in the registry; created {made}, altered {sum(c.kind == 'alter' for c in changes)}"
    )

    console.rule("[bold]3. The sample catalog into catalog.changes")
    before = topic_counts(settings, [ns.physical("catalog.changes")]).get(ns.physical("catalog.changes"), 0)
    s = produce_catalog(SAMPLE, settings, console=console)
    if not s.ok:
        raise FatalError(f"the sample catalog did not go through: {s.errors[:3]}")
    console.print(f"sent {s.sent}, rejected {s.rejected}, failed {s.failed} in {s.seconds:.2f}s")

    console.rule("[bold]4. What the broker holds")
    counts = topic_counts(settings, [ns.physical(n) for n in TOPICS])
    table = Table("topic", "messages", "value model")
    for name, spec in sorted(TOPICS.items()):
        table.add_row(ns.physical(name), f"{counts.get(ns.physical(name), 0):,}", spec.value_model.__name__)
    console.print(table)
    after = counts.get(ns.physical("catalog.changes"), 0)
    console.print(
        f"[bold green]demo done[/] in {time.perf_counter() - started:.1f}s: catalog.changes grew by {after - before} "
        f"(to {after}). The broker keeps running at {broker.bootstrap}; stop it with `ladle kafka stop`."
    )
