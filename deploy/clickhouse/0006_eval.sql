-- Evaluation runs (`ladle eval run`) and their per-row outcomes, for quality reports and the
-- console: a run's metrics as parallel arrays (field, metric, value), an item's expected and
-- answered values per field (a `one` field's value is a one-element array).

CREATE TABLE IF NOT EXISTS eval_runs
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    run_id              String,
    use_case            LowCardinality(String),
    task                LowCardinality(String),
    dataset             LowCardinality(String),
    dataset_sha256      String,
    prompt_name         LowCardinality(String),
    prompt_version      UInt32,
    model               LowCardinality(String),
    engine              LowCardinality(String),
    cascade             String,
    adapter             String,
    items               UInt32,
    failed_rows         UInt32,
    metric_fields       Array(LowCardinality(String)),
    metric_names        Array(LowCardinality(String)),
    metric_values       Array(Float64),
    started_at          DateTime64(3, 'UTC'),
    seconds             Float64,
    cost_usd            Decimal(18, 9),
    status              LowCardinality(String),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (use_case, dataset, started_at, run_id, event_id);

CREATE TABLE IF NOT EXISTS eval_items
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    run_id              String,
    row                 UInt32,
    item_id             String,
    expected            Map(LowCardinality(String), Array(String)),
    predicted           Map(LowCardinality(String), Array(String)),
    answered            Bool,
    correct             Map(LowCardinality(String), Bool),
    route               LowCardinality(String),
    answered_by         Map(LowCardinality(String), String),
    llm_calls           UInt16,
    latency_ms          Float64,
    cost_usd            Decimal(18, 9),
    error               String,
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (run_id, row, event_id);
