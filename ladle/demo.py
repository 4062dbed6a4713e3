"""`ladle demo` (and `make demo`): the whole platform end to end on this machine.

`ladle up` (broker, topics, migrations, every service under the supervisor),
the sample catalog into catalog.changes, progress until every item is
embedded, enriched, guarded and landed in ClickHouse, then a summary, a
search, an analyst query, the HTML report and screenshots of the console's pages
(reports/console/). The stack keeps running.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ladle.cli.produce import produce_catalog
from ladle.console_shots import screenshots
from ladle.stack import control
from ladle.stack.services import BY_NAME
from shared.runtime.errors import FatalError
from shared.settings import REPO_ROOT, LadleSettings, ladle_settings
from workers.embedder.client import running
from workers.sink.client import query_api

SAMPLE = REPO_ROOT / "deploy" / "catalog" / "sample_catalog.jsonl"
STAGES = ("catalog_embedded", "enrichment_results", "guarded_results")


def sql(query: str, params: dict | None = None) -> list[dict]:
    """Rows from the sink's read-only SQL API (the sink owns the embedded store)."""
    rows = query_api("/query", json={"sql": query, "parameters": params or {}})
    if rows is None:
        raise FatalError("the sink's query API does not answer; see `ladle status` and `ladle logs sink`")
    return rows.dicts()


def sample_items(path: Path, limit: int | None) -> tuple[Path, list[str]]:
    """The catalog file to produce (the first `limit` rows, spread over every store) and its item ids."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if limit and limit < len(rows):
        step = len(rows) / limit
        rows = [rows[int(i * step)] for i in range(limit)]
        out = Path(ladle_settings().data_dir) / "demo" / "catalog.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r) + "\n" for r in rows))
        path = out
    return path, [r["item_id"] for r in rows]


def progress(ids: list[str]) -> dict[str, int]:
    counts = {}
    for table in STAGES:
        rows = sql(f"SELECT uniqExact(item_id) AS n FROM ladle.{table} WHERE item_id IN %(ids)s", {"ids": ids})
        counts[table] = int(rows[0]["n"])
    return counts


def wait_done(console: Console, ids: list[str], timeout_s: float) -> dict[str, int]:
    t0, last, counts = time.time(), 0.0, {}
    while True:
        counts = progress(ids)
        done = all(n >= len(ids) for n in counts.values())
        if done or time.time() - last >= 10:
            line = "  ".join(f"{t.split('_')[0]} {n}/{len(ids)}" for t, n in counts.items())
            console.print(f"[{time.time() - t0:5.0f}s] {line}", highlight=False)
            last = time.time()
        if done:
            return counts
        if time.time() - t0 > timeout_s:
            raise FatalError(f"not every item made it through in {timeout_s:.0f}s: {counts} of {len(ids)}; "
                             "see `ladle status` and `ladle logs enricher`")  # fmt: skip
        time.sleep(2.0)


def summary(ids: list[str]) -> dict:
    p = {"ids": ids}
    tags = sql(f"SELECT round(avg(arraySum(arrayMap(v -> {TAG_COUNT}, mapValues(a)))), 2) AS tags_per_item "
               f"FROM ({LATEST} WHERE item_id IN %(ids)s GROUP BY item_id)", p)[0]  # fmt: skip
    routes = sql("SELECT route, count() AS n FROM (SELECT item_id, argMax(route, occurred_at) AS route "
                 "FROM ladle.guarded_results FINAL WHERE item_id IN %(ids)s GROUP BY item_id) "
                 "GROUP BY route ORDER BY route", p)  # fmt: skip
    actions = sql("SELECT action, count() AS n FROM ladle.guardrail_verdicts FINAL GROUP BY action ORDER BY action")
    calls = sql("SELECT count() AS calls, round(sum(toFloat64(cost_usd)), 6) AS cost_usd, "
                "round(quantile(0.5)(latency_ms), 1) AS p50_ms, round(quantile(0.95)(latency_ms), 1) AS p95_ms, "
                "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens "
                "FROM ladle.llm_calls FINAL WHERE use_case = 'tag'")[0]  # fmt: skip
    # Items a cascade's classifier answered whole (engine 'cascade') made no model call; each would have
    # cost what an item the LLM answered costs in calls.
    cascade = sql("SELECT count() AS items, countIf(engine = 'cascade') AS classified, "
                  "round(avgIf(attempts, engine != 'cascade'), 3) AS calls_per_llm_item FROM (SELECT item_id, "
                  "argMax(engine, occurred_at) AS engine, argMax(attempts, occurred_at) AS attempts "
                  "FROM ladle.enrichment_results FINAL WHERE item_id IN %(ids)s GROUP BY item_id)", p)[0]  # fmt: skip
    fresh = sql("SELECT round(quantile(0.5)(freshness_ms) / 1000, 2) AS p50_s, "
                "round(quantile(0.95)(freshness_ms) / 1000, 2) AS p95_s FROM ladle.catalog_embedded FINAL "
                "WHERE item_id IN %(ids)s", p)[0]  # fmt: skip
    return {"items": len(ids), "tags": tags, "routes": routes, "actions": actions, "calls": calls, "freshness": fresh,
            "cascade": cascade}  # fmt: skip


def cascade_line(c: dict) -> str:
    """'42 of 120 (35%); about 46 LLM calls saved' from the summary's cascade figures."""
    items, classified = int(c["items"] or 0), int(c["classified"] or 0)
    per_item = float(c["calls_per_llm_item"] or 0)
    per_item = per_item if per_item > 0 else 1.0  # nan (nan > 0 is False) or 0: the LLM answered nothing
    share = classified / items if items else 0.0
    return f"{classified} of {items} ({share:.0%}); about {classified * per_item:.0f} LLM calls saved"


