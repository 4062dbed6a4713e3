"""Canned reports over the materialized views: a time window and whitelisted group-by columns.

Group-by names and filters are checked against each report's whitelist and
values are bound as parameters, so no caller text reaches the SQL; reports
also run on the read-only session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.runtime.errors import UserError
from workers.sink.readonly import QueryRows, run_readonly
from workers.sink.store import ClickHouseStore

_SINCE_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
Q4 = "0.5, 0.9, 0.95, 0.99"


def _quantiles(state: str, name: str) -> list[str]:
    """Merged quantile states as name_p50..name_p99 (NULL where there were no values)."""
    q = f"arrayMap(v -> if(isNaN(v), NULL, round(v, 3)), quantilesMerge({Q4})({state}))"
    return [f"{q}[{i}] AS {name}_{p}" for i, p in enumerate(["p50", "p90", "p95", "p99"], start=1)]


@dataclass(frozen=True)
class Report:
    name: str
    view: str
    time_column: str  # "day" (Date) or "hour" (DateTime)
    dimensions: dict[str, str]  # group-by name -> expression on the view
    metrics: list[str]
    order_by: str
    default_group_by: list[str] = field(default_factory=list)

    def window(self) -> str:
        if self.time_column == "day":
            return "day >= toDate(now() - toIntervalSecond(%(since_s)s))"
        return "hour >= toStartOfHour(now() - toIntervalSecond(%(since_s)s))"


_DAY = {"day": "day"}
_HOUR = {"hour": "hour", "day": "toDate(hour)"}
_LLM = {"team": "team", "use_case": "use_case", "model": "model"}
REPORTS: dict[str, Report] = {
    r.name: r
    for r in [
        Report("cost", "cost_daily", "day", {**_DAY, **_LLM, "provider": "provider"},
               ["sum(calls) AS calls", "sum(errors) AS errors", "sum(input_tokens) AS input_tokens",
                "sum(output_tokens) AS output_tokens", "sum(cached_input_tokens) AS cached_input_tokens",
                "sum(cost_usd) AS cost_usd", "sum(unpriced_calls) AS unpriced_calls"],
               "cost_usd DESC", ["team"]),
        Report("latency", "latency_hourly", "hour",
               {**_HOUR, **_LLM, "provider": "provider", "status": "status", "cache_status": "cache_status"},
               ["sum(calls) AS calls", "round(sum(latency_ms_sum) / calls, 3) AS latency_ms_avg",
                *_quantiles("latency_ms_q", "latency_ms"), *_quantiles("ttft_ms_q", "ttft_ms")],
               "calls DESC", ["model"]),
        Report("cache", "cache_daily", "day", {**_DAY, **_LLM},
               ["sum(calls) AS calls", "sum(exact_hits) AS exact_hits", "sum(semantic_hits) AS semantic_hits",
                "sum(misses) AS misses", "sum(bypassed) AS bypassed",
                "round((exact_hits + semantic_hits) / nullIf(calls - bypassed, 0), 4) AS hit_rate"],
               "calls DESC", ["use_case"]),
        Report("guardrails", "guardrail_actions_daily", "day",
               {**_DAY, "policy": "policy", "policy_version": "policy_version", "subject_kind": "subject_kind",
                "team": "team", "use_case": "use_case", "action": "action"},
               ["sum(verdicts) AS verdicts", "round(sum(latency_ms_sum) / verdicts, 3) AS latency_ms_avg"],
               "verdicts DESC", ["policy", "action"]),
        Report("freshness", "freshness_hourly", "hour",
               {**_HOUR, "collection": "collection", "model": "model", "op": "op"},
               ["sum(events) AS events", "sum(skipped) AS skipped", "max(freshness_ms_max) AS freshness_ms_max",
                *_quantiles("freshness_ms_q", "freshness_ms")],
               "events DESC", ["collection"]),
        Report("dead_letters", "dead_letters_daily", "day",
               {**_DAY, "original_topic": "original_topic", "error_class": "error_class", "worker": "worker"},
               ["sum(letters) AS letters", "sum(raw_bytes) AS raw_bytes"],
               "letters DESC", ["original_topic", "error_class"]),
    ]
}  # fmt: skip


def parse_since(since: str) -> int:
    """'90m', '24h', '7d', '2w' -> seconds."""
    m = _SINCE_RE.match(since or "")
    if m is None or int(m.group(1)) == 0:
        raise UserError(f"bad --since {since!r}: use a number and a unit, e.g. 30m, 24h, 7d, 2w")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def report_sql(
    name: str, since: str = "7d", group_by: list[str] | None = None, filters: dict[str, str] | None = None
) -> tuple[str, dict]:
    report = REPORTS.get(name)
    if report is None:
        raise UserError(f"unknown report {name!r}; choose from: {', '.join(REPORTS)}")
    dims = list(group_by) if group_by is not None else report.default_group_by
    allowed = ", ".join(report.dimensions)
    for d in [*dims, *(filters or {})]:
        if d not in report.dimensions:
            raise UserError(f"the {name} report cannot group or filter by {d!r}; choose from: {allowed}")
    params: dict = {"since_s": parse_since(since)}
    where = [report.window()]
    for i, (d, value) in enumerate((filters or {}).items()):
        where.append(f"{report.dimensions[d]} = %(f{i})s")
        params[f"f{i}"] = value
    select = [f"{report.dimensions[d]} AS {d}" for d in dims] + report.metrics
    sql = f"SELECT {', '.join(select)} FROM {report.view} WHERE {' AND '.join(where)}"
    if dims:
        sql += f" GROUP BY {', '.join(dims)}"
    sql += f" ORDER BY {report.order_by}{''.join(', ' + d for d in dims)}"
    return sql, params


def run_report(
    store: ClickHouseStore,
    name: str,
    since: str = "7d",
    group_by: list[str] | None = None,
    filters: dict[str, str] | None = None,
) -> QueryRows:
    sql, params = report_sql(name, since, group_by, filters)
    return run_readonly(store, sql, params)
