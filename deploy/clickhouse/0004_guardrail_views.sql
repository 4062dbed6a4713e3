-- What guardrails decided, per policy and per check.

CREATE TABLE IF NOT EXISTS guardrail_actions_daily
(
    day                 Date,
    policy              LowCardinality(String),
    policy_version      LowCardinality(String),
    subject_kind        LowCardinality(String),
    team                LowCardinality(String),
    use_case            LowCardinality(String),
    action              LowCardinality(String),
    verdicts            UInt64,
    latency_ms_sum      Float64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, policy, policy_version, subject_kind, team, use_case, action);

CREATE MATERIALIZED VIEW IF NOT EXISTS guardrail_actions_daily_mv TO guardrail_actions_daily AS
SELECT
    toDate(occurred_at)                 AS day,
    policy,
    policy_version,
    subject_kind,
    team,
    use_case,
    action,
    count()                             AS verdicts,
    sum(latency_ms)                     AS latency_ms_sum
FROM guardrail_verdicts
GROUP BY day, policy, policy_version, subject_kind, team, use_case, action;

CREATE TABLE IF NOT EXISTS guardrail_checks_daily
(
    day                 Date,
    policy              LowCardinality(String),
    check_name          LowCardinality(String),
    check_action        LowCardinality(String),
    evaluated           UInt64,
    failed              UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, policy, check_name, check_action);

CREATE MATERIALIZED VIEW IF NOT EXISTS guardrail_checks_daily_mv TO guardrail_checks_daily AS
SELECT
    toDate(occurred_at)                 AS day,
    policy,
    check_name,
    check_action,
    count()                             AS evaluated,
    countIf(NOT passed)                 AS failed
FROM guardrail_verdicts
ARRAY JOIN check_names AS check_name, check_passed AS passed, check_actions AS check_action
GROUP BY day, policy, check_name, check_action;
