-- The telemetry explorer's catalogs, kept by the engine at every insert into the otel_* tables
-- (materialized views), so that "which services, which attributes, how many distinct values"
-- is answered from small tables instead of scans of the raw data. See docs/explorer.md.
--
-- Exact distinct counts: each catalog row keeps a uniqExact state (the set of values, stored as
-- 128-bit hashes of them), merged in the background and at query time with uniqExactMerge. Merging
-- sets is exact whatever the order or grouping of inserts, so the count for one service, for all
-- services, or for one key over every metric is exact. A separate (key, value) table with
-- ReplacingMergeTree would also be exact but needs FINAL or a GROUP BY over every distinct value
-- at query time; the states answer from one row per key.
--
-- Retries: every target keeps `non_replicated_deduplication_window`, and the views' inserts carry
-- tokens derived from the source insert's, so a replayed insert into otel_logs (the same spool
-- batch under the same token) adds nothing here either; counts (Occurrences, Items) stay exact.
--
-- Value types are not kept here: the exporter's tables store every attribute as text; the API
-- infers types from the sample values.

-- One row per (signal, resource|item attribute, service, key, name) where name is the metric
-- name, span name or (logs) the instrumentation scope name.
CREATE TABLE IF NOT EXISTS otel_attribute_catalog (
    Signal LowCardinality(String),
    Scope LowCardinality(String),
    ServiceName LowCardinality(String),
    Key String,
    Name String,
    `Values` AggregateFunction(uniqExact, String),
    Occurrences SimpleAggregateFunction(sum, UInt64),
    FirstSeen SimpleAggregateFunction(min, DateTime),
    LastSeen SimpleAggregateFunction(max, DateTime),
    Samples AggregateFunction(groupUniqArray(5), String)
) ENGINE = AggregatingMergeTree
ORDER BY (Signal, Key, ServiceName, Scope, Name)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_attribute_catalog_logs_mv TO otel_attribute_catalog AS
SELECT
    'log' AS Signal,
    a.1 AS Scope,
    ServiceName,
    a.2 AS Key,
    toString(ScopeName) AS Name,
    uniqExactState(a.3) AS `Values`,
    count() AS Occurrences,
    min(TimestampTime) AS FirstSeen,
    max(TimestampTime) AS LastSeen,
    groupUniqArrayState(5)(a.3) AS Samples
FROM otel_logs
ARRAY JOIN arrayConcat(
    arrayMap((k, v) -> ('resource', toString(k), v), mapKeys(ResourceAttributes), mapValues(ResourceAttributes)),
    arrayMap((k, v) -> ('item', toString(k), v), mapKeys(LogAttributes), mapValues(LogAttributes))
) AS a
GROUP BY Signal, Scope, ServiceName, Key, Name;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_attribute_catalog_traces_mv TO otel_attribute_catalog AS
SELECT
    'span' AS Signal,
    a.1 AS Scope,
    ServiceName,
    a.2 AS Key,
    toString(SpanName) AS Name,
    uniqExactState(a.3) AS `Values`,
    count() AS Occurrences,
    min(toDateTime(Timestamp)) AS FirstSeen,
    max(toDateTime(Timestamp)) AS LastSeen,
    groupUniqArrayState(5)(a.3) AS Samples
FROM otel_traces
ARRAY JOIN arrayConcat(
    arrayMap((k, v) -> ('resource', toString(k), v), mapKeys(ResourceAttributes), mapValues(ResourceAttributes)),
    arrayMap((k, v) -> ('item', toString(k), v), mapKeys(SpanAttributes), mapValues(SpanAttributes))
) AS a
GROUP BY Signal, Scope, ServiceName, Key, Name;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_attribute_catalog_metrics_gauge_mv TO otel_attribute_catalog AS
SELECT
    'metric' AS Signal,
    a.1 AS Scope,
    ServiceName,
    a.2 AS Key,
    toString(MetricName) AS Name,
    uniqExactState(a.3) AS `Values`,
    count() AS Occurrences,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen,
    groupUniqArrayState(5)(a.3) AS Samples
