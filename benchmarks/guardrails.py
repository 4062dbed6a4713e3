"""Results/s through the guardrails faust app vs the same policy in a plain loop.

Same results, same run: labelled dev-set results (cycled, each copy its own item) are
encoded once. The plain loop feeds them to the Processor (decode, every check,
encode) in batches of the worker's size, with no Kafka. The stream side produces them
to enrichment.results under a fresh prefix and times a `ladle guardrails worker`
subprocess (models already loaded, group already joined) from the first produce to
the last verdict read back. Per-check latency p50/p99 comes from the plain loop's
verdicts (a batched model call's time is shared evenly by its batch).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from rich.console import Console

from benchmarks.common import figure
from schemas import EnrichmentResult, GuardrailVerdict
from shared.kafka import clients
from shared.runtime import codec
from shared.settings import REPO_ROOT, LadleSettings
from topics import apply as topic_apply
from topics.registry import TOPICS, Namespace

DEVSET = REPO_ROOT / "deploy" / "guardrails" / "devset.jsonl"
NEEDED = ("enrichment.results", "enrichment.results.dlq", "enrichment.accepted", "enrichment.review",
          "enrichment.rejected", "guardrail.verdicts")  # fmt: skip


def make_results(n: int, path: Path = DEVSET) -> list[tuple[str, bytes]]:
    base = []
    for line in filter(str.strip, path.read_text().split("\n")):  # JSON strings may hold U+2028
        r = json.loads(line)["result"]
        if isinstance(r.get("output"), dict):
            base.append(r)
    out = []
    for i in range(n):
        r = dict(base[i % len(base)])
        r["item_id"] = f"{r['item_id']}#{i}"
        e = EnrichmentResult.model_validate(r)
        out.append((e.item_id, codec.encode(e)))
    return out


def plain_loop(
    engine, data: list[tuple[str, bytes]], policy: str, batch: int
) -> tuple[float, float, dict[str, list[float]]]:
    """(results per wall second, results per CPU second of this single-threaded loop, check latencies)."""
    from workers.guardrails.processor import Processor, RawMessage

    proc = Processor(engine, Namespace("bench."), policy)
    msgs = [RawMessage(0, i, k.encode(), v) for i, (k, v) in enumerate(data)]
    proc.process(msgs[:batch])  # warm every code path once
    lat: dict[str, list[float]] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    outs = []
    for i in range(0, len(msgs), batch):
        outs.extend(proc.process(msgs[i : i + batch]))
    rate = len(msgs) / (time.perf_counter() - t0)
    cpu_rate = len(msgs) / max(time.process_time() - c0, 1e-9)
    for o in outs:
        if o.kind == "verdict":
            for c in GuardrailVerdict.model_validate_json(o.value).checks:
                lat.setdefault(c.check, []).append(c.latency_ms)
    return rate, cpu_rate, lat


def _ready(proc: subprocess.Popen, lines: list[str], timeout: float = 300) -> None:
    """Wait for the worker's log line that says it holds partitions (models are loaded by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"guardrails worker exited with {proc.returncode}: {''.join(lines)[-2000:]}")
        for line in list(lines):
            if '"guardrails.partitions_assigned"' in line and json.loads(line).get("partitions"):
                return
        time.sleep(0.2)
    raise RuntimeError("guardrails worker did not get partitions in time")


def _drain(proc: subprocess.Popen, lines: list[str]) -> None:
    for line in proc.stdout:
        lines.append(line)


