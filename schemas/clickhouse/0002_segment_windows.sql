-- One row per closed event-time window and segment. Segments are nested:
-- level 'context' (cohort = model = '*'), 'cohort' (model = '*'), 'model'.
-- Deterministic key (segment, window_start): a replayed window replaces itself.
-- TTL counts from ingestion (inserted_at): backfilled history is kept as long as fresh data.
CREATE TABLE IF NOT EXISTS {db}.segment_windows
(
    window_start       DateTime64(3, 'UTC'),
    window_end         DateTime64(3, 'UTC'),
    deployment_context LowCardinality(String),
    cohort             LowCardinality(String),
    model              LowCardinality(String),
    level              LowCardinality(String),
    events             UInt64,
    refusal            UInt64,
    jailbreak          UInt64,
    pii_input          UInt64,
    pii_output         UInt64,
    error              UInt64,
    late_events        UInt64,
    overflow_events    UInt64,
    input_chars_sum    UInt64,
    output_chars_sum   UInt64,
    input_tokens_sum   UInt64,
    output_tokens_sum  UInt64,
    latency_sum_ms     Float64,
    latency_count      UInt64,
    latency_max_ms     Float64,
    latency_p50_ms     Nullable(Float64),
    latency_p95_ms     Nullable(Float64),
    first_event_ms     Int64,
    last_event_ms      Int64,
    sample_event_ids   Array(String),
    closed_by          LowCardinality(String),
    source_partition   UInt16,
    summary            String CODEC(ZSTD(3)),  -- serialised detectors.summary.WindowSummary
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (deployment_context, cohort, model, window_start)
TTL toDateTime(inserted_at) + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;
