"""Kafka -> ClickHouse (embedded chDB) through the sink, vs a raw chDB Arrow insert of the same rows.

Both sides write into the same schema (migrations, materialized views), each in
its own database of one chDB folder (chDB allows one folder per process). The
sink side is timed from its first consumed message until its last checkpoint
(insert + commit) returned; the raw side is one Arrow insert of the rows the
sink produced, already mapped. Then:

- the same events landed again, into a fresh database, while an analyst runs a
  10-second query over and over through the ClickHouse interface: events/s beside
  the query vs alone (the goal is 0.8 or more);
- report latency: the canned reports over a table of REPORT_ROWS generated calls;
- a 1M-row JSONEachRow export through the ClickHouse interface vs `ladle query`
  of the same SQL (the JSON API, then CSV), in rows/s.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
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

ANALYST = ("analyst", "ladle-analyst")  # the demo account (deploy/sink/users.yaml)
# A CPU-bound analyst query; its row count is scaled to take QUERY_S seconds alone on this machine.
LONG_QUERY = "SELECT count() FROM numbers_mt({n}) WHERE sipHash64(number) % 7 = 3"
QUERY_S = 10.0
ROUNDS = 3  # runs beside the query, alternating with runs alone
EXPORT_ROWS = 1_000_000
EXPORT_COLUMNS = "event_id, occurred_at, team, model, input_tokens, output_tokens, cost_usd, latency_ms"
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
    sink_s = _ingest(sink_store, pricing, s, f"{prefix}sink", events)
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

    api_url, api = _serve(sink_store, root)
    yield _beside_a_query(api_url, root, pricing, s, f"{prefix}sink-busy", events, console)

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
    yield _export(api_url, raw_store.database, console)
    api.stop()
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
    store = ClickHouseStore.open(_sink_settings(root, database))
    migrate(store)
    return store


def _sink_settings(root, database: str) -> SinkSettings:
    # `ladle query` of the export below is one JSON answer: the API must allow a million rows.
    return SinkSettings(data_dir=root, clickhouse_database=database, clickhouse_max_result_rows=2 * EXPORT_ROWS)


def _ingest(store: ClickHouseStore, pricing: Pricing, s: LadleSettings, group: str, events: int) -> float:
    """Seconds from the sink's first consumed message to its last checkpoint."""
    ws = SinkWorkerSettings(group_id=group, api_port=0)
    stats = Runtime(ClickHouseSink(store, pricing), s, ws).run(max_messages=events)
    return time.monotonic() - stats.first_message_at


def _rate_into(root, database: str, pricing: Pricing, s: LadleSettings, group: str, events: int) -> float:
    """Events/s of a sink landing every event into a fresh database."""
    store = _store(root, database)
    try:
        return events / _ingest(store, pricing, s, group, events)
    finally:
        store.close()


def _serve(store: ClickHouseStore, root) -> tuple[str, object]:
    """The sink's API (ClickHouse interface and JSON API) over the store, as `ladle worker sink` serves it."""
    from shared.kafka.broker import free_port
    from workers.sink.accounts import Accounts
    from workers.sink.api import serve_in_thread
    from workers.sink.service import SinkWorkerSettings as Worker

    port = free_port()
    api = serve_in_thread(
        store, "127.0.0.1", port, Accounts.load(Worker().users_file), _sink_settings(root, store.database)
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    return url, api


def _analyst(url: str, sql: str, database: str = "default") -> float:
    t0 = time.perf_counter()
    r = httpx.post(f"{url}/", params={"database": database}, content=sql, auth=ANALYST, timeout=600)
    r.raise_for_status()
    return time.perf_counter() - t0


def _beside_a_query(url, root, pricing, s, group, events, console: Console) -> dict:
    """Events/s into fresh databases while an analyst's ~10-second query runs again and again,
    vs alone. Quiet and busy runs alternate, after the warm run above, and each side reports its
    median, so load that comes and goes on a shared machine hits both sides alike."""
    probe = 20_000_000
    per_row = _analyst(url, LONG_QUERY.format(n=probe)) / probe
    n = int(QUERY_S / per_row)
    console.print(f"analyst query: {LONG_QUERY.format(n=n)} (~{QUERY_S:.0f}s alone)")
    quiet, busy, took = [], [], []
    for i in range(ROUNDS):
        quiet.append(_rate_into(root, f"bench_quiet{i}", pricing, s, f"{group}q{i}", events))
        stop = threading.Event()

        def analyst(stop: threading.Event = stop) -> None:
            while not stop.is_set():
                took.append(_analyst(url, LONG_QUERY.format(n=n)))

        thread = threading.Thread(target=analyst, name="analyst", daemon=True)
        thread.start()
        time.sleep(1.0)  # the query is running before the first event is consumed
        busy.append(_rate_into(root, f"bench_busy{i}", pricing, s, f"{group}{i}", events))
        stop.set()
        thread.join()
    console.print(f"sink beside the query: {[round(b) for b in busy]} events/s; alone {[round(q) for q in quiet]}; "
                  f"queries took {[round(t, 1) for t in took]} s")  # fmt: skip
    return figure("sink", "events_per_s_beside_analyst_query", statistics.median(busy), statistics.median(quiet),
                  "events/s", events=events, runs=ROUNDS, analyst_queries=len(took),
                  analyst_query_s=round(statistics.median(took), 1))  # fmt: skip


def _export(url: str, database: str, console: Console) -> dict:
    """Rows/s of a 1M-row export: the ClickHouse interface (JSONEachRow, streamed) vs `ladle query`."""
    import subprocess
    import sys

    sql = f"SELECT {EXPORT_COLUMNS} FROM {database}.llm_calls LIMIT {EXPORT_ROWS}"
    t0 = time.perf_counter()
    rows = 0
    with httpx.stream("POST", f"{url}/", content=sql + " FORMAT JSONEachRow", auth=ANALYST, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
    interface_s = time.perf_counter() - t0
    env = dict(os.environ, LADLE_SINK_API_URL=url, LADLE_SINK_API_USER=ANALYST[0], LADLE_SINK_API_PASSWORD=ANALYST[1])
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "ladle.cli", "query", sql, "--format", "csv"], env=env,
                         capture_output=True, timeout=1800)  # fmt: skip
    cli_s = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"ladle query failed: {res.stderr.decode()[-500:]}")
    cli_rows = res.stdout.count(b"\n") - 1  # the header line
    console.print(
        f"export of {rows:,} rows: interface {interface_s:.1f}s, `ladle query` {cli_s:.1f}s ({cli_rows:,} rows)"
    )
    return figure("sink", "export_rows_per_s", rows / interface_s, cli_rows / cli_s, "rows/s", rows=rows,
                  format="JSONEachRow", baseline_rows=cli_rows)  # fmt: skip
