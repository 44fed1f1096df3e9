-- Rows the store refused for what they contain, kept with the store's error instead of dropped.
CREATE TABLE IF NOT EXISTS chute_dead_letters (
    time DateTime64(3, 'UTC'),
    `table` LowCardinality(String),
    source LowCardinality(String),
    error_code Int32,
    error String,
    `row` String,
    context Map(LowCardinality(String), String)
) ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (`table`, time)
SETTINGS non_replicated_deduplication_window = 1000;
