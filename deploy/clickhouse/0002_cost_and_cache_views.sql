-- Views are fed by INSERTs into llm_calls, and the sink inserts only events whose
-- event_id has not landed yet, so a replay never adds to them.
-- Cost comes from llm_calls only: the enricher reports each model call there too,
-- so summing enrichment_results as well would count those calls twice.

CREATE TABLE IF NOT EXISTS cost_daily
(
    day                 Date,
    team                LowCardinality(String),
    use_case            LowCardinality(String),
    model               LowCardinality(String),
    provider            LowCardinality(String),
    calls               UInt64,
    errors              UInt64,
    unpriced_calls      UInt64,
    input_tokens        UInt64,
    output_tokens       UInt64,
    cached_input_tokens UInt64,
    cost_usd            Decimal(38, 9)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, team, use_case, model, provider);

CREATE MATERIALIZED VIEW IF NOT EXISTS cost_daily_mv TO cost_daily AS
SELECT
    toDate(occurred_at)                 AS day,
    team,
    use_case,
    model,
    provider,
    count()                             AS calls,
    countIf(status != 'ok')             AS errors,
    countIf(cost_source = 'unpriced')   AS unpriced_calls,
    sum(input_tokens)                   AS input_tokens,
    sum(output_tokens)                  AS output_tokens,
    sum(cached_input_tokens)            AS cached_input_tokens,
    sum(cost_usd)                       AS cost_usd
FROM llm_calls
GROUP BY day, team, use_case, model, provider;

-- Hit rate = (exact_hits + semantic_hits) / (calls - bypassed).
CREATE TABLE IF NOT EXISTS cache_daily
(
    day                 Date,
    team                LowCardinality(String),
    use_case            LowCardinality(String),
    model               LowCardinality(String),
    calls               UInt64,
    exact_hits          UInt64,
    semantic_hits       UInt64,
    misses              UInt64,
    bypassed            UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, team, use_case, model);

CREATE MATERIALIZED VIEW IF NOT EXISTS cache_daily_mv TO cache_daily AS
SELECT
    toDate(occurred_at)                 AS day,
    team,
    use_case,
    model,
    count()                             AS calls,
    countIf(cache_status = 'exact_hit')    AS exact_hits,
    countIf(cache_status = 'semantic_hit') AS semantic_hits,
    countIf(cache_status = 'miss')      AS misses,
    countIf(cache_status = 'bypass')    AS bypassed
FROM llm_calls
GROUP BY day, team, use_case, model;
