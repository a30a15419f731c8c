-- A platform's periodic report, one row per platform and month with its lines as parallel arrays. The highest
-- revision wins (ReplacingMergeTree(revision) keyed by platform and month, read with FINAL), so a correction
-- replaces the month whole: a line missing from revision 2 disappears with revision 1. Money stays exact as
-- Decimal(18, 2); reports are few (platforms × months), so FINAL over them costs nothing.
CREATE TABLE IF NOT EXISTS gmv_reports
(
    platform_id      LowCardinality(String),
    month            Date,
    revision         UInt32,
    report_id        String,
    submitted_at     DateTime64(3, 'UTC'),
    sales_category   Array(LowCardinality(String)),
    sales_region     Array(LowCardinality(String)),
    sales_gmv_cny    Array(Decimal(18, 2)),
    sales_orders     Array(UInt64),
    stores_category  Array(LowCardinality(String)),
    stores_count     Array(UInt64),
    ingested_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY (platform_id, month)
SETTINGS non_replicated_deduplication_window = 1000;
