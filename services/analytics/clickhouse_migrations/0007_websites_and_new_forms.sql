-- Enterprise websites as bridge publishes them: one row per website, its newest version (status active, suspended
-- or closed; a closed website stays, the overview leaves it out). Keyed on version, not time: an older version
-- delivered late must not replace a newer one.
CREATE TABLE IF NOT EXISTS websites
(
    website_id     String,
    operator_name  String,
    uscc           String,
    domain         String,
    region         LowCardinality(String),
    category       LowCardinality(String),
    status         LowCardinality(String),
    version        UInt32,
    updated_at     DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY website_id
SETTINGS non_replicated_deduplication_window = 1000;

-- New-business-form subjects (live streamers, micro-stores, group-buying leaders…) by platform: the subject id is
-- the platform's account id, so the key is the pair. Many are natural persons: their names and handles stay in bridge.
CREATE TABLE IF NOT EXISTS new_form_subjects
(
    platform_id  LowCardinality(String),
    subject_id   String,
    form         LowCardinality(String),
    uscc         String,
    region       LowCardinality(String),
    category     LowCardinality(String),
    version      UInt32,
    updated_at   DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (platform_id, subject_id)
SETTINGS non_replicated_deduplication_window = 1000;
