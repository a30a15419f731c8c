-- The complaint ledger: what the aggregates hold of each complaint, and the changes that put it there, in one table.
--
-- Before this migration the ingest inserted its -old/+new differences into complaint_daily and the facts
-- (complaints, complaint_transitions) in separate inserts, and measured "old" against the stored facts. A crash
-- between those inserts, followed by a redelivery cut into other batches (other dedup tokens), counted the
-- differences twice. Now each change is one ledger row carrying both the complaint's summary after the change
-- (how the next change is measured) and the contribution it moves (which the views below add to the aggregates):
-- one insert, so the aggregates and the ingest's memory of them can no longer part. A change already in the
-- ledger is recognised by the summary it left, whatever batch brings it again (services/analytics/aggregates.py).
CREATE TABLE IF NOT EXISTS complaint_ledger
(
    complaint_id     String,
    -- 1, 2, 3… per complaint; 0 for summaries backfilled from facts ingested before this migration.
    version          UInt32,
    -- -1 takes the complaint's old contribution out, +1 puts the new one in (the same version holds both);
    -- 0 is a summary that moves nothing (steps of a complaint not yet known, or a backfilled one already counted).
    sign             Int8,
    -- The contribution: complaint_daily's key and flags, and whether this row first counts the complaint per store.
    platform_id      LowCardinality(String),
    day              Date,
    category         LowCardinality(String),
    region           LowCardinality(String),
    kind             LowCardinality(String),
    state            LowCardinality(String),
    assigned         UInt8,
    answered         UInt8,
    settled          UInt8,
    within_deadline  UInt8,
    deadline_missed  UInt8,
    store_id         String,
    store_name       String,
    store_first      UInt8,
    -- The summary (rows with sign >= 0): the complaint as first received, and its steps folded.
    known            UInt8,
    received_at      DateTime64(3, 'UTC'),
    newest_at        Nullable(DateTime64(3, 'UTC')),
    newest_event_id  String,
    newest_state     LowCardinality(String),
    due_at           Nullable(DateTime64(3, 'UTC')),
    due_event_id     String,
    due              Nullable(Date),
    first_answer_at  Nullable(DateTime64(3, 'UTC'))
)
ENGINE = MergeTree
ORDER BY (complaint_id, version, sign)
SETTINGS non_replicated_deduplication_window = 1000, index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS complaint_ledger_daily_mv TO complaint_daily AS
SELECT platform_id, day, category, region, kind, state,
       sum(toInt64(sign)) AS complaints, sum(sign * assigned) AS assigned, sum(sign * answered) AS answered,
       sum(sign * settled) AS settled, sum(sign * within_deadline) AS within_deadline,
       sum(sign * deadline_missed) AS deadline_missed
FROM complaint_ledger WHERE sign != 0
GROUP BY platform_id, day, category, region, kind, state;

CREATE MATERIALIZED VIEW IF NOT EXISTS complaint_ledger_store_mv TO complaint_store_daily AS
SELECT platform_id, day, store_id, category, region, any(store_name) AS store_name, toInt64(count()) AS complaints
FROM complaint_ledger WHERE store_first = 1
GROUP BY platform_id, day, store_id, category, region;

-- Summaries of the complaints ingested before this migration, already counted in the aggregates (sign 0).
INSERT INTO complaint_ledger
    (complaint_id, version, sign, known, platform_id, received_at, kind, category, region, store_id, store_name,
     day, state, assigned, answered, settled, deadline_missed,
     newest_at, newest_event_id, newest_state, due_at, due_event_id, due, first_answer_at)
SELECT ids.complaint_id, 0, 0, c.complaint_id != '', c.platform_id, c.received_at, c.kind, c.category, c.region,
       c.store_id, c.store_name, toDate(c.received_at, 'Asia/Shanghai'), if(h.steps = 0, 'received', h.newest_state),
       h.assigned, h.answered, h.settled, h.missed,
       if(h.steps = 0, NULL, h.newest_at), h.newest_event_id, h.newest_state,
       if(h.dues = 0, NULL, h.due_at), if(h.dues = 0, '', h.due_event_id), if(h.dues = 0, NULL, h.due),
       if(h.answered = 0, NULL, h.first_answer_at)
FROM (SELECT complaint_id FROM complaints UNION DISTINCT SELECT complaint_id FROM complaint_transitions) AS ids
LEFT JOIN (SELECT * FROM complaints FINAL) AS c ON c.complaint_id = ids.complaint_id
LEFT JOIN (
    SELECT complaint_id,
           count() AS steps,
           max(at) AS newest_at,
           argMax(event_id, (at, event_id)) AS newest_event_id,
           argMax(state, (at, event_id)) AS newest_state,
           toUInt8(countIf(type = 'assigned') > 0) AS assigned,
           countIf(type = 'assigned' AND deadline_due IS NOT NULL) AS dues,
           argMinIf(at, (at, event_id), type = 'assigned' AND deadline_due IS NOT NULL) AS due_at,
           argMinIf(event_id, (at, event_id), type = 'assigned' AND deadline_due IS NOT NULL) AS due_event_id,
           argMinIf(deadline_due, (at, event_id), type = 'assigned' AND deadline_due IS NOT NULL) AS due,
           toUInt8(countIf(type = 'platform_responded') > 0) AS answered,
           minIf(at, type = 'platform_responded') AS first_answer_at,
           toUInt8(countIf(type = 'platform_responded' AND outcome = 'settled') > 0) AS settled,
           toUInt8(countIf(type = 'deadline_missed' AND deadline_kind = 'first_handling') > 0) AS missed
    FROM complaint_transitions FINAL GROUP BY complaint_id
) AS h ON h.complaint_id = ids.complaint_id;

-- The ingest no longer looks complaints up by id in the facts: the ledger is ordered by complaint id.
DROP VIEW IF EXISTS complaints_by_id_mv;
DROP TABLE IF EXISTS complaints_by_id
