DROP TABLE IF EXISTS otel_attribute_catalog_feed_mv;
DROP TABLE IF EXISTS otel_attribute_catalog_feed;

-- Migration 0005's views, as they were.
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
