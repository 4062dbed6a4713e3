-- Index freshness (catalog change occurred -> vector index applied it) and dead letters.

CREATE TABLE IF NOT EXISTS freshness_hourly
(
    hour                DateTime('UTC'),
    collection          LowCardinality(String),
    model               LowCardinality(String),
    op                  LowCardinality(String),
    events              SimpleAggregateFunction(sum, UInt64),
    skipped             SimpleAggregateFunction(sum, UInt64),
    freshness_ms_max    SimpleAggregateFunction(max, Float64),
    freshness_ms_q      AggregateFunction(quantiles(0.5, 0.9, 0.95, 0.99), Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (hour, collection, model, op);

CREATE MATERIALIZED VIEW IF NOT EXISTS freshness_hourly_mv TO freshness_hourly AS
SELECT
    toStartOfHour(occurred_at)          AS hour,
    collection,
    model,
    op,
    count()                             AS events,
    countIf(skipped)                    AS skipped,
    max(freshness_ms)                   AS freshness_ms_max,
    quantilesState(0.5, 0.9, 0.95, 0.99)(freshness_ms) AS freshness_ms_q
FROM catalog_embedded
GROUP BY hour, collection, model, op;

CREATE TABLE IF NOT EXISTS dead_letters_daily
(
    day                 Date,
    original_topic      LowCardinality(String),
    error_class         LowCardinality(String),
    worker              LowCardinality(String),
    letters             UInt64,
    raw_bytes           UInt64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (day, original_topic, error_class, worker);

CREATE MATERIALIZED VIEW IF NOT EXISTS dead_letters_daily_mv TO dead_letters_daily AS
SELECT
    toDate(occurred_at)                 AS day,
    original_topic,
    error_class,
    worker,
    count()                             AS letters,
    sum(raw_size)                       AS raw_bytes
FROM dead_letters
GROUP BY day, original_topic, error_class, worker;