def search(query: str, k: int = 5) -> list[dict]:
    from workers.embedder.settings import EmbedderSettings

    client = running(EmbedderSettings())
    if client is None:
        raise FatalError("the embedder's search API does not answer; see `ladle logs embedder`")
    try:
        resp = client.get("/search", params={"q": query, "limit": k})
        resp.raise_for_status()
        return resp.json().get("results", [])
    finally:
        client.close()


# Tag fields live in `attributes` (one value, or a JSON list; "null" where guardrails dropped it).
LATEST = "SELECT item_id, argMax(attributes, occurred_at) AS a FROM ladle.guarded_results FINAL"
TAG_COUNT = "if(v IN ('null', ''), 0, if(startsWith(v, '['), length(JSONExtractArrayRaw(v)), 1))"
ANALYST_SQL = (
    "SELECT tag, count() AS items FROM (SELECT concat(k, ':', trim(BOTH '\"' FROM raw)) AS tag FROM "
    f"({LATEST} WHERE route = 'accepted' GROUP BY item_id) ARRAY JOIN mapKeys(a) AS k, mapValues(a) AS v "
    "ARRAY JOIN if(startsWith(v, '['), JSONExtractArrayRaw(v), [v]) AS raw WHERE raw NOT IN ('null', '')) "
    "GROUP BY tag ORDER BY items DESC, tag LIMIT 10"
)


def write_report(path: Path, facts: dict, hits: list[dict], analyst: list[dict]) -> None:
    """reports/demo.html: one page of charts (ladle/dashboard.py), read through the sink's API."""
    from ladle.dashboard import render

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(facts, hits, analyst, ANALYST_SQL, sql))


def evaluate_tag(console: Console, settings: LadleSettings, limit: int) -> dict:
    """`ladle eval run tag --limit N`: the tag use case's real path on golden items, scored and published."""
    from ladle.cli.eval import evaluate_with_progress
    from ladle.eval import datasets, store
    from ladle.eval.run import UseCasePath

    path = UseCasePath("tag", settings)
    try:
        ds = datasets.load("tag", path.taxonomy, limit)
        result = evaluate_with_progress(path, ds, f"tag on {ds.name}")
    finally:
        path.close()
    store.save(settings, result)
    store.publish(settings, result)
    run, gate = result.run, path.use_case.gate
    warning = None
    if gate is not None:
        value = run.metric(gate.field, gate.metric)
        if value is not None and value < gate.min:
            warning = (f"{gate.field} {gate.metric} {value:.3f} is below the tag use case's gate ({gate.min:g} on "
                       f"{gate.dataset}): these tags are not good enough for production")  # fmt: skip
    headline = [m for m in run.metrics if m.metric in ("accuracy", "micro_f1", "macro_f1", "invalid_rate")]
    return {"run_id": run.run_id, "dataset": run.dataset, "items": run.items, "warning": warning,
            "metrics": [m.model_dump() for m in headline]}  # fmt: skip


