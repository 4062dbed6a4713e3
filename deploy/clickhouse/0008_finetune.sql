-- Fine-tuning jobs (`ladle finetune create`, the gateway's /v1/fine_tuning/jobs) from finetune.jobs:
-- status changes (OpenAI's statuses) and progress reports; a job's state is its latest status row.

CREATE TABLE IF NOT EXISTS finetune_jobs
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    job_id              String,
    kind                LowCardinality(String),
    status              LowCardinality(String),
    use_case            LowCardinality(String),
    base_model          LowCardinality(String),
    training_files      Array(String),
    hyperparameters     String,
    fine_tuned_model    String,
    step                UInt32,
    steps               UInt32,
    loss                Nullable(Float64),
    trained_tokens      UInt64,
    tokens_per_s        Float64,
    eta_s               Nullable(Float64),
    machine_s           Float64,
    message             String,
    error               String,
    owner               String,
    team                LowCardinality(String),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (job_id, occurred_at, event_id);
