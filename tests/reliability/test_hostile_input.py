"""Hostile input against the real embedder and sink, each running as its own process.

Hypothesis (derandomized, a fixed number of examples) writes messages for
catalog.changes and for the sink's input topics: random bytes, JSON that is not an
object, wrong types, missing fields, numbers out of range, negative and huge
versions, unicode edge cases (lone surrogates escaped in JSON, RTL and zero-width
marks, NUL, emoji), 1 MB strings and messages near the topic's size limit, deeply
nested JSON, bad keys, tombstones and impossible timestamps. Known valid events are
interleaved.

The test decides what each message deserves with the topic's contract, not with the
workers: the schema model (with its upgrades) and the key rule of the registry, plus
what the consumer can store (the embedder needs a text to embed; the sink's tables
have fixed column types: tables.py, mirroring deploy/clickhouse). Then it checks that
exactly the refused messages are in `<topic>.dlq` (by partition and offset) and in
ClickHouse's dead_letters, that every accepted one was processed (in the index, in
ClickHouse), and that neither worker crashed.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas import (
    CatalogChange,
    CatalogEmbedded,
    CatalogItem,
    CheckOutcome,
    DeadLetter,
    EnrichmentResult,
    Event,
    GuardrailVerdict,
    LLMCall,
    PromptRef,
    Usage,
)
from shared.kafka import clients
from shared.kafka.broker import free_port
from shared.pricing import Pricing
from shared.runtime import codec
from tests.fixtures.accounts import ANALYST_AUTH
from tests.integration.kafka_helpers import read_all, wait_for
from tests.reliability.faults import LadleProcess, lag
from topics.registry import TOPICS, key_of
from workers.embedder.settings import DEFAULT_TEMPLATE
from workers.embedder.text import TextTemplate
from workers.sink.costing import RowContext
from workers.sink.inputs import sink_topics
from workers.sink.tables import CATALOG_EMBEDDED, TOPIC_TABLES

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

PER_KIND = 9  # hypothesis messages of each kind (~150); one known valid event follows every third
TARGETS = ("catalog.changes", "llm.calls", "enrichment.results", "guardrail.verdicts", "catalog.embedded")
STRINGS = {
    "catalog.changes": ["item.name", "item.description", "item.store_id", "item.category", "item.cuisine",
                        "item.tags.0", "item.attributes.spice", "source", "trace_id"],
    "llm.calls": ["team", "use_case", "model", "deployment", "provider", "error", "request_body", "response_body",
                  "fallback_chain.0", "prompt.name", "trace_id"],
    "enrichment.results": ["task", "raw_output", "item_text", "engine", "model", "output.tags.0", "prompt.name"],
    "guardrail.verdicts": ["policy", "policy_version", "team", "use_case", "checks.0.check", "checks.0.detail"],
    "catalog.embedded": ["model", "collection", "content_hash"],
}  # fmt: skip
NUMBERS = {
    "catalog.changes": ["version", "item.price", "schema_version"],
    "llm.calls": ["latency_ms", "ttft_ms", "cost_usd", "usage.input_tokens", "usage.output_tokens", "prompt.version",
                  "schema_version"],
    "enrichment.results": ["item_version", "latency_ms", "cost_usd", "usage.cached_input_tokens", "attempts",
                           "prompt.version", "schema_version"],
    "guardrail.verdicts": ["latency_ms", "checks.0.score", "checks.0.latency_ms", "schema_version"],
    "catalog.embedded": ["version", "freshness_ms", "schema_version"],
}  # fmt: skip
EDGE_NUMBERS = [-1, -(2**63), 2**53 + 1, 2**63 - 1, 2**64, 2**70, 10**30, -1e308, 1e308, 5e-324, -0.0, 0.125,
                float("inf"), float("-inf"), float("nan")]  # fmt: skip
VERSIONS = [-1, 0, 1, 2, 3, 255, 65_535, 65_536, 2**31, 2**63 - 1, 2**64, 2**70]
WEIRD = ["\u202e", "\u200f", "\u200b", "\u200d", "\ufeff", "\x00", "\x1b[31m", "👩‍👩‍👧", "🍕", "e\u0301", "\u0627\u0644\u0639",
         "\U0001d54f", "\ue000", "\n\t", '"', "\\", "'; DROP TABLE llm_calls; --", "\u00a0", "\u2028"]  # fmt: skip
SURROGATES = ["\\ud800", "\\udbff", "\\udc00", "\\udfff", "\\ud800\\ud800", "\\udfff\\ud800"]
TIMESTAMPS = ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2105-12-31T23:59:59Z",
              "2106-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2024-02-30T00:00:00Z", "yesterday", 1e20, -1,
              1_700_000_000]  # fmt: skip
KINDS = ["random_bytes", "json_not_object", "wrong_type", "missing_field", "number", "version", "unicode",
         "lone_surrogate", "huge", "deep", "bad_key", "tombstone", "timestamp", "old_schema", "weird_id",
         "extra_fields", "delete"]  # fmt: skip

TEMPLATE = TextTemplate(DEFAULT_TEMPLATE)
PRICING = Pricing.load()


# -- what hypothesis draws ---------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    topic: str
    kind: str
    params: tuple


weird_text = st.lists(
    st.one_of(st.sampled_from(WEIRD), st.text(st.characters(codec="utf-8"), min_size=1, max_size=4)),
    min_size=1,
    max_size=6,
).map("".join)
junk = st.one_of(
    st.integers(),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@st.composite
def recipe(draw, kind: str) -> Recipe:
    topic = draw(st.sampled_from(TARGETS))
    ascii_only = draw(st.booleans())
    strings, numbers = STRINGS[topic], NUMBERS[topic]
    if kind == "random_bytes":
        params = (draw(st.binary(max_size=256)),)
    elif kind == "json_not_object":
        params = (draw(st.one_of(junk, st.floats(allow_nan=False))),)
    elif kind == "wrong_type":
        params = (draw(st.sampled_from(strings + numbers)), draw(junk))
    elif kind == "missing_field":
        params = (draw(st.integers(0, 50)),)  # which top-level field, modulo their number
    elif kind == "number":
        params = (draw(st.sampled_from(numbers)), draw(st.sampled_from(EDGE_NUMBERS)))
    elif kind == "version":
        params = (draw(st.sampled_from(["schema_version", numbers[0]])), draw(st.sampled_from(VERSIONS)))
    elif kind in ("unicode", "lone_surrogate"):
        what = weird_text if kind == "unicode" else st.sampled_from(SURROGATES)
        params = (draw(st.sampled_from(strings)), draw(what))
    elif kind == "huge":
        size = draw(st.sampled_from(["1MB", "near_max"]))
        params = (draw(st.sampled_from(strings)), size, draw(st.sampled_from(["x", "é", "🍕"])))
    elif kind == "deep":
        params = (draw(st.sampled_from([8, 150, 199, 201, 256, 600, 3000, 20_000])), draw(st.sampled_from("[{")))
    elif kind == "bad_key":
        params = (draw(st.sampled_from(["none", "not_utf8", "surrogate_bytes", "mismatch", "empty"])),)
    elif kind == "timestamp":
        where = ["occurred_at", "embedded_at"] if topic == "catalog.embedded" else ["occurred_at"]
        params = (draw(st.sampled_from(where)), draw(st.sampled_from(TIMESTAMPS)))
    elif kind in ("weird_id", "extra_fields"):
        params = (draw(weird_text),)
    else:  # tombstone, old_schema, delete
        params = ()
    return Recipe(topic, kind, (ascii_only, *params))


def draw_recipes(kind: str, n: int) -> list[Recipe]:
    """Up to n recipes of one kind (fewer when the kind has fewer distinct ones)."""
    drawn: list[Recipe] = []

    @hsettings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(recipe(kind))
    def collect(r: Recipe) -> None:
        drawn.append(r)

    collect()
    return drawn


# -- turning a recipe into a message -----------------------------------------------


def base_event(topic: str, ident: str) -> Event:
    if topic == "catalog.changes":
        item = CatalogItem(item_id=ident, store_id="st-hostile", name=f"Dish {ident}", description="Slow-cooked.",
                           category="mains", cuisine="thai", price=Decimal("9.99"), tags=["hostile"],
                           attributes={"spice": "mild"})  # fmt: skip
        return CatalogChange(op="upsert", item_id=ident, version=1, item=item)
    prompt, usage = PromptRef(name="tag", version=1), Usage(input_tokens=30, output_tokens=5)
    if topic == "llm.calls":
        return LLMCall(call_id=ident, team="catalog", use_case="tagging", model="m", deployment="d", provider="p",
                       prompt=prompt, usage=usage, latency_ms=5, ttft_ms=1, cost_usd=0.001, fallback_chain=["d"],
                       error="", request_body="q", response_body="a")  # fmt: skip
    if topic == "enrichment.results":
        return EnrichmentResult(item_id=ident, item_version=1, task="tag", output={"tags": ["vegan"]}, raw_output="{}",
                                item_text="Dish", engine="llamacpp", model="m", prompt=prompt, usage=usage,
                                latency_ms=5, cost_usd=0.001)  # fmt: skip
    if topic == "guardrail.verdicts":
        check = CheckOutcome(check="schema", passed=True, score=0.5, detail="ok", latency_ms=1)
        return GuardrailVerdict(subject_id=ident, policy="tagging", policy_version="1", action="accept",
                                latency_ms=1, team="catalog", use_case="tagging", checks=[check])  # fmt: skip
    return CatalogEmbedded(op="upsert", item_id=ident, version=1, model="m", collection="c", freshness_ms=1.0,
                           embedded_at=datetime.now(UTC))  # fmt: skip


def set_path(doc: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if node is None:
            return
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def dumps(doc, ascii_only: bool) -> bytes:
    return json.dumps(doc, ensure_ascii=ascii_only).encode()


def build(r: Recipe, index: int) -> tuple[bytes | None, bytes | None]:
    """(key, value) of message `index` made from recipe `r`; ids are unique per message."""
    ascii_only, *p = r.params
    ident = f"hx-{index:04d}"
    if r.kind == "weird_id":
        ident = f"{p[0][:60]}-{index:04d}"
    doc = json.loads(codec.encode(base_event(r.topic, ident)))
    key: bytes | None = ident.encode()
    if r.kind == "random_bytes":
        return key, p[0]
    if r.kind == "json_not_object":
        return key, dumps(p[0], ascii_only)
    if r.kind == "tombstone":
        return key, None
    if r.kind in ("wrong_type", "number", "version", "unicode", "timestamp"):
        set_path(doc, p[0], p[1])
    elif r.kind == "missing_field":
        del doc[sorted(doc)[p[0] % len(doc)]]
    elif r.kind == "extra_fields":
        doc.update(zz_unknown=[1, {"a": p[0]}], zz_future={"field": p[0]})
    elif r.kind == "old_schema" and r.topic == "catalog.changes":
        doc = {"op": "upsert", "item_id": ident, "version": 1, "schema_version": 1, "name": f"Old {ident}",
               "store_id": "st-hostile", "price": 3.5}  # fmt: skip
    elif r.kind == "delete" and r.topic == "catalog.changes":
        doc = {"op": "delete", "item_id": ident, "version": 2}
    elif r.kind == "bad_key":
        key = {"none": None, "not_utf8": b"\xff\xfe" + key, "surrogate_bytes": b"\xed\xa0\x80", "mismatch": b"other",
               "empty": b""}[p[0]]  # fmt: skip
    elif r.kind == "lone_surrogate":
        set_path(doc, p[0], "@@HERE@@")
        return key, dumps(doc, ascii_only).replace(b"@@HERE@@", f"x{p[1]}y".encode())
    elif r.kind == "huge":
        field_, size, char = p
        set_path(doc, field_, "@@HERE@@")
        text = dumps(doc, ascii_only)
        budget = 1_000_000 if size == "1MB" else TOPICS[r.topic].max_message_bytes - 4096 - len(text)
        one = json.dumps(char, ensure_ascii=ascii_only)[1:-1].encode()  # the char as it is written in the JSON
        return key, text.replace(b"@@HERE@@", one * (budget // len(one)))
    elif r.kind == "deep":
        depth, opener = p
        nested = "[" * depth + "]" * depth if opener == "[" else '{"a":' * depth + "1" + "}" * depth
        return key, dumps(doc, ascii_only)[:-1] + b', "zz_nested": ' + nested.encode() + b"}"
    return key, dumps(doc, ascii_only)


# -- what each message deserves ------------------------------------------------------


def storable(topic: str, event: Event) -> bool:
    """Whether the sink's table for the topic can hold the event (column types, DateTime64 range)."""
    table = CATALOG_EMBEDDED if topic == "catalog.embedded" else TOPIC_TABLES[topic]
    try:
        table.to_arrow([table.to_row(event, RowContext(topic, PRICING))])
    except Exception:  # noqa: BLE001 - any refusal: the sink dead-letters the record
        return False
    return True


