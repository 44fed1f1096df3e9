-- The table of the NATS envelope example: typed columns for the envelope, a JSON column for its
-- `data` Struct, and the stream position of each message (_nats_stream, _nats_seq) so that a
-- message redelivered after a crash is recognised and stored once (see docs/nats.md).
CREATE TABLE IF NOT EXISTS device_events (
    organization_id LowCardinality(String),
    end_device_id String,
    occurred_at DateTime64(9, 'UTC'),
    processed_at DateTime64(9, 'UTC'),
    data JSON,
    _nats_stream LowCardinality(String),
    _nats_seq UInt64,
    _nats_subject LowCardinality(String),
    _nats_published DateTime64(9, 'UTC'),
    INDEX nats_seq _nats_seq TYPE minmax GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (organization_id, end_device_id, occurred_at)
SETTINGS non_replicated_deduplication_window = 1000;
