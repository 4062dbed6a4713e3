"""`ladle produce catalog FILE`: a catalog file -> catalog.changes, every row accounted for."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from shared.catalog_file import read_rows
from shared.kafka import clients
from shared.runtime import codec
from shared.runtime.errors import UserError
from shared.settings import LadleSettings
from topics.registry import DLQ_SUFFIX, Namespace, spec

TOPIC = "catalog.changes"


@dataclass
class ProduceSummary:
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.failed == 0


def produce_catalog(
    path: Path,
    settings: LadleSettings,
    *,
    delete: bool = False,
    version: int | None = None,
    dlq: bool = True,
    console: Console | None = None,
) -> ProduceSummary:
    console = console or Console(stderr=True)
    ns = Namespace(settings.topic_prefix)
    topic_spec = spec(TOPIC)
    topic, dlq_topic = ns.physical(TOPIC), ns.physical(TOPIC + DLQ_SUFFIX)
    producer = clients.producer(settings, **{"client.id": "ladle-produce"})
    summary = ProduceSummary()
    delivered = {"ok": 0}

    def on_delivery(err, msg) -> None:
        if msg.topic() != topic:
            return
        if err is None:
            delivered["ok"] += 1
        else:
            summary.failed += 1
            summary.errors.append(f"delivery failed for key {msg.key()!r}: {err.str()}")

    def reject(line: int, raw: str, key: str | None, reason: str) -> None:
        summary.rejected += 1
        console.print(f"[red]line {line}[/red]: {reason}", highlight=False)
        if dlq:
            dl = codec.dead_letter(
                topic=TOPIC,
                partition=-1,
                offset=-1,
                key=key,
                raw=raw.encode(),
                exc=ValueError(reason),
                worker="ladle-produce",
                source=f"{path.name}:{line}",
            )
            dl.error_class = "RejectedRow"
            producer.produce(dlq_topic, codec.encode(dl), key, on_delivery=on_delivery)

    total = _count_lines(path)
    start = time.perf_counter()
    progress = Progress(
        TextColumn("[bold]producing[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>9} rows/s"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    with progress:
        task = progress.add_task(path.name, total=total, rate="-")
        for i, row in enumerate(read_rows(path, delete=delete, version=version), start=1):
            if row.change is None:
                reject(row.line, row.raw, None, row.error or "invalid row")
            else:
                data = codec.encode(row.change)
                if len(data) > topic_spec.max_message_bytes:
                    reject(
                        row.line,
                        row.raw[:10_000],
                        row.change.item_id,
                        f"event is {len(data):,} bytes, over the {TOPIC} limit of {topic_spec.max_message_bytes:,} bytes",
                    )
                else:
                    _send(producer, topic, row.change.item_id, data, on_delivery, row.line)
            if i % 500 == 0:
                producer.poll(0)
                elapsed = time.perf_counter() - start
                progress.update(task, completed=i, rate=f"{i / elapsed:,.0f}" if elapsed else "-")
        progress.update(task, completed=total)
        while producer.flush(1.0) > 0:
            progress.update(task, description=f"{path.name} (waiting for the broker, {len(producer)} queued)")
    summary.sent = delivered["ok"]
    summary.seconds = time.perf_counter() - start
    return summary


def _send(producer, topic: str, key: str, data: bytes, on_delivery, line: int) -> None:
    try:
        clients.produce_waiting(producer, topic, data, key, on_delivery)
    except KafkaException as exc:
        raise UserError(f"line {line}: the producer refused the event: {exc.args[0].str()}") from None


def _count_lines(path: Path) -> int:
    if not path.exists():
        raise UserError(f"{path}: no such file")
    with path.open("rb") as fh:
        n = sum(1 for line in fh if line.strip())
    return n - 1 if path.suffix.lower() == ".csv" else n
