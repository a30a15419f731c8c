-- Coarser rollups of complaint_daily, kept exact the same way: a materialized view re-adds every block inserted
-- into complaint_daily (the ingest's -old/+new differences) summed at a coarser key. A retried insert (same
-- insert_deduplication_token) reaches the views again on this ClickHouse (26.x), which deduplicate it themselves
-- by a token derived from the source's: hence the deduplication window on every rollup, without which a retry
-- counts twice (tests/analytics/test_aggregates.py makes one). The cockpits pick the coarsest table the filters allow (cockpits.complaint_sources).

-- Without the region: every panel of the governance and detail cockpits when no region filter is given.
-- 110 platforms x 8 categories x 2 kinds x ~6 states bound it to ~10,000 rows a day whatever the volume.
CREATE TABLE IF NOT EXISTS complaint_daily_nr
(
    day              Date,
    platform_id      LowCardinality(String),
    category         LowCardinality(String),
    kind             LowCardinality(String),
    state            LowCardinality(String),
    complaints       Int64,
    assigned         Int64,
    answered         Int64,
    settled          Int64,
    within_deadline  Int64,
    deadline_missed  Int64
)
ENGINE = SummingMergeTree
ORDER BY (day, platform_id, category, kind, state)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS complaint_daily_nr_mv TO complaint_daily_nr AS
SELECT day, platform_id, category, kind, state, sum(complaints) AS complaints, sum(assigned) AS assigned,
       sum(answered) AS answered, sum(settled) AS settled, sum(within_deadline) AS within_deadline,
       sum(deadline_missed) AS deadline_missed
FROM complaint_daily GROUP BY day, platform_id, category, kind, state;

-- Complaints by region (with platform and category, the filters that panel takes), for the by-region panel.
CREATE TABLE IF NOT EXISTS complaint_daily_region
(
    day          Date,
    region       LowCardinality(String),
    platform_id  LowCardinality(String),
    category     LowCardinality(String),
    complaints   Int64
)
ENGINE = SummingMergeTree
ORDER BY (day, region, platform_id, category)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS complaint_daily_region_mv TO complaint_daily_region AS
SELECT day, region, platform_id, category, sum(complaints) AS complaints
FROM complaint_daily GROUP BY day, region, platform_id, category;

-- Backfill from what complaint_daily holds already.
INSERT INTO complaint_daily_nr
SELECT day, platform_id, category, kind, state, sum(complaints), sum(assigned), sum(answered), sum(settled),
       sum(within_deadline), sum(deadline_missed)
FROM complaint_daily GROUP BY day, platform_id, category, kind, state;

INSERT INTO complaint_daily_region
SELECT day, region, platform_id, category, sum(complaints) FROM complaint_daily GROUP BY day, region, platform_id, category
