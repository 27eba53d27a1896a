-- Rejected input messages: reason code, size, sha256 and a redacted excerpt. The original
-- bytes stay on the interactions.dlq topic (same access and retention as the input topic).
-- TTL counts from ingestion (inserted_at): backfilled history is kept as long as fresh data.
CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    source_topic       LowCardinality(String),
    source_partition   UInt16,
    source_offset      UInt64,
    reason             LowCardinality(String),
    detail             String,
    length             UInt64,
    sha256             String,
    excerpt            String,
    dlq_partition      UInt16,
    dlq_offset         UInt64,
    received_at        DateTime64(3, 'UTC'),
    inserted_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (source_topic, source_partition, source_offset)
TTL toDateTime(inserted_at) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 1000;
