-- Rows the sink could not write after retries (a value the column cannot hold): kept here with
-- the error instead of blocking every later write. Text in them is already redacted.
-- TTL counts from ingestion (inserted_at).
CREATE TABLE IF NOT EXISTS {db}.sink_rejects
(
    target_table       LowCardinality(String),
    error              String,
    row                String,
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(inserted_at)
ORDER BY (target_table, inserted_at)
TTL toDateTime(inserted_at) + INTERVAL 90 DAY;
