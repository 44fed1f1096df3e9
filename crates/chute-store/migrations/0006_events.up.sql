-- Plain HTTP JSON events (`POST /api/v1/events/events`, docs/events.md): one row per event.
-- Timestamp is the event's `timestamp`/`Timestamp` field, else the time chute received it; Name,
-- Type and Service come from the fields of those names (or their lowercase forms); Event keeps
-- the whole event as sent (JSON text: query it with JSONExtract*, or cast it to JSON).
-- Sorted for "one kind of event over time"; `non_replicated_deduplication_window` because
-- chute's retries carry insert deduplication tokens.
CREATE TABLE IF NOT EXISTS events (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    Name LowCardinality(String) CODEC(ZSTD(1)),
    Type LowCardinality(String) CODEC(ZSTD(1)),
    Service LowCardinality(String) CODEC(ZSTD(1)),
    Event String CODEC(ZSTD(1))
) ENGINE = MergeTree
PARTITION BY toYYYYMM(Timestamp)
ORDER BY (Name, Type, Timestamp)
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;
