-- A person's decisions on the results the guardrails sent for review (the console's review
-- queue, topic review.decisions): who decided what and when, the output before and after.
-- One row per reviewed result: the event id derives from the result's, so a second decision
-- on the same result is a duplicate the sink drops (the first decision wins).

CREATE TABLE IF NOT EXISTS review_decisions
(
    event_id            String,
    occurred_at         DateTime64(3, 'UTC'),
    ingested_at         DateTime64(3, 'UTC') DEFAULT now64(3),
    schema_version      UInt16,
    trace_id            String,
    reviewer            LowCardinality(String),
    decided_at          DateTime64(3, 'UTC'),
    action              LowCardinality(String),
    item_id             String,
    item_version        UInt64,
    task                LowCardinality(String),
    result_event_id     String,
    guarded_event_id    String,
    route               LowCardinality(String),
    before_json         String,
    after_json          String,
    changed_fields      Array(LowCardinality(String)),
    failed_checks       Array(LowCardinality(String)),
    note                String,
    INDEX event_id_bloom event_id TYPE bloom_filter(0.0001) GRANULARITY 1
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (task, item_id, result_event_id, event_id);