def stream(settings: LadleSettings, data: list[tuple[str, bytes]], policy: str, console: Console) -> float:
    prefix = f"benchg{uuid.uuid4().hex[:6]}."
    s = settings.model_copy(update={"topic_prefix": prefix})
    admin = clients.admin(s)
    topic_apply.ensure(admin, Namespace(prefix), {t: TOPICS[t] for t in NEEDED})
    group = f"{prefix}guardrails"
    env = dict(os.environ, LADLE_KAFKA_BOOTSTRAP=s.kafka_bootstrap, LADLE_TOPIC_PREFIX=prefix,
               LADLE_DATA_DIR=str(s.data_dir), LADLE_GUARDRAILS_GROUP_ID=group, LADLE_GUARDRAILS_POLICY=policy,
               LADLE_LOG_FORMAT="json")  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "ladle.cli", "guardrails", "worker"],
        env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=_drain, args=(proc, lines), daemon=True).start()
    try:
        console.print(f"{policy}: starting the faust worker (loads models, joins {group})")
        _ready(proc, lines)
        verdicts = prefix + "guardrail.verdicts"
        c = Consumer(clients.consumer_config(s, f"bench-read-{uuid.uuid4().hex[:6]}"))
        parts = c.list_topics(verdicts, timeout=10).topics[verdicts].partitions
        c.assign([TopicPartition(verdicts, p, 0) for p in parts])
        p = clients.producer(s)
        t0 = time.monotonic()
        for key, value in data:
            clients.produce_waiting(p, prefix + "enrichment.results", value, key)
        p.flush(120)
        seen, last_report = 0, t0
        deadline = t0 + 600
        while seen < len(data) and time.monotonic() < deadline:
            seen += sum(1 for m in c.consume(1000, 0.5) if m.error() is None)
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                console.print(f"{policy}: {seen:,}/{len(data):,} verdicts")
        elapsed = time.monotonic() - t0
        c.close()
        if seen < len(data):
            raise RuntimeError(f"only {seen} of {len(data)} verdicts arrived")
        return len(data) / elapsed
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        admin.delete_topics([prefix + t for t in NEEDED])


# The gateway policy as it was before trained detectors (issue 15): Presidio over spaCy for PII, the
# injection patterns, the profanity model. The baseline of the per-text latency line, measured in the same run.
OLD_GATEWAY = {
    "version": "1",
    "checks": [
        {"check": "size", "action": "reject", "max_chars": 32000},
        {"check": "pii", "action": "redact", "validators": ["email", "phone", "credit_card", "iban", "national_id"]},
        {"check": "injection", "action": "review", "scope": ["inputs"], "threshold": 0.55},
        {"check": "toxicity", "action": "reject", "threshold": 0.54},
    ],
}


