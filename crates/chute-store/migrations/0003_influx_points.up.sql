-- InfluxDB line-protocol points that are not k6 samples: one row per point.
CREATE TABLE IF NOT EXISTS influx_points (
    database LowCardinality(String),
    measurement LowCardinality(String),
    timestamp DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    tags Map(LowCardinality(String), String),
    fields Map(LowCardinality(String), Float64),
    string_fields Map(LowCardinality(String), String)
) ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (database, measurement, timestamp)
SETTINGS non_replicated_deduplication_window = 1000;
