"""Ten questions analysts ask, with the SQL that answers them (for the README and `ladle query`).

Aggregates read the materialized views; questions the views do not cover read
the raw tables with FINAL, which collapses any duplicate that slipped past the
sink. Each answer on the sample data (`tests/fixtures/sink_events.py`) is in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalystQuestion:
    id: str
    question: str
    sql: str


ANALYST_QUESTIONS: list[AnalystQuestion] = [
    AnalystQuestion(
        "cost_by_team",
        "What did each team spend on model calls in the last 7 days, and how many calls had no price?",
        """SELECT team, sum(calls) AS calls, sum(cost_usd) AS cost_usd, sum(unpriced_calls) AS unpriced_calls
FROM cost_daily
WHERE day >= today() - 7
GROUP BY team
ORDER BY cost_usd DESC""",
    ),
    AnalystQuestion(
        "enrichment_cost_by_prompt",
        "What does enrichment cost per prompt version, per item and in total (last 7 days)?",
        """SELECT task, prompt_name, prompt_version, count() AS results,
       sum(cost_usd) AS cost_usd_total, cost_usd_total / results AS cost_per_item
FROM enrichment_results FINAL
WHERE occurred_at >= now() - INTERVAL 7 DAY
GROUP BY task, prompt_name, prompt_version
ORDER BY task, prompt_name, prompt_version""",
    ),
    AnalystQuestion(
        "latency_by_model",
        "What are p50/p95 latency and time to first token per model for answered calls (no cache hits)?",
        """SELECT model,
       sum(calls) AS calls,
       quantilesMerge(0.5, 0.9, 0.95, 0.99)(latency_ms_q)[1] AS latency_p50_ms,
       quantilesMerge(0.5, 0.9, 0.95, 0.99)(latency_ms_q)[3] AS latency_p95_ms,
       quantilesMerge(0.5, 0.9, 0.95, 0.99)(ttft_ms_q)[1] AS ttft_p50_ms
FROM latency_hourly
WHERE hour >= now() - INTERVAL 7 DAY AND status = 'ok' AND cache_status NOT IN ('exact_hit', 'semantic_hit')
GROUP BY model
ORDER BY model""",
    ),
    AnalystQuestion(
        "cache_hit_rate_by_use_case",
        "How often does the gateway cache answer, per use case (bypassed calls excluded)?",
        """SELECT use_case, sum(calls) AS calls, sum(exact_hits) AS exact_hits, sum(semantic_hits) AS semantic_hits,
       sum(bypassed) AS bypassed, (exact_hits + semantic_hits) / nullIf(calls - bypassed, 0) AS hit_rate
FROM cache_daily
WHERE day >= today() - 7
GROUP BY use_case
ORDER BY use_case""",
    ),
    AnalystQuestion(
        "fallback_rate_by_use_case",
        "How often did a call need a fallback deployment, per use case?",
        """SELECT use_case, count() AS calls, countIf(length(fallback_chain) > 1) AS fell_back,
       fell_back / calls AS fallback_rate
FROM llm_calls FINAL
WHERE occurred_at >= now() - INTERVAL 7 DAY
GROUP BY use_case
ORDER BY use_case""",
    ),
    AnalystQuestion(
        "error_rate_by_provider",
        "Which providers fail most (share of calls not ok)?",
        """SELECT provider, sum(calls) AS calls, sum(errors) AS errors, errors / calls AS error_rate
FROM cost_daily
WHERE day >= today() - 7
GROUP BY provider
ORDER BY error_rate DESC, provider""",
    ),
    AnalystQuestion(
        "guardrail_actions_by_policy",
        "What did each guardrail policy decide, and what share of its verdicts was each action?",
        """SELECT policy, action, sum(verdicts) AS verdicts,
       verdicts / sum(verdicts) OVER (PARTITION BY policy) AS share
FROM guardrail_actions_daily
WHERE day >= today() - 7
GROUP BY policy, action
ORDER BY policy, action""",
    ),
    AnalystQuestion(
        "top_failing_checks",
        "Which guardrail checks fail most often?",
        """SELECT check_name, sum(evaluated) AS evaluated, sum(failed) AS failed, failed / evaluated AS fail_rate
FROM guardrail_checks_daily
WHERE day >= today() - 7
GROUP BY check_name
ORDER BY failed DESC, check_name""",
    ),
    AnalystQuestion(
        "index_freshness",
        "How fresh is the vector index: p50/p99 time from a catalog change to its upsert in the index?",
        """SELECT collection, sum(events) AS upserts,
       quantilesMerge(0.5, 0.9, 0.95, 0.99)(freshness_ms_q)[1] AS freshness_p50_ms,
       quantilesMerge(0.5, 0.9, 0.95, 0.99)(freshness_ms_q)[4] AS freshness_p99_ms,
       max(freshness_ms_max) AS freshness_max_ms
FROM freshness_hourly
WHERE hour >= now() - INTERVAL 7 DAY AND op = 'upsert'
GROUP BY collection
ORDER BY collection""",
    ),
    AnalystQuestion(
        "dead_letters_by_topic",
        "Which topics dead-letter messages, and why?",
        """SELECT original_topic, error_class, sum(letters) AS letters, sum(raw_bytes) AS raw_bytes
FROM dead_letters_daily
WHERE day >= today() - 7
GROUP BY original_topic, error_class
ORDER BY letters DESC, original_topic""",
    ),
]
