-- Latency and time-to-first-token quantile states per hour; merge them with
-- quantilesMerge(0.5, 0.9, 0.95, 0.99) over any group of rows. Calls without a
-- TTFT (non-streaming) are skipped by the Nullable state.

CREATE TABLE IF NOT EXISTS latency_hourly
(
    hour                DateTime('UTC'),
    team                LowCardinality(String),
    use_case            LowCardinality(String),
    model               LowCardinality(String),
    provider            LowCardinality(String),
    status              LowCardinality(String),
    cache_status        LowCardinality(String),
    calls               SimpleAggregateFunction(sum, UInt64),
    latency_ms_sum      SimpleAggregateFunction(sum, Float64),
    latency_ms_q        AggregateFunction(quantiles(0.5, 0.9, 0.95, 0.99), Float64),
    ttft_ms_q           AggregateFunction(quantiles(0.5, 0.9, 0.95, 0.99), Nullable(Float64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, team, use_case, model, provider, status, cache_status);

CREATE MATERIALIZED VIEW IF NOT EXISTS latency_hourly_mv TO latency_hourly AS
SELECT
    toStartOfHour(occurred_at)          AS hour,
    team,
    use_case,
    model,
    provider,
    status,
    cache_status,
    count()                             AS calls,
    sum(latency_ms)                     AS latency_ms_sum,
    quantilesState(0.5, 0.9, 0.95, 0.99)(latency_ms) AS latency_ms_q,
    quantilesState(0.5, 0.9, 0.95, 0.99)(ttft_ms)    AS ttft_ms_q
FROM llm_calls
GROUP BY hour, team, use_case, model, provider, status, cache_status;
