-- The attribute catalog kept from rows chute computes at ingest (chute_patterns::catalog) instead
-- of materialized views that ARRAY JOIN every attribute of every otel_* row: chute aggregates a
-- request to one row per (signal, scope, service, key, name) and sends each distinct value only
-- while it has not seen it acknowledged before. The feed rows travel with their source rows (one
-- submit_all, the same spool batch, their own deduplication tokens); the engine keeps none of
-- them (Null) and folds them into otel_attribute_catalog's states. See docs/explorer.md.
--
-- otel_attribute_catalog itself is unchanged: what migration 0005's views stored stays valid.
-- Samples come only from the values chute marks (a group's first values), so they do not depend
-- on the order in which parts are merged.

DROP TABLE IF EXISTS otel_attribute_catalog_logs_mv;
DROP TABLE IF EXISTS otel_attribute_catalog_traces_mv;
DROP TABLE IF EXISTS otel_attribute_catalog_metrics_gauge_mv;
DROP TABLE IF EXISTS otel_attribute_catalog_metrics_sum_mv;
DROP TABLE IF EXISTS otel_attribute_catalog_metrics_histogram_mv;
DROP TABLE IF EXISTS otel_attribute_catalog_metrics_exponential_histogram_mv;
DROP TABLE IF EXISTS otel_attribute_catalog_metrics_summary_mv;

CREATE TABLE IF NOT EXISTS otel_attribute_catalog_feed (
    Signal LowCardinality(String),
    Scope LowCardinality(String),
    ServiceName LowCardinality(String),
    Key String,
    Name String,
    Value String,
    Sample UInt8,
    Occurrences UInt64,
    FirstSeen DateTime,
    LastSeen DateTime
) ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS otel_attribute_catalog_feed_mv TO otel_attribute_catalog AS
SELECT
    Signal,
    Scope,
    ServiceName,
    Key,
    Name,
    uniqExactState(Value) AS `Values`,
    sum(Occurrences) AS Occurrences,
    min(FirstSeen) AS FirstSeen,
    max(LastSeen) AS LastSeen,
    groupUniqArrayStateIf(5)(Value, Sample = 1) AS Samples
FROM otel_attribute_catalog_feed
GROUP BY Signal, Scope, ServiceName, Key, Name;
