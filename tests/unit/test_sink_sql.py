"""Migration files, canned report SQL and the analyst questions, checked without a store."""

from __future__ import annotations

import pytest

from shared.runtime.errors import UserError
from workers.sink.migrations import load_migrations
from workers.sink.queries import ANALYST_QUESTIONS
from workers.sink.reports import REPORTS, parse_since, report_sql
from workers.sink.tables import TABLES
from workers.sink.ttl import BODY_COLUMNS, _column_clause


def test_migrations_are_numbered_in_order_and_substitute_the_body_ttl():
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].version == 1 and len({m.checksum for m in migrations}) == len(migrations)
    statements = migrations[0].statements(body_ttl_days=12)
    assert all("${" not in s and not s.startswith("--") for s in statements)
    assert sum("INTERVAL 12 DAY" in s for s in statements) == 3  # the tables with body columns
    assert all("IF NOT EXISTS" in s for m in migrations for s in m.statements(30))


def test_every_sink_table_and_body_column_is_created_by_a_migration():
    text = "\n".join(m.text for m in load_migrations())
    for spec in TABLES:
        assert f"CREATE TABLE IF NOT EXISTS {spec.table}\n" in text
        for name in spec.names:
            added = f"ALTER TABLE {spec.table} ADD COLUMN IF NOT EXISTS {name} "
            assert f"    {name} " in text or added in text, f"{spec.table}.{name}"
    for table, column, _ in BODY_COLUMNS:
        assert f"{column}" in text and table in text


def test_column_clause_reads_clickhouse_create_text():
    q = "CREATE TABLE x (`a` String, `b` Nullable(String) TTL toDateTime(t) + toIntervalDay(7), INDEX i a TYPE set(0))"
    assert _column_clause(q, "b") == "`b` Nullable(String) TTL toDateTime(t) + toIntervalDay(7)"
    assert _column_clause(q, "a") == "`a` String" and _column_clause(q, "zz") == ""


@pytest.mark.parametrize(("since", "seconds"), [("30m", 1800), ("24h", 86400), ("7d", 604800), ("2w", 1209600)])
def test_parse_since(since, seconds):
    assert parse_since(since) == seconds


@pytest.mark.parametrize("since", ["", "7", "d", "-1d", "0d", "7 days", "1y"])
def test_bad_since_is_a_user_error(since):
    with pytest.raises(UserError, match="bad --since"):
        parse_since(since)


def test_report_sql_groups_by_whitelisted_columns_and_binds_filters():
    sql, params = report_sql("cost", "7d", ["day", "model"], {"team": "search'; DROP TABLE x"})
    assert "GROUP BY day, model" in sql and "team = %(f0)s" in sql and "DROP" not in sql
    assert params == {"since_s": 604800, "f0": "search'; DROP TABLE x"}
    sql, _ = report_sql("latency", "1d", ["day"])
    assert "toDate(hour) AS day" in sql and "quantilesMerge" in sql


@pytest.mark.parametrize(
    ("name", "group_by", "filters", "match"),
    [
        ("cost", ["team; DROP TABLE x"], None, "cannot group or filter"),
        ("cost", ["status"], None, "choose from: day, team"),
        ("guardrails", None, {"model": "x"}, "cannot group or filter by 'model'"),
        ("nope", None, None, "unknown report"),
    ],
)
def test_report_sql_refuses_what_is_not_whitelisted(name, group_by, filters, match):
    with pytest.raises(UserError, match=match):
        report_sql(name, "7d", group_by, filters)


def test_every_report_has_a_default_grouping_it_allows():
    for report in REPORTS.values():
        assert set(report.default_group_by) <= set(report.dimensions)
    assert {"cost", "latency", "guardrails", "freshness"} <= set(REPORTS)


def test_ten_analyst_questions_with_unique_ids_and_select_sql():
    assert len(ANALYST_QUESTIONS) == 10
    assert len({q.id for q in ANALYST_QUESTIONS}) == 10
    assert all(q.sql.lstrip().upper().startswith("SELECT") and q.question.endswith("?") for q in ANALYST_QUESTIONS)