FROM otel_metrics_gauge
ARRAY JOIN arrayConcat(
    arrayMap((k, v) -> ('resource', toString(k), v), mapKeys(ResourceAttributes), mapValues(ResourceAttributes)),
    arrayMap((k, v) -> ('item', toString(k), v), mapKeys(Attributes), mapValues(Attributes))
) AS a
GROUP BY Signal, Scope, ServiceName, Key, Name;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_attribute_catalog_metrics_sum_mv TO otel_attribute_catalog AS
SELECT
    'metric' AS Signal,
    a.1 AS Scope,
    ServiceName,
    a.2 AS Key,
    toString(MetricName) AS Name,
    uniqExactState(a.3) AS `Values`,
    count() AS Occurrences,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen,
    groupUniqArrayState(5)(a.3) AS Samples
FROM otel_metrics_sum
ARRAY JOIN arrayConcat(
    arrayMap((k, v) -> ('resource', toString(k), v), mapKeys(ResourceAttributes), mapValues(ResourceAttributes)),
    arrayMap((k, v) -> ('item', toString(k), v), mapKeys(Attributes), mapValues(Attributes))
) AS a
GROUP BY Signal, Scope, ServiceName, Key, Name;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_attribute_catalog_metrics_histogram_mv TO otel_attribute_catalog AS
SELECT
    'metric' AS Signal,
    a.1 AS Scope,
    ServiceName,
    a.2 AS Key,
    toString(MetricName) AS Name,
    uniqExactState(a.3) AS `Values`,
    count() AS Occurrences,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen,
    groupUniqArrayState(5)(a.3) AS Samples
FROM otel_metrics_histogram
ARRAY JOIN arrayConcat(
    arrayMap((k, v) -> ('resource', toString(k), v), mapKeys(ResourceAttributes), mapValues(ResourceAttributes)),
    arrayMap((k, v) -> ('item', toString(k), v), mapKeys(Attributes), mapValues(Attributes))
) AS a
GROUP BY Signal, Scope, ServiceName, Key, Name;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_attribute_catalog_metrics_exponential_histogram_mv TO otel_attribute_catalog AS
SELECT
    'metric' AS Signal,
    a.1 AS Scope,
    ServiceName,
    a.2 AS Key,
    toString(MetricName) AS Name,
    uniqExactState(a.3) AS `Values`,
    count() AS Occurrences,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen,
    groupUniqArrayState(5)(a.3) AS Samples
FROM otel_metrics_exponential_histogram
ARRAY JOIN arrayConcat(
    arrayMap((k, v) -> ('resource', toString(k), v), mapKeys(ResourceAttributes), mapValues(ResourceAttributes)),
    arrayMap((k, v) -> ('item', toString(k), v), mapKeys(Attributes), mapValues(Attributes))
) AS a
GROUP BY Signal, Scope, ServiceName, Key, Name;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_attribute_catalog_metrics_summary_mv TO otel_attribute_catalog AS
SELECT
    'metric' AS Signal,
    a.1 AS Scope,
    ServiceName,
    a.2 AS Key,
    toString(MetricName) AS Name,
    uniqExactState(a.3) AS `Values`,
    count() AS Occurrences,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen,
    groupUniqArrayState(5)(a.3) AS Samples
FROM otel_metrics_summary
ARRAY JOIN arrayConcat(
    arrayMap((k, v) -> ('resource', toString(k), v), mapKeys(ResourceAttributes), mapValues(ResourceAttributes)),
    arrayMap((k, v) -> ('item', toString(k), v), mapKeys(Attributes), mapValues(Attributes))
) AS a
GROUP BY Signal, Scope, ServiceName, Key, Name;

-- One row per metric and service: type, unit, data points, distinct series (resource and
-- point attributes hashed together).
CREATE TABLE IF NOT EXISTS otel_metric_catalog (
    ServiceName LowCardinality(String),
    MetricName String,
    MetricType LowCardinality(String),
    Unit SimpleAggregateFunction(any, String),
    Description SimpleAggregateFunction(any, String),
    Points SimpleAggregateFunction(sum, UInt64),
    Series AggregateFunction(uniqExact, UInt64),
    FirstSeen SimpleAggregateFunction(min, DateTime),
    LastSeen SimpleAggregateFunction(max, DateTime)
) ENGINE = AggregatingMergeTree
ORDER BY (MetricName, ServiceName, MetricType)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_metric_catalog_gauge_mv TO otel_metric_catalog AS
SELECT
    ServiceName,
    toString(MetricName) AS MetricName,
    'gauge' AS MetricType,
    any(MetricUnit) AS Unit,
    any(MetricDescription) AS Description,
    count() AS Points,
    uniqExactState(sipHash64(mapKeys(ResourceAttributes), mapValues(ResourceAttributes), mapKeys(Attributes), mapValues(Attributes))) AS Series,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen
