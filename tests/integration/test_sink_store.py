"""The sink against a real ClickHouse: embedded chDB in a temporary folder, or the
server at LADLE_CLICKHOUSE_URL when set (the same tests for both stores).

chDB opens one data folder per process, so every test here shares one folder
for the whole session and gets its own database in it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from clickhouse_connect.driver.exceptions import OperationalError

from shared.pricing import Pricing
from shared.runtime.errors import Backpressure, UserError
from shared.runtime.worker import Record
from tests.fixtures.sink_events import sample_events
from tests.integration.conftest import open_store
from workers.sink.migrations import MIGRATIONS_TABLE, migrate
from workers.sink.queries import ANALYST_QUESTIONS
from workers.sink.readonly import run_readonly
from workers.sink.reports import run_report
from workers.sink.settings import SinkSettings
from workers.sink.store import ClickHouseStore
from workers.sink.worker import ClickHouseSink

pytestmark = pytest.mark.integration

RAW_COUNTS = {"llm_calls": 10, "enrichment_results": 3, "guarded_results": 3, "guardrail_verdicts": 4,
              "catalog_embedded": 6, "dead_letters": 3, "eval_runs": 1, "eval_items": 2, "review_decisions": 1,
              "finetune_jobs": 2}  # fmt: skip
# Everything the views say about the sample, worked out by hand (see sample.py).
SAMPLE_AGGREGATES = {
    "cost": (10, 1, 1, 5710, 1260, 1000, Decimal("0.503438334")),
    "cache": (10, 1, 1, 7, 1),
    "latency": (10, 650.0, 155.0),
    "guardrail_actions": (4, 23.0),
    "guardrail_checks": (9, 4),
    "freshness": (6, 1, 250.0, 500.0),
    "dead_letters": (3, 230),
}


@pytest.fixture(scope="session")
def pricing() -> Pricing:
    return Pricing.load()


QUESTIONS_BY_ID = {q.id: q for q in ANALYST_QUESTIONS}


@pytest.fixture(scope="module")
def landed(chdb_root, pricing):
    """One store with the sample landed once, for the read-only questions."""
    s = open_store(chdb_root)
    land(ClickHouseSink(s, pricing), records())
    yield s
    s.command(f"DROP DATABASE IF EXISTS `{s.database}`")
    s.close()


def records(events=None) -> list[Record]:
    events = events if events is not None else sample_events()
    return [Record(topic=t, partition=0, offset=i, key=None, value=e, raw=b"") for i, (t, e) in enumerate(events)]


def land(sink: ClickHouseSink, batch: list[Record]) -> None:
    result = sink.process_batch(batch)
    assert result.failed == []
    sink.flush()


def raw_counts(store) -> dict[str, int]:
    """Physical rows (no FINAL): a duplicate that reached a table would show here."""
    return {t: store.scalar(f"SELECT count() FROM {t}") for t in RAW_COUNTS}


def aggregates(store) -> dict[str, tuple]:
    q = lambda sql: store.query(sql)[1][0]  # noqa: E731
    return {
        "cost": q("SELECT sum(calls), sum(errors), sum(unpriced_calls), sum(input_tokens), sum(output_tokens), "
                  "sum(cached_input_tokens), sum(cost_usd) FROM cost_daily"),
        "cache": q("SELECT sum(calls), sum(exact_hits), sum(semantic_hits), sum(misses), sum(bypassed) FROM cache_daily"),
        "latency": q("SELECT sum(calls), quantilesMerge(0.5, 0.9, 0.95, 0.99)(latency_ms_q)[1], "
                     "quantilesMerge(0.5, 0.9, 0.95, 0.99)(ttft_ms_q)[1] FROM latency_hourly"),
        "guardrail_actions": q("SELECT sum(verdicts), sum(latency_ms_sum) FROM guardrail_actions_daily"),
        "guardrail_checks": q("SELECT sum(evaluated), sum(failed) FROM guardrail_checks_daily"),
        "freshness": q("SELECT sum(events), sum(skipped), quantilesMerge(0.5, 0.9, 0.95, 0.99)(freshness_ms_q)[1], "
                       "max(freshness_ms_max) FROM freshness_hourly"),
        "dead_letters": q("SELECT sum(letters), sum(raw_bytes) FROM dead_letters_daily"),
    }  # fmt: skip


def assert_rows(actual: list[tuple], expected: list[tuple]) -> None:
    assert len(actual) == len(expected), actual
    for got_row, want_row in zip(actual, expected, strict=True):
        assert len(got_row) == len(want_row), got_row
        for got, want in zip(got_row, want_row, strict=True):
            if isinstance(want, float) and math.isnan(want):
                assert math.isnan(got), got_row
            elif isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-12, abs=1e-12), got_row
            else:
                assert got == want, got_row


# -- schema -----------------------------------------------------------------


def test_migrate_is_idempotent_and_records_versions(store):
    assert migrate(store) == []
    versions = [v for (v,) in store.query(f"SELECT version FROM {MIGRATIONS_TABLE} FINAL ORDER BY version")[1]]
    assert versions == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_body_ttl_follows_the_setting(store):
    migrate(store, body_ttl_days=7)
    create = store.scalar(
        "SELECT create_table_query FROM system.tables WHERE database = %(d)s AND name = 'llm_calls'",
        {"d": store.database},
    )
    assert "`request_body` Nullable(String) TTL toDateTime(occurred_at) + toIntervalDay(7)" in create
    assert "toIntervalDay(30)" not in create


def test_tables_have_typed_columns_monthly_partitions_and_sorting_keys(store):
    types = dict(store.query(
        "SELECT concat(table, '.', name), type FROM system.columns WHERE database = %(d)s", {"d": store.database}
    )[1])  # fmt: skip
    assert types["llm_calls.occurred_at"] == "DateTime64(3, 'UTC')"
    assert types["llm_calls.team"] == "LowCardinality(String)"
    assert types["llm_calls.cost_usd"] == "Decimal(18, 9)"
    assert types["llm_calls.fallback_chain"] == "Array(LowCardinality(String))"
    assert types["llm_calls.ttft_ms"] == "Nullable(Float64)"
    assert types["enrichment_results.attributes"] == "Map(LowCardinality(String), String)"
    assert types["latency_hourly.latency_ms_q"] == "AggregateFunction(quantiles(0.5, 0.9, 0.95, 0.99), Float64)"
    keys = {t: (p, s) for t, p, s in store.query(
        "SELECT name, partition_key, sorting_key FROM system.tables WHERE database = %(d)s", {"d": store.database}
    )[1]}  # fmt: skip
    for table in RAW_COUNTS:
        assert keys[table][0] == "toYYYYMM(occurred_at)" and keys[table][1].endswith("event_id"), table
    assert keys["llm_calls"][1] == "team, use_case, toDate(occurred_at), model, event_id"


# -- landing ----------------------------------------------------------------


def test_events_of_every_topic_land_in_their_tables(store, pricing):
    land(ClickHouseSink(store, pricing), records())
    assert raw_counts(store) == RAW_COUNTS
    call = store.query(
        "SELECT team, cost_usd, cost_source, pricing_version, ttft_ms, request_body, fallback_chain, occurred_at "
        "FROM llm_calls FINAL WHERE call_id = 'c1'"
    )[1][0]
    assert call[:7] == (
        "search",
        Decimal("0.00027"),
        "pricing",
        pricing.version,
        100.0,
        "rewrite: vegan pho",
        ["openai-mini"],
    )
    assert call[7].replace(tzinfo=UTC) == sample_events()[0][1].occurred_at
    result = store.query(
        "SELECT tags, attributes, output_json, raw_output, cost_usd FROM enrichment_results FINAL WHERE item_id = 'i1'"
    )[1][0]
    # unguarded LLM text never lands: it arrives redacted on enrichment.accepted|review|rejected
    assert result == (["vegan", "spicy"], {}, "", "", Decimal("0.000027778"))
    guarded = store.query("SELECT attributes FROM guarded_results FINAL WHERE item_id = 'i1'")[1][0]
    assert guarded == ({"cuisine": "thai"},)
    routes = store.query("SELECT item_id, route, action, failed_checks FROM guarded_results FINAL ORDER BY item_id")[1]
    assert routes == [("i1", "accepted", "accept", []), ("i2", "review", "review", ["injection", "allowed_tags"]),
                      ("i3", "rejected", "reject", ["injection"])]  # fmt: skip
    checks = store.query(
        "SELECT check_names, check_passed, check_scores FROM guardrail_verdicts FINAL WHERE action = 'reject'"
    )[1]
    assert checks == [(["schema", "injection"], [True, False], [None, 0.97])]
    assert store.scalar("SELECT countIf(skipped) FROM catalog_embedded FINAL") == 1
    assert aggregates(store) == SAMPLE_AGGREGATES


def test_dead_letters_land_with_their_dlq_topic(store, pricing):
    land(ClickHouseSink(store, pricing), records())
    rows = store.query(
        "SELECT dlq_topic, original_topic, original_offset, error_class, raw_value_b64, raw_size "
        "FROM dead_letters FINAL ORDER BY original_topic, original_offset"
    )[1]
    assert rows == [
        ("enrichment.results.dlq", "enrichment.results", 5, "JSONDecodeError", "", 30),
        ("llm.calls.dlq", "llm.calls", 10, "ValidationError", "e30=", 120),
        ("llm.calls.dlq", "llm.calls", 11, "ValidationError", "", 80),
    ]


def test_replaying_everything_twice_changes_nothing(store, pricing):
    sink = ClickHouseSink(store, pricing)
    batch = records()
    land(sink, batch + batch)  # a duplicate inside one batch
    land(sink, batch)  # and a whole replayed batch
    assert raw_counts(store) == RAW_COUNTS
    assert aggregates(store) == SAMPLE_AGGREGATES


def test_crash_after_insert_before_commit_replays_without_double_counting(store, pricing):
    batch = records()
    first = ClickHouseSink(store, pricing)
    land(first, batch[:15])  # landed, but the process dies before the offsets are committed
    restarted = ClickHouseSink(store, pricing)
    land(restarted, batch)  # the runtime replays from the last committed offset
    assert raw_counts(store) == RAW_COUNTS
    assert aggregates(store) == SAMPLE_AGGREGATES


class FlakyStore:
    """The real store, except that the n-th insert into a staging table fails like a dropped connection."""

    def __init__(self, store: ClickHouseStore, fail_on: int) -> None:
        self._store, self._left = store, fail_on

    def insert_arrow(self, table, data):
        self._left -= 1
        if self._left == 0:
            raise OperationalError("connection reset by peer")
        self._store.insert_arrow(table, data)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_crash_half_way_through_a_flush_replays_without_double_counting(store, pricing):
    batch = records()
    sink = ClickHouseSink(FlakyStore(store, fail_on=3), pricing)  # two tables land, the third fails
    sink.process_batch(batch)
    with pytest.raises(Backpressure):
        sink.flush()
    assert 0 < sum(raw_counts(store).values()) < sum(RAW_COUNTS.values())
    land(sink, batch)  # the runtime seeks back and replays the same batch
    assert raw_counts(store) == RAW_COUNTS
    assert aggregates(store) == SAMPLE_AGGREGATES


def test_replacing_merge_tree_collapses_a_duplicate_that_bypassed_the_sink(store, pricing):
    land(ClickHouseSink(store, pricing), records())
    store.command("INSERT INTO llm_calls SELECT * FROM llm_calls WHERE call_id = 'c1'")
    assert store.scalar("SELECT count() FROM llm_calls") == 11
    assert store.scalar("SELECT count() FROM llm_calls FINAL") == 10
    store.command("OPTIMIZE TABLE llm_calls FINAL")
    assert store.scalar("SELECT count() FROM llm_calls") == 10


# -- read-only SQL ----------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO llm_calls (event_id) VALUES ('x')",
        "DROP TABLE llm_calls",
        "ALTER TABLE llm_calls DELETE WHERE 1",
        "CREATE TABLE x (a UInt8) ENGINE = Memory",
        "TRUNCATE TABLE llm_calls",
        "SET readonly = 0",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    ],
)
def test_readonly_refuses_writes_with_a_one_line_error(landed, sql):
    with pytest.raises(UserError, match="read-only SQL") as err:
        run_readonly(landed, sql)
    assert "\n" not in str(err.value)
    assert landed.scalar("SELECT count() FROM llm_calls") == 10


def test_readonly_returns_column_names_and_rows(landed):
    result = run_readonly(landed, "SELECT team, count() AS calls FROM llm_calls FINAL GROUP BY team ORDER BY team;")
    assert result.columns == ["team", "calls"]
    assert result.rows == [("catalog", 5), ("search", 5)]
    with pytest.raises(UserError, match="query failed: .*UNKNOWN_TABLE"):
        run_readonly(landed, "SELECT * FROM no_such_table")


# -- reports and analyst questions -------------------------------------------

NAN = float("nan")
EXPECTED_ANSWERS = {
    "cost_by_team": [("catalog", 5, Decimal("0.500083334"), 1), ("search", 5, Decimal("0.003355"), 0)],
    "enrichment_cost_by_prompt": [
        ("tag", "tag", 2, 2, Decimal("0.000083334"), Decimal("0.000041667")),
        ("tag", "tag", 3, 1, Decimal("0.00021"), Decimal("0.00021")),
    ],
    "latency_by_model": [
        ("claude-3-5-haiku", 1, 800.0, 800.0, 300.0),
        ("gpt-4o-mini", 3, 400.0, 580.0, 100.0),
        ("mystery-model", 1, 700.0, 700.0, NAN),
        ("qwen2.5-0.5b-instruct", 2, 1500.0, 1950.0, 155.0),
    ],
    "cache_hit_rate_by_use_case": [("query_rewrite", 5, 1, 1, 0, 0.4), ("tagging", 5, 0, 0, 1, 0.0)],
    "fallback_rate_by_use_case": [("query_rewrite", 5, 1, 0.2), ("tagging", 5, 0, 0.0)],
    "error_rate_by_provider": [("openai", 6, 1, 1 / 6), ("anthropic", 1, 0, 0.0), ("llamacpp", 2, 0, 0.0),
                               ("vllm", 1, 0, 0.0)],
    "guardrail_actions_by_policy": [("gateway", "redact", 1, 1.0), ("tagging", "accept", 1, 1 / 3),
                                    ("tagging", "reject", 1, 1 / 3), ("tagging", "review", 1, 1 / 3)],
    "top_failing_checks": [("injection", 3, 2, 2 / 3), ("allowed_tags", 2, 1, 0.5), ("pii", 1, 1, 1.0),
                           ("schema", 3, 0, 0.0)],
    "index_freshness": [("catalog", 5, 300.0, 496.0, 500.0)],
    "dead_letters_by_topic": [("llm.calls", "ValidationError", 2, 200), ("enrichment.results", "JSONDecodeError", 1, 30)],
}  # fmt: skip


@pytest.mark.parametrize("question_id", sorted(EXPECTED_ANSWERS))
def test_analyst_questions_answer_the_known_fixture(landed, question_id):
    assert_rows(run_readonly(landed, QUESTIONS_BY_ID[question_id].sql).rows, EXPECTED_ANSWERS[question_id])


def test_canned_reports_read_the_views(landed):
    cost = run_report(landed, "cost", since="7d", group_by=["team", "provider"])
    assert cost.columns[:3] == ["team", "provider", "calls"]
    assert [(r[0], r[1], r[2], r[-2]) for r in cost.rows] == [
        ("catalog", "openai", 2, Decimal("0.5")), ("search", "anthropic", 1, Decimal("0.0028")),
        ("search", "openai", 4, Decimal("0.000555")), ("catalog", "llamacpp", 2, Decimal("0.000083334")),
        ("catalog", "vllm", 1, Decimal("0")),
    ]  # fmt: skip
    latency = run_report(landed, "latency", since="7d", group_by=["model"], filters={"team": "search"}).dicts()
    mini = next(r for r in latency if r["model"] == "gpt-4o-mini")
    assert (mini["calls"], mini["latency_ms_p50"], mini["ttft_ms_p50"]) == (4, 210.0, 150.0)
    guardrails = run_report(landed, "guardrails", since="7d").rows
    assert_rows(guardrails, [("gateway", "redact", 1, 2.0), ("tagging", "accept", 1, 5.0),
                             ("tagging", "reject", 1, 9.0), ("tagging", "review", 1, 7.0)])  # fmt: skip
    fresh = run_report(landed, "freshness", since="7d", group_by=["op"]).dicts()
    assert [(r["op"], r["events"], r["freshness_ms_p50"]) for r in fresh] == [("upsert", 5, 300.0), ("delete", 1, 50.0)]
    assert run_report(landed, "cost", since="1h").rows == []  # the sample is days old


def test_a_second_folder_in_the_same_process_is_a_user_error(tmp_path, landed):
    if landed.kind != "chdb":
        pytest.skip("only chDB is limited to one folder per process")
    with pytest.raises(UserError, match="one per process"):
        ClickHouseStore.open(SinkSettings(data_dir=tmp_path, clickhouse_database="x"))


def test_sample_is_recent_enough_for_the_seven_day_window():
    oldest = min(e.occurred_at for _, e in sample_events())
    assert (datetime.now(UTC) - oldest).days < 6


def test_the_verifier_decision_and_who_answered_each_field_land(landed):
    rows = landed.query(
        "SELECT call_id, semantic_score, semantic_verifier_score, semantic_verdict FROM llm_calls FINAL "
        "WHERE semantic_score IS NOT NULL"
    )[1]
    assert rows == [("c4", 0.91, 0.97, "ok")]
    rows = landed.query("SELECT item_id, cascade, answered_by FROM enrichment_results FINAL WHERE cascade != ''")[1]
    assert rows == [("i2", "tag@1", {"tags": "cascade/tag@1"})]
