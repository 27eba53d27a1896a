-- Alerts as published on the anomalies topic (schemas/alert.schema.json); alert_id is
-- deterministic (segment, metric, window), so a re-published alert replaces itself.
-- TTL counts from ingestion (inserted_at): backfilled history is kept as long as fresh data.
CREATE TABLE IF NOT EXISTS {db}.alerts
(
    alert_id           String,
    dedup_key          String,
    status             LowCardinality(String),
    severity           LowCardinality(String),
    detector           LowCardinality(String),
    detector_version   LowCardinality(String),
    config_hash        LowCardinality(String),
    deployment_context LowCardinality(String),
    cohort             LowCardinality(String),
    model              LowCardinality(String),
    level              LowCardinality(String),
    metric             LowCardinality(String),
    direction          LowCardinality(String),
    window_start       DateTime64(3, 'UTC'),
    window_end         DateTime64(3, 'UTC'),
    observed           Nullable(Float64),
    reference          Nullable(Float64),
    effect             Nullable(Float64),
    effect_name        LowCardinality(String),
    test               LowCardinality(String),
    statistic          Nullable(Float64),
    p_value            Float64,
    n                  UInt64,
    n_ref              UInt64,
    reference_segment  Array(String),
    evidence_event_ids Array(String),
    summary            String,
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (alert_id)
TTL toDateTime(inserted_at) + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;