def run_demo(console: Console, items: int | None = None, timeout_s: float = 900.0, eval_items: int = 40) -> None:
    started = time.perf_counter()
    settings: LadleSettings = ladle_settings()
    console.rule("[bold]1. ladle up: broker, topics, migrations, services")
    if not control.up(settings, console):
        raise FatalError("the stack did not come up healthy; see `ladle status` and `ladle logs SERVICE`")

    console.rule("[bold]2. The sample catalog into catalog.changes")
    path, ids = sample_items(SAMPLE, items)
    s = produce_catalog(path, settings, console=console)
    if not s.ok:
        raise FatalError(f"the sample catalog did not go through: {s.errors[:3]}")
    console.print(f"sent {s.sent}, rejected {s.rejected}, failed {s.failed} in {s.seconds:.2f}s")

    console.rule("[bold]3. Embedded, enriched, guarded, landed")
    wait_done(console, ids, timeout_s)

    console.rule("[bold]4. Summary")
    facts = summary(ids)
    c, t, f = facts["calls"], facts["tags"], facts["freshness"]
    table = Table("figure", "value")
    table.add_row("items", f"{facts['items']}")
    table.add_row("tags per item (after guardrails)", f"{t['tags_per_item']}")
    table.add_row("routes", ", ".join(f"{r['route']} {r['n']}" for r in facts["routes"]))
    table.add_row("guardrail actions", ", ".join(f"{a['action']} {a['n']}" for a in facts["actions"]))
    table.add_row("answered by the cascade's classifier alone", cascade_line(facts["cascade"]))
    table.add_row("LLM calls / tokens in / out", f"{c['calls']} / {c['input_tokens']} / {c['output_tokens']}")
    table.add_row("cost (pricing table)", f"${float(c['cost_usd'] or 0):.6f}")
    table.add_row("LLM latency p50 / p95", f"{c['p50_ms']} ms / {c['p95_ms']} ms")
    table.add_row("index freshness p50 / p95", f"{f['p50_s']} s / {f['p95_s']} s")
    console.print(table)

    quality = None
    if eval_items:
        console.rule(f"[bold]5. Quality: the tag use case on {eval_items} golden items")
        quality = evaluate_tag(console, settings, eval_items)
        facts["quality"] = quality
        table = Table("field", "metric", "value")
        for m in quality["metrics"]:
            table.add_row(m["field"], m["metric"], f"{m['value']:.3f}")
        console.print(table)
        if quality["warning"]:
            console.print(f"[bold red]warning:[/] {quality['warning']}", highlight=False)

    console.rule("[bold]6. Search and an analyst query")
    question = "spicy vegetarian noodles"
    hits = search(question)
    console.print(f"search {question!r}:")
    for h in hits:
        console.print(f"  {float(h.get('score', 0)):.3f}  {h.get('item_id')}  {h.get('name', '')}", highlight=False)
    analyst = sql(ANALYST_SQL)
    console.print("accepted items per tag (top 10):")
    for r in analyst:
        console.print(f"  {r['tag']:<24} {r['items']:>4} items", highlight=False)

    console.rule("[bold]7. Report")
    report = Path("reports") / "demo.html"
    write_report(report, facts, hits, analyst)
    console.print(f"wrote {report.resolve()}")

    ports = {n: BY_NAME[n].port() for n in BY_NAME}
    console.rule("[bold]8. The console")
    console_url = f"http://127.0.0.1:{ports['console']}"
    try:
        shots = screenshots(console_url, Path("reports") / "console", "analyst", "ladle-analyst")
        console.print(f"wrote {len(shots)} screenshots of the console to {(Path('reports') / 'console').resolve()}")
    except Exception as exc:  # noqa: BLE001 - screenshots are a souvenir: the demo is done without them
        console.print(f"[yellow]no console screenshots:[/] {str(exc).splitlines()[0][:200]}", highlight=False)
    console.print(
        f"[bold green]demo done[/] in {time.perf_counter() - started:.0f}s. The stack keeps running:\n"
        f"  console (web)                {console_url}/   user analyst, password ladle-analyst\n"
        f"  gateway (OpenAI-compatible)  http://127.0.0.1:{ports['gateway']}/v1   key: ladle-demo-key\n"
        f"  search                       http://127.0.0.1:{ports['embedder']}/search?q=pad+thai   (same key)\n"
        f"  ClickHouse (HTTP interface)  http://127.0.0.1:{ports['sink']}/   user analyst, password ladle-analyst\n"
        f"                               (clickhouse-connect, JDBC, Grafana, curl; or `ladle query`)\n"
        f"  local LLM (llama.cpp)        http://127.0.0.1:{ports['llm']}/v1\n"
        f"  Kafka                        {settings.kafka_bootstrap}\n"
        "  `ladle status`, `ladle logs SERVICE`, `ladle check`; stop everything with `ladle down`."
    )
