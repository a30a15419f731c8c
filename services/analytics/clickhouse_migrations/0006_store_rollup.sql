-- complaint_store_daily without category and region, for the detail cockpit's merchants with most complaints when
-- neither filter is given: a big platform's 30 days shrink from store × category × region rows to store rows.
-- Kept from complaint_store_daily's inserted blocks by a materialized view, deduplicated like 0005's rollups.
CREATE TABLE IF NOT EXISTS complaint_store_platform_daily
(
    platform_id  LowCardinality(String),
    day          Date,
    store_id     String,
    store_name   SimpleAggregateFunction(any, String),
    complaints   Int64
)
ENGINE = SummingMergeTree
ORDER BY (platform_id, day, store_id)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS complaint_store_platform_daily_mv TO complaint_store_platform_daily AS
SELECT platform_id, day, store_id, any(store_name) AS store_name, sum(complaints) AS complaints
FROM complaint_store_daily GROUP BY platform_id, day, store_id;

INSERT INTO complaint_store_platform_daily
SELECT platform_id, day, store_id, any(store_name), sum(complaints) FROM complaint_store_daily GROUP BY platform_id, day, store_id
