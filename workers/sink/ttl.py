"""The TTL of raw bodies (prompts, responses, raw payloads), kept in step with the setting.

Migrations create the columns with the TTL configured at the time; a later
change of ``LADLE_CLICKHOUSE_BODY_TTL_DAYS`` is applied here with ALTER ... MODIFY
COLUMN, at every start, and only where the TTL differs.
"""

from __future__ import annotations

import structlog

from workers.sink.store import ClickHouseStore

log = structlog.get_logger()

# Columns that hold raw prompts, responses or payloads: (table, column, type).
BODY_COLUMNS = [
    ("llm_calls", "request_body", "Nullable(String)"),
    ("llm_calls", "response_body", "Nullable(String)"),
    ("enrichment_results", "raw_output", "String"),
    ("dead_letters", "raw_value_b64", "String"),
]


def ensure_body_ttl(store: ClickHouseStore, days: int) -> list[str]:
    """Make every raw-body column expire after `days`; returns the columns changed."""
    changed = []
    wanted = f"toDateTime(occurred_at) + toIntervalDay({int(days)})"
    for table, column, type_ in BODY_COLUMNS:
        current = store.scalar(
            "SELECT create_table_query FROM system.tables WHERE database = %(db)s AND name = %(t)s",
            {"db": store.database, "t": table},
        )
        if wanted in _column_clause(current, column):
            continue
        store.command(
            f"ALTER TABLE {table} MODIFY COLUMN {column} {type_} TTL toDateTime(occurred_at) + INTERVAL {int(days)} DAY"
        )
        changed.append(f"{table}.{column}")
        log.info("clickhouse.body_ttl_changed", column=f"{table}.{column}", days=days)
    return changed


def _column_clause(create_query: str, column: str) -> str:
    """The definition of one column in ClickHouse's normalised CREATE TABLE text."""
    start = create_query.find(f"`{column}` ")
    if start < 0:
        return ""
    ends = [i for i in (create_query.find(", `", start), create_query.find(", INDEX", start)) if i > 0]
    return create_query[start : min(ends, default=len(create_query))]
