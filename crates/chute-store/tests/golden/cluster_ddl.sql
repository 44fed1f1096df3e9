-- schema_migrations (the ledger), as `migrations::up` creates it
CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER `chute_cluster` (
    version UInt32,
    name String,
    applied UInt8,
    checksum String,
    seq UInt64,
    changed_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{shard}-{replica}', seq)
ORDER BY version;

-- chute_migration_lock
CREATE TABLE IF NOT EXISTS chute_migration_lock ON CLUSTER `chute_cluster` (
    lock LowCardinality(String),
    owner String,
    claimed_at DateTime64(3, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    released UInt8
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/chute_migration_lock', '{shard}-{replica}')
ORDER BY (lock, claimed_at)
TTL toDateTime(claimed_at) + INTERVAL 1 DAY;

-- 0001_dead_letters (up)
CREATE TABLE IF NOT EXISTS chute_dead_letters_local ON CLUSTER `chute_cluster` (
    time DateTime64(3, 'UTC'),
    `table` LowCardinality(String),
    source LowCardinality(String),
    error_code Int32,
    error String,
    `row` String,
    context Map(LowCardinality(String), String)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/chute_dead_letters_local', '{replica}')
PARTITION BY toYYYYMM(time)
ORDER BY (`table`, time)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS chute_dead_letters ON CLUSTER `chute_cluster` AS chute_dead_letters_local
ENGINE = Distributed('chute_cluster', 'chute', 'chute_dead_letters_local', cityHash64(`row`));

-- 0001_dead_letters (down)
DROP TABLE IF EXISTS chute_dead_letters ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS chute_dead_letters_local ON CLUSTER `chute_cluster` SYNC;

-- 0002_k6 (up)
CREATE TABLE IF NOT EXISTS k6_samples_local ON CLUSTER `chute_cluster` (
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
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/k6_samples_local', '{replica}')
PARTITION BY toDate(timestamp)
ORDER BY (run_id, metric, timestamp)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS k6_samples ON CLUSTER `chute_cluster` AS k6_samples_local
ENGINE = Distributed('chute_cluster', 'chute', 'k6_samples_local', cityHash64(run_id));

CREATE TABLE IF NOT EXISTS k6_metrics_local ON CLUSTER `chute_cluster` (
    run_id String,
    name String,
    type LowCardinality(String),
    contains LowCardinality(String),
    thresholds Array(String),
    submetrics Array(String),
    source LowCardinality(String),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/k6_metrics_local', '{replica}', updated_at)
ORDER BY (run_id, name)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS k6_metrics ON CLUSTER `chute_cluster` AS k6_metrics_local
ENGINE = Distributed('chute_cluster', 'chute', 'k6_metrics_local', cityHash64(run_id));

CREATE TABLE IF NOT EXISTS k6_runs_local ON CLUSTER `chute_cluster` (
    run_id String,
    first_sample SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    last_sample SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    samples SimpleAggregateFunction(sum, UInt64),
    sources SimpleAggregateFunction(groupUniqArrayArray, Array(String))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/k6_runs_local', '{replica}')
ORDER BY run_id
-- The view's inserts carry tokens derived from the source insert's, so a replayed insert
-- into k6_samples does not count its samples twice here either.
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS k6_runs ON CLUSTER `chute_cluster` AS k6_runs_local
ENGINE = Distributed('chute_cluster', 'chute', 'k6_runs_local', cityHash64(run_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS k6_runs_mv ON CLUSTER `chute_cluster` TO k6_runs_local AS
SELECT
    toString(run_id) AS run_id,
    min(timestamp) AS first_sample,
    max(timestamp) AS last_sample,
    count() AS samples,
    groupUniqArray(toString(source)) AS sources
FROM k6_samples_local
GROUP BY run_id;

CREATE TABLE IF NOT EXISTS k6_imports ON CLUSTER `chute_cluster` (
    file_sha256 String,
    file_name String,
    format LowCardinality(String),
    run_id String,
    samples UInt64,
    imported_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/k6_imports', '{shard}-{replica}', imported_at)
ORDER BY file_sha256
SETTINGS non_replicated_deduplication_window = 1000;

-- 0002_k6 (down)
DROP TABLE IF EXISTS k6_runs_mv ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS k6_runs ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS k6_runs_local ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS k6_imports ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS k6_metrics ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS k6_metrics_local ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS k6_samples ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS k6_samples_local ON CLUSTER `chute_cluster` SYNC;

-- 0003_influx_points (up)
CREATE TABLE IF NOT EXISTS influx_points_local ON CLUSTER `chute_cluster` (
    database LowCardinality(String),
    measurement LowCardinality(String),
    timestamp DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    tags Map(LowCardinality(String), String),
    fields Map(LowCardinality(String), Float64),
    string_fields Map(LowCardinality(String), String)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/influx_points_local', '{replica}')
PARTITION BY toDate(timestamp)
ORDER BY (database, measurement, timestamp)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS influx_points ON CLUSTER `chute_cluster` AS influx_points_local
ENGINE = Distributed('chute_cluster', 'chute', 'influx_points_local', cityHash64(measurement));

-- 0003_influx_points (down)
DROP TABLE IF EXISTS influx_points ON CLUSTER `chute_cluster` SYNC;
DROP TABLE IF EXISTS influx_points_local ON CLUSTER `chute_cluster` SYNC;

