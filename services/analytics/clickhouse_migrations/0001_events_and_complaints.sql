-- Every event, kept raw: unknown types and versions land here too, never dropped.
CREATE TABLE IF NOT EXISTS events
(
    event_id     String,
    type         LowCardinality(String),
    source       LowCardinality(String),
    subject      String,
    time         DateTime64(3, 'UTC'),
    region       LowCardinality(String),
    platform_id  LowCardinality(String),
    data         String CODEC(ZSTD(3)),
    topic        LowCardinality(String),
    partition    UInt32,
    offset       UInt64,
    known        UInt8,
    ingested_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(time)
ORDER BY (type, event_id)
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per complaint version; ReplacingMergeTree keeps the newest, queries read it with FINAL so a
-- batch redelivered after a crash (a different batch, a different dedup token) never counts twice.
CREATE TABLE IF NOT EXISTS complaints
(
    complaint_id           String,
    platform_id            LowCardinality(String),
    platform_complaint_id  String,
    kind                   LowCardinality(String),
    intake                 LowCardinality(String),
    received_at            DateTime64(3, 'UTC'),
    rule_set               LowCardinality(String),
    region                 LowCardinality(String),
    store_id               String,
    store_name             String,
    merchant_uscc          String,
    merchant_region        LowCardinality(String),
    amount                 Decimal(14, 2),
    goods_category         LowCardinality(String),
    category               LowCardinality(String),
    description            String CODEC(ZSTD(3)),
    consumer_hash          String,
    state                  LowCardinality(String),
    updated_at             DateTime64(3, 'UTC'),
    ingested_at            DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(received_at)
ORDER BY (platform_id, received_at, complaint_id)
SETTINGS non_replicated_deduplication_window = 1000;
