"""Row mapping, Arrow conversion and the sink's buffering, without a store."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from schemas import DeadLetter, LLMCall, PromptRef, Usage
from shared.pricing import Pricing
from shared.runtime.errors import Backpressure, BadMessage, FatalError
from shared.runtime.worker import Record
from tests.fixtures.sink_events import sample_events
from workers.sink import costing, rows, tables
from workers.sink.inputs import sink_topics
from workers.sink.worker import ClickHouseSink

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)


def record(topic, event, offset=0) -> Record:
    return Record(topic=topic, partition=0, offset=offset, key=None, value=event, raw=b"")


class FakeStore:
    """Records what the sink asks of a store; `fail` makes the first call raise it."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, object]] = []
        self.fail = fail

    def _call(self, kind, arg):
        if self.fail is not None:
            raise self.fail
        self.calls.append((kind, arg))

    def command(self, sql, parameters=None):
        self._call("command", sql)

    def insert_arrow(self, table, data):
        self._call("insert", (table, data.num_rows))

    def scalar(self, sql, parameters=None):
        self._call("scalar", sql)
        return 0


@pytest.fixture(scope="module")
def pricing() -> Pricing:
    return Pricing.load()


def test_every_sample_event_maps_to_a_row_of_its_table_and_converts_to_arrow(pricing):
    by_table: dict[str, list[tuple]] = {}
    for topic, event in sample_events(NOW):
        spec = tables.table_for(topic)
        row = spec.to_row(event, costing.RowContext(topic, pricing))
        assert len(row) == len(spec.columns), spec.table
        by_table.setdefault(spec.table, []).append(row)
    assert {t: len(r) for t, r in by_table.items()} == {
        "llm_calls": 10, "enrichment_results": 3, "guardrail_verdicts": 4, "guarded_results": 3,
        "catalog_embedded": 6, "dead_letters": 3, "eval_runs": 1, "eval_items": 2,
        "review_decisions": 1,
        "finetune_jobs": 2,
    }  # fmt: skip
    for spec in tables.TABLES:
        data = spec.to_arrow(by_table[spec.table])
        assert data.schema.names == spec.names
        assert data.num_rows == len(by_table[spec.table])


def test_routing_sends_every_dlq_to_dead_letters():
    assert tables.table_for("llm.calls").table == "llm_calls"
    assert tables.table_for("enrichment.review").table == "guarded_results"
    assert tables.table_for("catalog.changes.dlq").table == "dead_letters"
    assert tables.table_for("catalog.changes") is None
    topics = sink_topics()
    assert "llm.calls.dlq" in topics and "enrichment.results" in topics and "catalog.changes" not in topics


def test_cost_rules(pricing):
    ctx = costing.RowContext("llm.calls", pricing)
    u = Usage(input_tokens=1000, output_tokens=200)
    assert costing.cost(ctx, "gpt-4o-mini", u, 0.25, "gw-7") == (0.25, "event", "gw-7")
    assert costing.cost(ctx, "gpt-4o-mini", u, None, None, cache_hit=True) == (0.0, "cache", "")
    assert costing.cost(ctx, "gpt-4o-mini", u, None, None) == (0.00027, "pricing", pricing.version)
    assert costing.cost(ctx, "who-knows", u, None, None) == (0.0, "unpriced", pricing.version)
    assert costing.cost(costing.RowContext("llm.calls"), "gpt-4o-mini", u, None, None) == (0.0, "unpriced", "")


def test_llm_call_row_values(pricing):
    call = LLMCall(call_id="c1", model="gpt-4o-mini", provider="openai", team="t", use_case="u",
                   prompt=PromptRef(name="p", version=4, label="prod"), usage=Usage(input_tokens=1000, output_tokens=200),
                   latency_ms=12.5, fallback_chain=["a", "b"], occurred_at=NOW, trace_id="tr")  # fmt: skip
    row = dict(
        zip(tables.LLM_CALLS.names, rows.llm_call_row(call, costing.RowContext("llm.calls", pricing)), strict=True)
    )
    assert row["event_id"] == call.event_id and row["trace_id"] == "tr"
    assert (row["prompt_name"], row["prompt_version"], row["prompt_label"]) == ("p", 4, "prod")
    assert (row["cost_usd"], row["cost_source"]) == (0.00027, "pricing")
    assert row["ttft_ms"] is None and row["request_body"] is None and row["error"] == ""
    money = tables.LLM_CALLS.to_arrow([tuple(row.values())]).column("cost_usd")
    assert money.type == pa.decimal128(18, 9) and money[0].as_py() == Decimal("0.000270000")


def test_output_split_into_tags_attributes_and_json():
    assert rows.split_output({"tags": ["a", "b"], "cuisine": "thai", "n": 2}) == (
        ["a", "b"], {"cuisine": "thai", "n": "2"}, '{"cuisine": "thai", "n": 2, "tags": ["a", "b"]}',
    )  # fmt: skip
    assert rows.split_output({"tags": {"diet": "vegan"}})[0] == ["diet:vegan"]
    assert rows.split_output({}) == ([], {}, "{}")


def test_timestamps_outside_datetime_range_are_refused_and_naive_ones_are_utc():
    with pytest.raises(ValueError, match="outside"):
        rows.ts(datetime(1900, 1, 1, tzinfo=UTC))
    assert rows.ts(datetime(2025, 1, 1)).tzinfo is UTC


def test_process_batch_dead_letters_only_the_bad_records(pricing):
    sink = ClickHouseSink(FakeStore(), pricing)
    good = LLMCall(call_id="ok", model="m", provider="p", occurred_at=NOW)
    bad_arrow = LLMCall(call_id="neg", model="m", provider="p", occurred_at=NOW, prompt=PromptRef(name="x", version=-1))
    bad_time = DeadLetter(original_topic="t", error_class="E", error_message="m", occurred_at=datetime(1800, 1, 1))
    result = sink.process_batch([
        record("llm.calls", good), record("llm.calls", bad_arrow, 1), record("llm.calls.dlq", bad_time, 2),
        record("catalog.changes", good, 3),
    ])  # fmt: skip
    assert [f.record.offset for f in result.failed] == [2, 3, 1]
    assert isinstance(result.failed[1].error, BadMessage)
    assert sink.pending_rows() == 1


def test_duplicates_inside_pending_rows_are_dropped_before_staging(pricing):
    store = FakeStore()
    sink = ClickHouseSink(store, pricing)
    batch = [record(t, e, i) for i, (t, e) in enumerate(sample_events(NOW))]
    sink.process_batch(batch)
    sink.process_batch(batch)
    assert sink.pending_rows() == len(batch) == 35
    sink.flush()
    inserts = dict(arg for kind, arg in store.calls if kind == "insert")
    assert inserts["_ladle_stage_llm_calls"] == 10 and sum(inserts.values()) == 35
    assert sink.pending_rows() == 0


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OperationalError("connection refused"), Backpressure),
        (DatabaseError("Too many parts", code=252), Backpressure),
        (DatabaseError("No such column", code=16), FatalError),
    ],
)
def test_flush_failures_become_backpressure_or_fatal_and_drop_the_buffer(pricing, error, expected):
    sink = ClickHouseSink(FakeStore(fail=error), pricing)
    sink.process_batch([record("llm.calls", LLMCall(call_id="x", model="m", provider="p", occurred_at=NOW))])
    with pytest.raises(expected):
        sink.flush()
    assert sink.pending_rows() == 0  # the runtime replays the batch
