-- Evaluated interactions, text redacted before it reaches the sink (store_text = none | redacted | full).
-- One row per event_id: retried or replayed writes collapse on merge (query with FINAL for exact counts).
-- TTL counts from ingestion (inserted_at): backfilled history is kept as long as fresh data.
CREATE TABLE IF NOT EXISTS {db}.interactions
(
    event_id           String,
    timestamp          DateTime64(3, 'UTC'),
    deployment_context LowCardinality(String),
    cohort             LowCardinality(String),
    model              LowCardinality(String),
    model_version      LowCardinality(String),
    source_partition   UInt16,
    source_offset      UInt64,
    late               Bool,
    refusal            Bool,
    jailbreak          Bool,
    pii_input          Bool,
    pii_output         Bool,
    error              Bool,
    pii_kinds          Array(LowCardinality(String)),
    input_chars        UInt32,
    output_chars       UInt32,
    input_tokens       Nullable(UInt32),
    output_tokens      Nullable(UInt32),
    latency_ms         Nullable(Float64),
    finish_reason      LowCardinality(String),
    scores             Map(String, Float64),
    input_text         Nullable(String),
    output_text        Nullable(String),
    text_mode          LowCardinality(String),
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (deployment_context, cohort, model, timestamp, event_id)
TTL toDateTime(inserted_at) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 1000;