FROM otel_metrics_gauge
GROUP BY ServiceName, MetricName;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_metric_catalog_sum_mv TO otel_metric_catalog AS
SELECT
    ServiceName,
    toString(MetricName) AS MetricName,
    'sum' AS MetricType,
    any(MetricUnit) AS Unit,
    any(MetricDescription) AS Description,
    count() AS Points,
    uniqExactState(sipHash64(mapKeys(ResourceAttributes), mapValues(ResourceAttributes), mapKeys(Attributes), mapValues(Attributes))) AS Series,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen
FROM otel_metrics_sum
GROUP BY ServiceName, MetricName;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_metric_catalog_histogram_mv TO otel_metric_catalog AS
SELECT
    ServiceName,
    toString(MetricName) AS MetricName,
    'histogram' AS MetricType,
    any(MetricUnit) AS Unit,
    any(MetricDescription) AS Description,
    count() AS Points,
    uniqExactState(sipHash64(mapKeys(ResourceAttributes), mapValues(ResourceAttributes), mapKeys(Attributes), mapValues(Attributes))) AS Series,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen
FROM otel_metrics_histogram
GROUP BY ServiceName, MetricName;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_metric_catalog_exponential_histogram_mv TO otel_metric_catalog AS
SELECT
    ServiceName,
    toString(MetricName) AS MetricName,
    'exponential_histogram' AS MetricType,
    any(MetricUnit) AS Unit,
    any(MetricDescription) AS Description,
    count() AS Points,
    uniqExactState(sipHash64(mapKeys(ResourceAttributes), mapValues(ResourceAttributes), mapKeys(Attributes), mapValues(Attributes))) AS Series,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen
FROM otel_metrics_exponential_histogram
GROUP BY ServiceName, MetricName;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_metric_catalog_summary_mv TO otel_metric_catalog AS
SELECT
    ServiceName,
    toString(MetricName) AS MetricName,
    'summary' AS MetricType,
    any(MetricUnit) AS Unit,
    any(MetricDescription) AS Description,
    count() AS Points,
    uniqExactState(sipHash64(mapKeys(ResourceAttributes), mapValues(ResourceAttributes), mapKeys(Attributes), mapValues(Attributes))) AS Series,
    min(TimeUnix) AS FirstSeen,
    max(TimeUnix) AS LastSeen
FROM otel_metrics_summary
GROUP BY ServiceName, MetricName;

-- One row per service and signal (logs and spans; metrics are summed from otel_metric_catalog):
-- items, errors (spans with status Error, logs with severity ERROR or worse), first and last seen.
CREATE TABLE IF NOT EXISTS otel_services (
    ServiceName LowCardinality(String),
    Signal LowCardinality(String),
    Items SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    FirstSeen SimpleAggregateFunction(min, DateTime),
    LastSeen SimpleAggregateFunction(max, DateTime)
) ENGINE = AggregatingMergeTree
ORDER BY (ServiceName, Signal)
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_services_logs_mv TO otel_services AS
SELECT
    ServiceName,
    'log' AS Signal,
    count() AS Items,
    countIf(SeverityNumber >= 17) AS Errors,
    min(TimestampTime) AS FirstSeen,
    max(TimestampTime) AS LastSeen
FROM otel_logs
GROUP BY ServiceName;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_services_traces_mv TO otel_services AS
SELECT
    ServiceName,
    'span' AS Signal,
    count() AS Items,
    countIf(StatusCode = 'Error') AS Errors,
    min(toDateTime(Timestamp)) AS FirstSeen,
    max(toDateTime(Timestamp)) AS LastSeen
FROM otel_traces
GROUP BY ServiceName;

-- Log templates (see chute-patterns), one row per service, template, severity and hour. chute
-- computes the rows at ingest from the same request as the logs and inserts them through the
-- spool like any table, under their own deduplication tokens.
CREATE TABLE IF NOT EXISTS otel_log_patterns (
    ServiceName LowCardinality(String),
    TemplateId UInt64,
    SeverityText LowCardinality(String),
    Bucket DateTime,
    Template SimpleAggregateFunction(any, String),
    Count SimpleAggregateFunction(sum, UInt64),
    Example SimpleAggregateFunction(any, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(Bucket)
ORDER BY (ServiceName, TemplateId, SeverityText, Bucket)
SETTINGS non_replicated_deduplication_window = 1000;
