"""Kafka -> ClickHouse (embedded chDB) through the sink, vs a raw chDB Arrow insert of the same rows.

Both sides write into the same schema (migrations, materialized views), each in
its own database of one chDB folder (chDB allows one folder per process). The
sink side is timed from its first consumed message until its last checkpoint
(insert + commit) returned; the raw side is one Arrow insert of the rows the
sink produced, already mapped. Then report latency: the canned reports over a
table of REPORT_ROWS generated calls.
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from rich.console import Console

from benchmarks.common import figure
from schemas import LLMCall, Usage
from shared.kafka import clients
from shared.pricing import Pricing
from shared.runtime import codec
from shared.runtime.loop import Runtime
from shared.settings import LadleSettings
from topics import apply as topic_apply
from topics.registry import Namespace
from workers.sink.migrations import migrate
from workers.sink.reports import run_report
from workers.sink.service import SinkWorkerSettings
from workers.sink.settings import SinkSettings
from workers.sink.store import ClickHouseStore
from workers.sink.worker import ClickHouseSink

TEAMS = ["search", "catalog", "ads", "support", "growth"]
MODELS = [("gpt-4o-mini", "openai"), ("claude-3-5-haiku", "anthropic"), ("qwen2.5-0.5b-instruct", "llamacpp")]


def make_calls(n: int) -> list[LLMCall]:
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=2)
    out = []
    for i in range(n):
        model, provider = MODELS[i % len(MODELS)]
        out.append(LLMCall(
            call_id=f"bench-{i}", team=TEAMS[i % len(TEAMS)], use_case=f"uc{i % 7}", model=model, provider=provider,
            usage=Usage(input_tokens=rng.randint(50, 2000), output_tokens=rng.randint(5, 400)),
            latency_ms=rng.uniform(20, 2000), ttft_ms=rng.uniform(5, 300), occurred_at=start + timedelta(seconds=i % 86_400),
            cache_status=rng.choice(["miss", "miss", "exact_hit", "semantic_hit"]),
        ))  # fmt: skip
    return out


def generate_rows_sql(n: int) -> str:
    """n synthetic calls over 30 days, made by ClickHouse itself (the views fill as for real inserts)."""
    return f"""
INSERT INTO llm_calls (event_id, occurred_at, schema_version, trace_id, call_id, team, use_case, model, deployment,
    provider, prompt_name, prompt_version, prompt_label, input_tokens, output_tokens, cached_input_tokens, cost_usd,
    cost_source, pricing_version, latency_ms, ttft_ms, cache_status, fallback_chain, status, error)
SELECT toString(generateUUIDv4()), now64(3) - toIntervalSecond(number % 2592000), 1, '', toString(number),
    ['search','catalog','ads','support','growth'][number % 5 + 1], concat('uc', toString(number % 7)),
    ['gpt-4o-mini','claude-3-5-haiku','qwen2.5-0.5b-instruct'][number % 3 + 1], '',
    ['openai','anthropic','llamacpp'][number % 3 + 1], '', 0, '', 50 + number % 1950, 5 + number % 395, 0,
    toDecimal64((number % 1000) / 1000000, 9), 'pricing', 'bench', 20 + (number * 7919) % 1980, 5 + number % 295,
    ['miss','miss','exact_hit','semantic_hit'][number % 4 + 1], [], if(number % 97 = 0, 'error', 'ok'), ''
FROM numbers({n})"""


def run(settings: LadleSettings, *, events: int, report_rows: int, console: Console) -> Iterator[dict]:
    clients.require_broker(settings)
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    s = settings.model_copy(update={"topic_prefix": prefix})
    admin = clients.admin(s)
    topic_apply.ensure(admin, Namespace(prefix))
    console.print(f"producing {events:,} llm.calls events to {prefix}llm.calls")
    calls = make_calls(events)
    p = clients.producer(s)
    for c in calls:
        clients.produce_waiting(p, prefix + "llm.calls", codec.encode(c), c.call_id)
    p.flush(120)

    root = settings.data_dir / f"bench-sink-{uuid.uuid4().hex[:6]}"
    pricing = Pricing.load()
    sink_store = _store(root, "bench_sink")
    ws = SinkWorkerSettings(group_id=f"{prefix}sink", api_port=0)
    runtime = Runtime(ClickHouseSink(sink_store, pricing), s, ws)
    stats = runtime.run(max_messages=events)
    sink_s = time.monotonic() - stats.first_message_at
    landed = sink_store.scalar("SELECT count() FROM llm_calls")
    console.print(f"sink: {landed:,} rows landed in {sink_s:.2f}s ({events / sink_s:,.0f} events/s)")

    # The same rows, already mapped to Arrow by the sink's own code, in one raw insert.
    from shared.runtime.worker import Record

    mapper = ClickHouseSink(sink_store, pricing)
    mapper.process_batch([Record("llm.calls", 0, i, c.call_id, c, b"") for i, c in enumerate(calls)])
    table = mapper._pending["llm_calls"].table()
    raw_store = _store(root, "bench_raw")
    t0 = time.perf_counter()
    raw_store.insert_arrow("llm_calls", table)
    raw_s = time.perf_counter() - t0
    console.print(
        f"raw chDB Arrow insert: {table.num_rows:,} rows in {raw_s:.2f}s ({table.num_rows / raw_s:,.0f} rows/s)"
    )
    yield figure(
        "sink", "events_per_s", events / sink_s, table.num_rows / raw_s, "events/s", rows=landed, events=events
    )

    console.print(f"generating {report_rows:,} calls for the report figures")
    t0 = time.perf_counter()
    raw_store.command(generate_rows_sql(report_rows))
    console.print(f"generated in {time.perf_counter() - t0:.1f}s")
    for name in ("cost", "latency", "cache"):
        times = []
        for _ in range(21):
            t = time.perf_counter()
            run_report(raw_store, name, "30d", None)
            times.append((time.perf_counter() - t) * 1000)
        p95 = statistics.quantiles(times, n=20)[-1]
        # Baseline: the same question straight from the raw table (what the view saves).
        base = _raw_equivalent(raw_store, name)
        yield figure(
            "sink",
            f"report_{name}_p95_ms",
            p95,
            base,
            "ms",
            higher_is_better=False,
            rows=report_rows + table.num_rows,
            p50_ms=round(statistics.median(times), 2),
        )
    for st in (sink_store, raw_store):
        st.close()
    admin.delete_topics([prefix + t for t in topic_apply.TOPICS])


def _raw_equivalent(store: ClickHouseStore, name: str) -> float:
    sql = {
        "cost": "SELECT team, count(), sum(cost_usd) FROM llm_calls WHERE occurred_at >= now() - INTERVAL 30 DAY GROUP BY team",
        "latency": "SELECT model, quantiles(0.5,0.9,0.95,0.99)(latency_ms) FROM llm_calls WHERE occurred_at >= now() - INTERVAL 30 DAY GROUP BY model",
        "cache": "SELECT use_case, countIf(cache_status != 'miss') / count() FROM llm_calls WHERE occurred_at >= now() - INTERVAL 30 DAY GROUP BY use_case",
    }[name]
    times = []
    for _ in range(5):
        t = time.perf_counter()
        store.query(sql)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _store(root, database: str) -> ClickHouseStore:
    store = ClickHouseStore.open(SinkSettings(data_dir=root, clickhouse_database=database))
    migrate(store)
    return store