def gateway_texts(n: int) -> list[str]:
    """Texts of the outside dev sets (prompts, documents, answers, PII sentences) and menu text, in a fixed order."""
    from ladle.eval import guardrails_sets as sets

    texts = [r["text"] for f in ("injection", "toxicity", "pii") for r in sets.read_jsonl(sets.EVALDATA / f"{f}.jsonl")]
    texts += [t for _, t in sets.menu_texts()][:300]
    step = max(1, len(texts) // n) if n else 1
    return texts[::step][:n] if n else texts


def per_text_ms(engine, policy: str, texts: list[str]) -> tuple[list[float], list[float]]:
    """(CPU ms, wall ms) of one engine call per text: what a gateway request pays, on one thread."""
    from shared.guardrails.subject import Subject

    engine.decide([Subject(id="warm", kind="gateway_request", inputs={"text": texts[0]})], policy)
    cpu, wall = [], []
    for i, t in enumerate(texts):
        s = Subject(id=f"t{i}", kind="gateway_request", inputs={"text": t})
        c0, w0 = time.process_time(), time.perf_counter()
        engine.decide([s], policy)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    return cpu, wall


def gateway_latency(n: int, policy_file, console: Console) -> Iterator[dict]:
    """The whole gateway policy, p99 CPU ms per text on one thread, beside the old checks in the same run."""
    from shared.guardrails.engine import Engine
    from shared.guardrails.policy import Policy, PolicySet, load_policies

    ps = load_policies(policy_file)
    policies = dict(ps.file.policies)
    policies["gateway-old"] = Policy.model_validate(OLD_GATEWAY)
    engine = Engine(PolicySet(ps.file.model_copy(update={"policies": policies}), ps.taxonomy, ps.source), threads=1)
    texts = gateway_texts(n)
    q = lambda xs, f: sorted(xs)[min(len(xs) - 1, int(f * len(xs)))]  # noqa: E731
    out = {}
    for name in ("gateway-old", "gateway"):
        engine.checks(name)
        cpu, wall = per_text_ms(engine, name, texts)
        out[name] = (q(cpu, 0.5), q(cpu, 0.99), q(wall, 0.99))
        console.print(f"{name}: p50 {out[name][0]:.2f} ms, p99 {out[name][1]:.2f} ms CPU per text ({len(texts)} texts)")
    new, old = out["gateway"], out["gateway-old"]
    yield figure("guardrails", "gateway_policy_p99_cpu_ms_per_text", new[1], old[1], "ms", higher_is_better=False,
                 policy="gateway", texts=len(texts), p50_ms=round(new[0], 3), wall_p99_ms=round(new[2], 3),
                 baseline_policy="gateway before issue 15 (Presidio, patterns, profanity)",
                 baseline_p50_ms=round(old[0], 3), threads=1,
                 data="shared/evaldata dev injection+toxicity+pii texts and sample-catalog menu text")  # fmt: skip


def run(
    settings: LadleSettings,
    results: int,
    fast_results: int,
    policy: str,
    fast_policy: str,
    console: Console,
    gateway_n: int = 600,
    gateway_only: bool = False,
) -> Iterator[dict]:
    from shared.guardrails.engine import Engine
    from shared.guardrails.policy import load_policies
    from workers.guardrails.settings import guardrails_settings

    gs = guardrails_settings()
    if gateway_n:
        yield from gateway_latency(gateway_n, gs.policy_file, console)
    if gateway_only:
        return
    engine = Engine(load_policies(gs.policy_file), threads=gs.threads)
    lines = []
    for name, n in ((fast_policy, fast_results), (policy, results)):
        data = make_results(n)
        engine.checks(name)
        loop_rate, cpu_rate, lat = plain_loop(engine, data, name, gs.max_batch_size)
        console.print(f"{name}: plain loop {loop_rate:,.0f} results/s ({cpu_rate:,.0f} per CPU second)")
        stream_rate = stream(settings, data, name, console)
        console.print(f"{name}: faust app  {stream_rate:,.0f} results/s")
        lines.append((name, n, loop_rate, cpu_rate, stream_rate, lat))
    (fname, fn, floop, fcpu, fstream, _), (name, n, loop, _cpu, strm, lat) = lines
    for check, xs in sorted(lat.items()):
        xs.sort()
        p50, p99 = xs[len(xs) // 2], xs[min(len(xs) - 1, int(len(xs) * 0.99))]
        yield {"bench": "guardrails", "metric": f"check_latency_ms.{check}", "value": round(p50, 4),
               "baseline": None, "ratio": None, "unit": "ms", "p50_ms": round(p50, 4), "p99_ms": round(p99, 4),
               "policy": name}  # fmt: skip
    # The goal: deterministic checks at >= 5,000 results/s on one core. The loop is single-threaded, so
    # results per CPU second is results/s per core, whatever else the machine is running.
    yield figure("guardrails", f"results_per_cpu_s.{fname}", fcpu, 5000.0, "results/s/core", policy=fname, results=fn,
                 wall_results_per_s=round(floop, 1))  # fmt: skip
    yield figure("guardrails", f"stream_vs_loop.{fname}", fstream, floop, "results/s", policy=fname, results=fn)
    # Headline: the stream's cost over the plain loop with the default policy (goal: ratio >= 0.83, i.e. <= 20%).
    yield figure("guardrails", f"stream_vs_loop.{name}", strm, loop, "results/s", policy=name, results=n)
