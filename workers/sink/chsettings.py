"""Which URL parameters of the ClickHouse HTTP interface are settings an analyst may change, and
the ceilings on the ones that could take the sink's process down with them.

The session is set up with these, then ``readonly=1``: after that neither SET nor a
SETTINGS clause can change anything, so this list is the whole of what a caller controls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# URL parameters that are the protocol's, not settings (clients send them; the interface reads
# or ignores them). Sessions are not kept: each request is its own read-only session.
TRANSPORT = frozenset({
    "query", "database", "default_format", "user", "password", "query_id", "quota_key", "session_id",
    "session_timeout", "session_check", "compress", "decompress", "enable_http_compression",
    "http_zlib_compression_level", "buffer_size", "wait_end_of_query", "client_protocol_version", "role",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms",
    "cancel_http_readonly_queries_on_client_close", "http_wait_end_of_query", "http_response_buffer_size",
    "readonly",  # a client asking for read-only gets it anyway
})  # fmt: skip

ALLOWED = frozenset({
    "max_result_rows", "max_result_bytes", "result_overflow_mode", "max_execution_time", "timeout_overflow_mode",
    "max_rows_to_read", "max_bytes_to_read", "read_overflow_mode", "max_threads", "max_block_size",
    "max_memory_usage", "session_timezone", "extremes", "totals_mode", "join_use_nulls", "date_time_output_format",
    "date_time_input_format", "cast_string_to_dynamic_use_inference", "low_cardinality_allow_in_native_format",
    "use_client_time_zone", "allow_experimental_analyzer", "enable_analyzer", "prefer_column_name_to_alias",
    "aggregate_functions_null_for_empty", "union_default_mode", "joined_subquery_requires_alias",
    # insert settings, moot where every insert is refused; the JDBC driver sends async_insert=0, and
    # chDB's default is 1, a server's 0
    "async_insert", "wait_for_async_insert",
})  # fmt: skip
ALLOWED_PREFIXES = ("output_format_", "format_csv_", "format_tsv_", "format_custom_", "format_template_")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Ceilings:
    """What one analyst query may use at most (and gets when it does not ask): from the sink's settings."""

    max_execution_time: int
    max_result_rows: int
    max_threads: int
    max_memory_usage: int
    nice: int = 19  # the query's threads yield the CPU to ingestion's (os_threads_nice_value_query)

    def defaults(self) -> dict[str, str]:
        return {
            "max_execution_time": str(self.max_execution_time),
            "max_result_rows": str(self.max_result_rows),
            "result_overflow_mode": "throw",
            "max_threads": str(self.max_threads),
            "max_memory_usage": str(self.max_memory_usage),
            "os_threads_nice_value_query": str(self.nice),
            "priority": "2",  # below the sink's writer session (store.py), which is 1
        }


class SettingRefused(ValueError):
    """A setting the interface does not let analysts change (ClickHouse's READONLY, 164), or a value
    that is not a number (CANNOT_PARSE_NUMBER, 72)."""

    def __init__(self, message: str, code: int = 164) -> None:
        super().__init__(message)
        self.code = code


def session_settings(params: dict[str, str], ceilings: Ceilings) -> tuple[dict[str, str], dict[str, str]]:
    """(the settings of one request's session, the other settings it sent). The first are the
    defaults, then what the URL asks for, each ceiling kept (0, "unlimited" in ClickHouse, means
    the ceiling). The others may only restate the value the session has, as a readonly user of a
    ClickHouse server may (the JDBC driver sends async_insert=0 with every query)."""
    out, restated = ceilings.defaults(), {}
    for name, value in params.items():
        if name in TRANSPORT or name.startswith("param_"):
            continue
        if not _NAME.match(name):
            raise SettingRefused(f"Cannot modify '{name}' setting in readonly mode")
        if name in ALLOWED or name.startswith(ALLOWED_PREFIXES):
            out[name] = value
        else:
            restated[name] = value
    for name in ("max_execution_time", "max_result_rows", "max_threads", "max_memory_usage"):
        out[name] = _capped(out[name], getattr(ceilings, name), name)
    return out, restated


def _capped(value: str, ceiling: int, name: str) -> str:
    try:
        asked = float(value) if name == "max_execution_time" else int(value)
    except ValueError:
        if name == "max_threads" and value.startswith("auto"):
            return str(ceiling)
        raise SettingRefused(f"Cannot parse {value!r} as the value of setting '{name}'", code=72) from None
    return str(ceiling) if asked <= 0 or asked > ceiling else value
