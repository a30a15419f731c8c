-- The platform registry as bridge publishes it; the newest version wins.
CREATE TABLE IF NOT EXISTS platforms
(
    platform_id         String,
    name                String,
    uscc                String,
    domicile_region     LowCardinality(String),
    type                LowCardinality(String),
    operating_model     String,
    main_categories     Array(String),
    connected_to_canal  UInt8,
    version             UInt32,
    updated_at          DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY platform_id
SETTINGS non_replicated_deduplication_window = 1000;

-- Online stores by platform: one row per store, its latest state (open = 0 once closed).
CREATE TABLE IF NOT EXISTS stores
(
    platform_id     LowCardinality(String),
    store_id        String,
    merchant_name   String,
    uscc            String,
    region          LowCardinality(String),
    category        LowCardinality(String),
    above_threshold UInt8,
    open            UInt8,
    updated_at      DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (platform_id, store_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- Every handling step of a complaint or report; the current state is the newest row per complaint.
CREATE TABLE IF NOT EXISTS complaint_transitions
(
    event_id        String,
    complaint_id    String,
    platform_id     LowCardinality(String),
    region          LowCardinality(String),
    type            LowCardinality(String),
    state           LowCardinality(String),
    previous_state  LowCardinality(String),
    actor           LowCardinality(String),
    at              DateTime64(3, 'UTC'),
    deadline_kind   LowCardinality(String),
    deadline_due    Nullable(Date),
    outcome         LowCardinality(String)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (complaint_id, at, event_id)
SETTINGS non_replicated_deduplication_window = 1000;
