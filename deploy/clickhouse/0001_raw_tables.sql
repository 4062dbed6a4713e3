-- One table per event family, one row per event_id.
--
-- ReplacingMergeTree collapses rows with the same sorting key (which ends with
-- event_id) when parts merge: a safety net behind the sink's anti-join, for the
-- rare duplicate that slips past it (two consumers in a rebalance window).
-- Queries on these tables use FINAL. The bloom filter on event_id serves the
-- sink's per-flush lookup of already-landed ids.
-- Raw prompt/response bodies expire after ${body_ttl_days} days (LADLE_CLICKHOUSE_BODY_TTL_DAYS).

CREATE TABLE IF NOT EXISTS llm_calls
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    call_id             String,
    team                LowCardinality(String),
    use_case            LowCardinality(String),
    model               LowCardinality(String),
    deployment          LowCardinality(String),
    provider            LowCardinality(String),
    prompt_name         LowCardinality(String),
    prompt_version      UInt32,
    prompt_label        LowCardinality(String),
    input_tokens        UInt64,
    output_tokens       UInt64,
    cached_input_tokens UInt64,
    cost_usd            Decimal(18, 9),
    cost_source         LowCardinality(String),
    pricing_version     LowCardinality(String),
    latency_ms          Float64,
    ttft_ms             Nullable(Float64),
    cache_status        LowCardinality(String),
    fallback_chain      Array(LowCardinality(String)),
    status              LowCardinality(String),
    error               String,
    request_body        Nullable(String) TTL toDateTime(occurred_at) + INTERVAL ${body_ttl_days} DAY,
    response_body       Nullable(String) TTL toDateTime(occurred_at) + INTERVAL ${body_ttl_days} DAY,
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (team, use_case, toDate(occurred_at), model, event_id);

CREATE TABLE IF NOT EXISTS enrichment_results
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    item_id             String,
    item_version        UInt64,
    task                LowCardinality(String),
    tags                Array(LowCardinality(String)),
    attributes          Map(LowCardinality(String), String),
    output_json         String,
    raw_output          String TTL toDateTime(occurred_at) + INTERVAL ${body_ttl_days} DAY,
    engine              LowCardinality(String),
    model               LowCardinality(String),
    prompt_name         LowCardinality(String),
    prompt_version      UInt32,
    prompt_label        LowCardinality(String),
    input_tokens        UInt64,
    output_tokens       UInt64,
    cached_input_tokens UInt64,
    latency_ms          Float64,
    ttft_ms             Nullable(Float64),
    cost_usd            Decimal(18, 9),
    cost_source         LowCardinality(String),
    pricing_version     LowCardinality(String),
    attempts            UInt16,
    mode                LowCardinality(String),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (task, toDate(occurred_at), model, item_id, event_id);

-- enrichment.accepted / .review / .rejected; `route` says which. The result's cost
-- stays in enrichment_results (and llm_calls) so it is never counted twice.
CREATE TABLE IF NOT EXISTS guarded_results
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    route               LowCardinality(String),
    result_event_id     String,
    item_id             String,
    item_version        UInt64,
    task                LowCardinality(String),
    model               LowCardinality(String),
    prompt_name         LowCardinality(String),
    prompt_version      UInt32,
    tags                Array(LowCardinality(String)),
    attributes          Map(LowCardinality(String), String),
    verdict_event_id    String,
    policy              LowCardinality(String),
    policy_version      LowCardinality(String),
    action              LowCardinality(String),
    failed_checks       Array(LowCardinality(String)),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (route, task, toDate(occurred_at), item_id, event_id);

-- Checks are parallel arrays (one element per check) so ARRAY JOIN unrolls them.
CREATE TABLE IF NOT EXISTS guardrail_verdicts
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    subject_id          String,
    subject_kind        LowCardinality(String),
    policy              LowCardinality(String),
    policy_version      LowCardinality(String),
    action              LowCardinality(String),
    latency_ms          Float64,
    team                LowCardinality(String),
    use_case            LowCardinality(String),
    check_names         Array(LowCardinality(String)),
    check_passed        Array(Bool),
    check_scores        Array(Nullable(Float64)),
    check_actions       Array(LowCardinality(String)),
    check_details       Array(String),
    check_latency_ms    Array(Float64),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (policy, subject_kind, toDate(occurred_at), action, event_id);

CREATE TABLE IF NOT EXISTS catalog_embedded
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    op                  LowCardinality(String),
    item_id             String,
    version             UInt64,
    model               LowCardinality(String),
    collection          LowCardinality(String),
    content_hash        String,
    skipped             Bool,
    freshness_ms        Float64,
    embedded_at         DateTime64(3, 'UTC'),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (collection, toDate(occurred_at), item_id, event_id);

-- Every <topic>.dlq. raw_value_b64 may hold a prompt, so it expires like the bodies.
CREATE TABLE IF NOT EXISTS dead_letters
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    dlq_topic           LowCardinality(String),
    original_topic      LowCardinality(String),
    original_partition  Int32,
    original_offset     Int64,
    original_key        Nullable(String),
    error_class         LowCardinality(String),
    error_message       String,
    raw_value_b64       String TTL toDateTime(occurred_at) + INTERVAL ${body_ttl_days} DAY,
    raw_size            UInt64,
    truncated           Bool,
    worker              LowCardinality(String),
    source              String,
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (original_topic, error_class, toDate(occurred_at), event_id);
