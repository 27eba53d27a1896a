-- Every test the judge ran for a closed window: statistic, p-value, effect, sample sizes,
-- whether Benjamini-Hochberg rejected it at fdr_q and whether it became a finding.
-- TTL counts from ingestion (inserted_at): backfilled history is kept as long as fresh data.
CREATE TABLE IF NOT EXISTS {db}.drift_results
(
    window_start       DateTime64(3, 'UTC'),
    window_end         DateTime64(3, 'UTC'),
    deployment_context LowCardinality(String),
    cohort             LowCardinality(String),
    model              LowCardinality(String),
    level              LowCardinality(String),
    metric             LowCardinality(String),
    kind               LowCardinality(String),
    test               LowCardinality(String),
    statistic          Nullable(Float64),  -- NULL where a value is undefined (NaN)
    p_value            Float64,
    effect             Nullable(Float64),
    effect_name        LowCardinality(String),
    observed           Nullable(Float64),
    reference          Nullable(Float64),
    n                  UInt64,
    n_ref              UInt64,
    detail             String,
    reference_segment  Array(String),
    reference_kind     LowCardinality(String),
    fdr_q              Float64,
    bh_rejected        Bool,
    finding            Bool,
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (deployment_context, cohort, model, kind, metric, window_start)
TTL toDateTime(inserted_at) + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;