def judge(topic: str, key: bytes | None, value: bytes | None) -> tuple[bool, str, Event | None]:
    """(accepted, why not, the event): the topic's contract, decided without the workers."""
    spec = TOPICS[topic]
    if value is None:
        return False, "tombstone", None
    if key is None:
        return False, "no key", None
    try:
        skey = key.decode("utf-8")
    except UnicodeDecodeError:
        return False, "key is not UTF-8", None
    try:
        event = spec.value_model.from_json(value)
    except (ValidationError, ValueError, TypeError, RecursionError) as exc:
        return False, type(exc).__name__, None
    if key_of(spec, event) != skey:
        return False, "key differs from the value's", None
    if topic == "catalog.changes":
        if event.op == "upsert" and not TEMPLATE.render(event.item):
            return False, "no text to embed", event
        return True, "", event
    if not storable(topic, event):
        return False, "the table's columns cannot hold it", event
    return True, "", event


@dataclass
class Message:
    index: int
    topic: str
    kind: str
    key: bytes | None
    value: bytes | None
    accepted: bool = False
    why: str = ""
    event: Event | None = None
    partition: int = -1
    offset: int = -1


def hash_of(r: Recipe) -> str:
    import hashlib

    return hashlib.sha256(repr(r).encode()).hexdigest()


