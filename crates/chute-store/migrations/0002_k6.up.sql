-- Every k6 sample. Partitioned by day, ordered for "one run, one metric, over time".
CREATE TABLE IF NOT EXISTS k6_samples (
    run_id LowCardinality(String),
    timestamp DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    metric LowCardinality(String),
    metric_type LowCardinality(String),
    value Float64 CODEC(ZSTD(1)),
    tags Map(LowCardinality(String), String),
    vu Nullable(UInt32),
    iter Nullable(UInt64),
    metadata Map(LowCardinality(String), String),
    source LowCardinality(String),
    scenario LowCardinality(String) MATERIALIZED tags['scenario'],
    name String MATERIALIZED tags['name'],
    url String MATERIALIZED tags['url'],
    method LowCardinality(String) MATERIALIZED tags['method'],
    status LowCardinality(String) MATERIALIZED tags['status'],
    `group` LowCardinality(String) MATERIALIZED tags['group'],
    `check` LowCardinality(String) MATERIALIZED tags['check'],
    expected_response LowCardinality(String) MATERIALIZED tags['expected_response'],
    error_code LowCardinality(String) MATERIALIZED tags['error_code']
) ENGINE = MergeTree
PARTITION BY toDate(timestamp)
ORDER BY (run_id, metric, timestamp)
SETTINGS non_replicated_deduplication_window = 1000;

-- One row per (run, metric) declaration: type, what values contain, thresholds, sub-metrics.
CREATE TABLE IF NOT EXISTS k6_metrics (
    run_id String,
    name String,
    type LowCardinality(String),
    contains LowCardinality(String),
    thresholds Array(String),
    submetrics Array(String),
    source LowCardinality(String),
    updated_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (run_id, name)
SETTINGS non_replicated_deduplication_window = 1000;

-- Runs, kept up to date by the engine at every insert into k6_samples.
-- Query with GROUP BY run_id (or FINAL): rows of one run merge in the background.
CREATE TABLE IF NOT EXISTS k6_runs (
    run_id String,
    first_sample SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    last_sample SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    samples SimpleAggregateFunction(sum, UInt64),
    sources SimpleAggregateFunction(groupUniqArrayArray, Array(String))
) ENGINE = AggregatingMergeTree
ORDER BY run_id
-- The view's inserts carry tokens derived from the source insert's, so a replayed insert
-- into k6_samples does not count its samples twice here either.
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS k6_runs_mv TO k6_runs AS
SELECT
    toString(run_id) AS run_id,
    min(timestamp) AS first_sample,
    max(timestamp) AS last_sample,
    count() AS samples,
    groupUniqArray(toString(source)) AS sources
FROM k6_samples
GROUP BY run_id;

-- Files imported with `chute import`, by content hash: the same file is not imported twice.
CREATE TABLE IF NOT EXISTS k6_imports (
    file_sha256 String,
    file_name String,
    format LowCardinality(String),
    run_id String,
    samples UInt64,
    imported_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(imported_at)
ORDER BY file_sha256
SETTINGS non_replicated_deduplication_window = 1000;
