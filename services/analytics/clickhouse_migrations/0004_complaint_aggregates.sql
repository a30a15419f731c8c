-- Complaints by id: where the ingest looks up a complaint's day, platform, category, region and kind when one of
-- its handling steps arrives (complaints itself is ordered for time-range scans, not for lookups by id).
CREATE TABLE IF NOT EXISTS complaints_by_id
(
    complaint_id  String,
    platform_id   LowCardinality(String),
    received_at   DateTime64(3, 'UTC'),
    kind          LowCardinality(String),
    category      LowCardinality(String),
    region        LowCardinality(String),
    store_id      String,
    store_name    String
)
ENGINE = ReplacingMergeTree
ORDER BY complaint_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS complaints_by_id_mv TO complaints_by_id AS
SELECT complaint_id, platform_id, received_at, kind, category, region, store_id, store_name FROM complaints;

-- One row per complaint contribution: +1 in its current state and first-handling flags, written as differences
-- (-old, +new) by the ingest (services/analytics/aggregates.py); rows that sum to zero vanish on merge.
CREATE TABLE IF NOT EXISTS complaint_daily
(
    platform_id      LowCardinality(String),
    day              Date,
    category         LowCardinality(String),
    region           LowCardinality(String),
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
ORDER BY (day, platform_id, category, region, kind, state)
SETTINGS non_replicated_deduplication_window = 1000;

-- Complaints per store and day, for the merchants with most complaints in a platform's detail cockpit.
CREATE TABLE IF NOT EXISTS complaint_store_daily
(
    platform_id  LowCardinality(String),
    day          Date,
    store_id     String,
    category     LowCardinality(String),
    region       LowCardinality(String),
    store_name   SimpleAggregateFunction(any, String),
    complaints   Int64
)
ENGINE = SummingMergeTree
ORDER BY (platform_id, day, store_id, category, region)
SETTINGS non_replicated_deduplication_window = 1000;

-- Backfill from the facts ingested before this migration (the same meaning as the ingest's contributions).
INSERT INTO complaints_by_id
SELECT complaint_id, platform_id, received_at, kind, category, region, store_id, store_name FROM complaints FINAL;

INSERT INTO complaint_daily
SELECT c.platform_id, toDate(c.received_at, 'Asia/Shanghai'), c.category, c.region, c.kind,
       if(h.h_state = '', 'received', h.h_state), 1, h.h_assigned, h.h_answered, h.h_settled, h.h_within, h.h_missed
FROM (SELECT complaint_id, platform_id, received_at, kind, category, region FROM complaints FINAL) AS c
LEFT JOIN (
    SELECT complaint_id,
           argMax(state, at) AS h_state,
           toInt64(countIf(type = 'assigned') > 0) AS h_assigned,
           toInt64(countIf(type = 'platform_responded') > 0) AS h_answered,
           toInt64(countIf(type = 'platform_responded' AND outcome = 'settled') > 0) AS h_settled,
           toInt64(ifNull(countIf(type = 'platform_responded') > 0
                   AND toDate(minIf(at, type = 'platform_responded'), 'Asia/Shanghai') <= anyIf(deadline_due, type = 'assigned'), 0)) AS h_within,
           toInt64(countIf(type = 'deadline_missed' AND deadline_kind = 'first_handling') > 0) AS h_missed
    FROM complaint_transitions FINAL GROUP BY complaint_id
) AS h USING complaint_id;

INSERT INTO complaint_store_daily
SELECT platform_id, toDate(received_at, 'Asia/Shanghai') AS day, store_id, category, region, any(store_name), count()
FROM complaints FINAL GROUP BY platform_id, day, store_id, category, region;