def messages() -> list[Message]:
    out: list[Message] = []
    recipes = [r for kind in KINDS for r in draw_recipes(kind, PER_KIND)]
    for r in sorted(recipes, key=lambda r: hash_of(r)):  # kinds interleaved, in a fixed order
        i = len(out)
        out.append(Message(i, r.topic, r.kind, *build(r, i)))
        if len(out) % 4 == 3:  # a known valid event after every third hostile one
            i, topic = len(out), TARGETS[len(out) // 4 % len(TARGETS)]
            out.append(Message(i, topic, "known", f"known-{i:04d}".encode(), codec.encode(base_event(topic, f"known-{i:04d}"))))  # fmt: skip
    for m in out:
        m.accepted, m.why, m.event = judge(m.topic, m.key, m.value)
    return out


def produce_tracked(settings, msgs: list[Message]) -> None:
    """Produce in order, recording where each message landed."""
    p = clients.producer(settings)
    errors = []

    def delivered(m: Message):
        def cb(err, msg):
            if err is not None:
                errors.append(f"{m.index}: {err}")
            else:
                m.partition, m.offset = msg.partition(), msg.offset()

        return cb

    for m in msgs:
        clients.produce_waiting(p, settings.topic_prefix + m.topic, m.value, m.key, on_delivery=delivered(m))
    assert p.flush(120) == 0 and errors == []


# -- the test -------------------------------------------------------------------------------


def sql(api: str, query: str) -> list[list]:
    resp = httpx.post(f"{api}/query", json={"sql": query}, timeout=60, auth=ANALYST_AUTH)
    resp.raise_for_status()
    return resp.json()["rows"]


def test_hostile_messages_are_dead_lettered_exactly_and_valid_ones_processed_without_a_crash(settings, topics, env):
    msgs = messages()
    by_topic = defaultdict(list)
    for m in msgs:
        by_topic[m.topic].append(m)
    # the generator covers every kind of hostility, and both outcomes on every topic
    assert {m.kind for m in msgs} == {*KINDS, "known"}
    assert all({m.accepted for m in ms} == {True, False} for ms in by_topic.values())
    assert any(m.accepted and m.kind == "unicode" for m in msgs), "a valid-but-weird event is in the mix"

    run = uuid.uuid4().hex[:6]
    sink_port = free_port()
    api = f"http://127.0.0.1:{sink_port}"
    embedder_group, sink_group = f"{settings.topic_prefix}embedder-{run}", f"{settings.topic_prefix}sink-{run}"
    common = dict(env, HF_HUB_OFFLINE="1")
    embedder = LadleProcess(
        dict(common, LADLE_EMBEDDER_GROUP_ID=embedder_group, LADLE_EMBEDDER_API_PORT="0",
             LADLE_EMBEDDER_COMMIT_INTERVAL_S="1", LADLE_EMBEDDER_MAX_BATCH_WAIT_S="0.1"),
        settings.data_dir.parent / "embedder.log", "worker", "embedder",
    )  # fmt: skip
    sink = LadleProcess(
        dict(common, LADLE_SINK_GROUP_ID=sink_group, LADLE_SINK_API_PORT=str(sink_port),
             LADLE_SINK_MAX_BATCH_WAIT_S="0.1"),
        settings.data_dir.parent / "sink.log", "worker", "sink",
    )  # fmt: skip
    procs = (embedder, sink)
    try:
        produce_tracked(settings, msgs)

        def settled() -> bool:
            assert all(p.alive() for p in procs), "\n".join(p.tail() for p in procs)
            if lag(settings, embedder_group, "catalog.changes") != 0:
                return False
            return all(lag(settings, sink_group, t) == 0 for t in sink_topics())

        assert wait_for(settled, 300, 1.0), "\n".join(p.tail() for p in procs)
        landed = {t: {r[0] for r in sql(api, f"SELECT event_id FROM {TOPIC_TABLES[t].table}")} for t in TARGETS[1:]}
        letters = sql(api, "SELECT dlq_topic, original_partition, original_offset, original_key FROM dead_letters")
        embedded_items = sql(api, "SELECT item_id FROM catalog_embedded")
        assert all(p.alive() for p in procs), "\n".join(p.tail() for p in procs)
    finally:
        codes = [p.stop() for p in procs]
    assert codes == [0, 0], "\n".join(p.tail() for p in procs)

    # 1. exactly the refused messages are in <topic>.dlq, each once
    produced_embedded = by_topic["catalog.embedded"]
    for topic in TARGETS:
        dead = [DeadLetter.model_validate_json(m.value()) for m in read_all(settings, topic + ".dlq")]
        where = sorted((d.original_partition, d.original_offset) for d in dead)
        refused = sorted((m.partition, m.offset) for m in by_topic[topic] if not m.accepted)
        if topic == "catalog.embedded":  # also the embedder's announcements its table cannot hold
            direct = {(m.partition, m.offset) for m in produced_embedded}
            from_embedder = sorted(
                d.original_key for d in dead if (d.original_partition, d.original_offset) not in direct
            )
            where = [w for w in where if w in direct]
            too_big = sorted(m.key.decode() for m in by_topic["catalog.changes"] if m.accepted and not announceable(m.event))  # fmt: skip
            assert from_embedder == too_big
        assert where == refused, f"{topic}: {len(where)} dead letters, {len(refused)} refused messages"

    # 2. and the dead letters landed in ClickHouse, each once
    by_dlq = defaultdict(list)
    for dlq_topic, partition, offset, key in letters:
        by_dlq[dlq_topic].append((partition, offset, key))
    for topic in TARGETS:
        expected = sum(not m.accepted for m in by_topic[topic])
        if topic == "catalog.embedded":
            expected += sum(1 for m in by_topic["catalog.changes"] if m.accepted and not announceable(m.event))
        assert len(by_dlq[topic + ".dlq"]) == expected, topic
    assert set(by_dlq) <= {t + ".dlq" for t in TARGETS}

    # 3. every accepted event was processed: in ClickHouse ...
    for topic in ("llm.calls", "enrichment.results", "guardrail.verdicts"):
        assert landed[topic] == {m.event.event_id for m in by_topic[topic] if m.accepted}, topic
    # catalog_embedded: the direct events, and the embedder's announcement of every accepted change
    announced = {m.event.item_id for m in by_topic["catalog.changes"] if m.accepted and announceable(m.event)}
    direct = {m.event.item_id for m in produced_embedded if m.accepted}
    assert sorted(r[0] for r in embedded_items) == sorted(announced | direct)
    assert {m.event.event_id for m in produced_embedded if m.accepted} <= landed["catalog.embedded"]
    assert len(landed["catalog.embedded"]) == len(announced) + len(direct)
    for m in msgs:
        if m.kind == "known":
            assert m.accepted

    # ... and in the index
    from tests.integration.test_embedder import reopen
    from workers.embedder.collections import EdgeCollections

    changes = [m.event for m in by_topic["catalog.changes"] if m.accepted]
    store = reopen(EdgeCollections(settings.data_dir / "embedder"))
    try:
        states = store.states([c.item_id for c in changes])
        assert store.count() == sum(c.op == "upsert" for c in changes)
    finally:
        store.close()
    assert set(states) == {c.item_id for c in changes}
    for c in changes:
        assert states[c.item_id].deleted == (c.op == "delete"), c.item_id
        if c.version < 2**64:  # above, Qdrant's payload keeps a float
            assert states[c.item_id].version == c.version, c.item_id


def announceable(change: CatalogChange) -> bool:
    """Whether the embedder's CatalogEmbedded for this change fits the sink's catalog_embedded table."""
    event = CatalogEmbedded(op=change.op, item_id=change.item_id, version=change.version, model="m",
                            collection="c", freshness_ms=0.0, embedded_at=datetime.now(UTC))  # fmt: skip
    return storable("catalog.embedded", event)


def test_the_dead_letter_of_any_message_fits_its_dlq():
    import base64
    import random

    doc = json.loads(codec.encode(base_event("llm.calls", "big-trace")))
    trace = base64.b64encode(random.Random(8).randbytes(740_000)).decode()  # lz4 cannot shrink it
    doc.update(occurred_at="0001-01-01T00:00:00Z", trace_id=trace)  # valid, yet no DateTime64 holds it
    raw = json.dumps(doc).encode()
    assert len(raw) < TOPICS["llm.calls"].max_message_bytes
    accepted, why, event = judge("llm.calls", b"big-trace", raw)
    assert (accepted, why) == (False, "the table's columns cannot hold it")
    letter = codec.dead_letter(topic="llm.calls", partition=0, offset=0, key="big-trace", raw=raw,
                               exc=ValueError(why), worker="sink", trace_id=event.trace_id)  # fmt: skip
    assert len(codec.encode(letter)) <= TOPICS["llm.calls.dlq"].max_message_bytes
