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
    test               LowCardinality(String),
    statistic          Float64,
    p_value            Float64,
    observed           Float64,
    reference          Float64,
    effect             Float64,
    x                  UInt64,
    n                  UInt64,
    x_ref              UInt64,
    n_ref              UInt64,
    reference_segment  Array(String),
    fdr_q              Float64,
    bh_rejected        Bool,
    finding            Bool,
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (deployment_context, cohort, model, metric, window_start)
TTL toDateTime(inserted_at) + INTERVAL 730 DAY
SETTINGS non_replicated_deduplication_window = 1000;
