//! chute's configuration: the typed settings, their documented defaults, and the layering
//! defaults < TOML file (`--config` / `CHUTE_CONFIG`) < environment (`CHUTE_*`) < flags.
//!
//! Every key has a default, so an empty file is a valid configuration. Unknown keys are
//! errors that name the key (and the file or variable it came from). Secrets (passwords,
//! tokens, keys) are masked whenever the configuration is printed.

mod events;
mod layers;
mod nats;
pub mod units;

pub use events::{EventTableConfig, EventsConfig};
pub use layers::{ConfigError, Override, load};
pub use nats::{NatsConfig, NatsConsumerConfig, NatsDecoder};
pub use units::{ByteSize, Duration};

use serde::{Deserialize, Serialize};

/// The whole configuration. Field docs are the reference documentation (`docs/configuration.md`
/// is generated from the same defaults by `chute config defaults`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where chute keeps its state: the spool and, for the embedded store, the engine's data.
    pub data_dir: String,
    pub server: ServerConfig,
    pub otlp: OtlpConfig,
    pub store: StoreConfig,
    pub batch: BatchConfig,
    pub spool: SpoolConfig,
    pub delivery: DeliveryConfig,
    pub limits: LimitsConfig,
    pub k6: K6Config,
    pub log: LogConfig,
    pub debug: DebugConfig,
    pub clickhouse_http: ClickhouseHttpConfig,
    pub nats: NatsConfig,
    pub events: EventsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: "./chute-data".into(),
            server: ServerConfig::default(),
            otlp: OtlpConfig::default(),
            store: StoreConfig::default(),
            batch: BatchConfig::default(),
            spool: SpoolConfig::default(),
            delivery: DeliveryConfig::default(),
            limits: LimitsConfig::default(),
            k6: K6Config::default(),
            log: LogConfig::default(),
            debug: DebugConfig::default(),
            clickhouse_http: ClickhouseHttpConfig::default(),
            nats: NatsConfig::default(),
            events: EventsConfig::default(),
        }
    }
}

/// The main HTTP listener: InfluxDB v1/v2 write API, k6 import, Prometheus remote write, the
/// REST API, health and metrics.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address of the main HTTP listener. 8086 is InfluxDB's port, so k6's
    /// `--out influxdb=http://localhost:8086/k6` works unchanged.
    pub listen: String,
    /// How long a SIGTERM/SIGINT waits for buffered data to be delivered before exiting (what
    /// is left stays in the spool for the next start).
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { listen: "127.0.0.1:8086".into(), shutdown_timeout: Duration::from_secs(10) }
    }
}

/// OpenTelemetry OTLP receivers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    pub enabled: bool,
    /// OTLP/gRPC listener (the OTLP default port is 4317).
    pub grpc_listen: String,
    /// OTLP/HTTP listener (the OTLP default port is 4318).
    pub http_listen: String,
    /// Attributes kept per log record, span, data point or resource; the rest are dropped
    /// (counted in `chute_otlp_attributes_dropped_total`).
    pub max_attributes: usize,
    /// Longer attribute values are cut at a character boundary (counted in
    /// `chute_otlp_attributes_truncated_total`).
    pub max_attribute_value_bytes: ByteSize,
    /// Keep the telemetry explorer's attribute catalog and log patterns at ingest (OTLP and
    /// remote write). Off, requests cost less CPU and new data is not catalogued.
    pub catalog: bool,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            enabled: true,
            grpc_listen: "127.0.0.1:4317".into(),
            http_listen: "127.0.0.1:4318".into(),
            max_attributes: 128,
            max_attribute_value_bytes: ByteSize(8 * 1024),
            catalog: true,
        }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StoreTarget {
    /// The ClickHouse engine embedded in the process (chDB).
    Embedded,
    /// A ClickHouse server or cluster over HTTP(S).
    Clickhouse,
    /// Accept and discard batches (to measure the receive path alone).
    Null,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub target: StoreTarget,
    pub embedded: EmbeddedConfig,
    pub clickhouse: ClickhouseConfig,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            target: StoreTarget::Embedded,
            embedded: EmbeddedConfig::default(),
            clickhouse: ClickhouseConfig::default(),
        }
    }
}

/// How request bodies sent to a ClickHouse server are compressed (`Content-Encoding`).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RemoteCompression {
    Lz4,
    Zstd,
    None,
}

/// A ClickHouse server or cluster over its HTTP(S) interface (`store.target = "clickhouse"`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClickhouseConfig {
    /// Base URLs of ClickHouse's HTTP interface (`http://host:8123`, `https://host:8443`). Requests
    /// go round robin over the healthy ones; one that fails is skipped until `/ping` answers.
    pub endpoints: Vec<String>,
    pub user: String,
    pub password: String,
    /// The database chute's tables live in (created if missing).
    pub database: String,
    /// A cluster name from the servers' `remote_servers`: tables become `Replicated*MergeTree`
    /// `<table>_local` tables plus `Distributed` tables, created `ON CLUSTER`. Empty: one server.
    pub cluster: String,
    /// Request body compression: lz4, zstd or none.
    pub compression: RemoteCompression,
    pub connect_timeout: Duration,
    /// The longest one request (an insert, a query, a DDL statement) may take.
    pub request_timeout: Duration,
    /// How often an endpoint that failed is probed with `GET /ping`.
    pub health_check_interval: Duration,
    /// Let the server buffer inserts (`async_insert=1, wait_for_async_insert=1`). Off: every
    /// insert is a part of its own, visible when the call returns.
    pub async_insert: bool,
    /// A migration lock older than this is taken over (its holder died).
    pub migration_lock_ttl: Duration,
    pub tls: ClickhouseTlsConfig,
}

impl Default for ClickhouseConfig {
    fn default() -> Self {
        ClickhouseConfig {
            endpoints: vec!["http://127.0.0.1:8123".into()],
            user: "default".into(),
            password: String::new(),
            database: "default".into(),
            cluster: String::new(),
            compression: RemoteCompression::Lz4,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            health_check_interval: Duration::from_secs(5),
            async_insert: false,
            migration_lock_ttl: Duration::from_secs(300),
            tls: ClickhouseTlsConfig::default(),
        }
    }
}

/// TLS for `https://` endpoints (rustls). Empty paths: the Mozilla root certificates, no client
/// certificate.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ClickhouseTlsConfig {
    /// PEM file of the certificate authorities to trust instead of the built-in roots.
    pub ca_file: String,
    /// PEM file of a client certificate (chain), for servers that require one.
    pub cert_file: String,
    /// PEM file of the client certificate's private key.
    pub key_file: String,
}

/// A ClickHouse-compatible HTTP interface over the embedded engine, for ClickHouse's own clients.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClickhouseHttpConfig {
    pub enabled: bool,
    /// ClickHouse's HTTP port is 8123.
    pub listen: String,
    /// Who may connect. A user with `readonly = true` can only read (SELECT, SHOW, DESCRIBE...).
    pub users: Vec<ClickhouseUser>,
    /// Statements run at the same time; more wait.
    pub max_concurrent_queries: u32,
    /// `X-ClickHouse-Server-Display-Name`. Empty: the host name.
    pub display_name: String,
}

impl Default for ClickhouseHttpConfig {
    fn default() -> Self {
        ClickhouseHttpConfig {
            enabled: false,
            listen: "127.0.0.1:8123".into(),
            users: vec![ClickhouseUser::default()],
            max_concurrent_queries: 16,
            display_name: String::new(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClickhouseUser {
    pub name: String,
    pub password: String,
    pub readonly: bool,
}

impl Default for ClickhouseUser {
    fn default() -> Self {
        ClickhouseUser { name: "default".into(), password: String::new(), readonly: false }
    }
}

/// The embedded engine. Empty paths mean "find it": see `docs/configuration.md`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedConfig {
    /// Path of chDB's `_chdb.abi3.so`. Empty: `$VIRTUAL_ENV`, then `.venv` beside the binary's
    /// project or the working directory.
    pub chdb_library: String,
    /// Path of a libpython3 shared library (the engine's Python stubs need one loaded).
    /// Empty: the first `libpython3.*.so.1.0` in the system library directories.
    pub libpython: String,
    /// The engine's data directory. Empty: `<data_dir>/clickhouse`.
    pub path: String,
    /// Linux nice value of the engine's background merge threads (0 to 19; 0: as the rest of
    /// chute). Merges then yield the cores to receiving and inserting, and run when a core is
    /// free: on the 2-core bench machine 10 raised the rows stored under a closed-model load.
    pub merge_nice: u8,
    /// Linux nice value of the engine's worker threads (which run inserts and queries) and of
    /// chute's delivery threads (0 to 19; 0: as the rest of chute). Spooled rows are inserted
    /// in the background, and a client waits for each request being received, so receiving
    /// goes first when both want the cores: on the 2-core bench machine, 5 cut OTLP metrics'
    /// ack p99 at 70% of their peak several times over. Under more load than the machine can
    /// store, it acknowledges more and stores less per second (the spool holds the difference;
    /// ~9% less for OTLP logs); 0 favours storing. Ignored with the spool off, where clients
    /// wait for the inserts.
    pub insert_nice: u8,
    /// ClickHouse's setting of the same name for chute's own inserts. false (the default): a new
    /// part is written without its skip indexes (the `otel_*` tables' text and bloom filter
    /// indexes), and the engine builds them when it merges the part, which it does within
    /// seconds under load. A merge rebuilds a part's indexes anyway, so building them at insert
    /// too was work done twice: OTLP logs stored under wrk rose ~20% without it. Queries give
    /// the same results either way; only a search on the newest, not yet merged parts reads
    /// them whole. true: indexes at insert, as ClickHouse does by default.
    pub materialize_skip_indexes_on_insert: bool,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            chdb_library: String::new(),
            libpython: String::new(),
            path: String::new(),
            merge_nice: 10,
            insert_nice: 5,
            materialize_skip_indexes_on_insert: false,
        }
    }
}

/// Limits of one insert. A batch is flushed when any limit is reached. ClickHouse wants
/// few, large inserts: each insert makes a part, and too many parts stops inserts. Below
/// 400,000 rows/s a table's batches are flushed by `max_age`; above, `max_rows` (400,000 since
/// 2026-12-06, 200,000 before) or `max_bytes` sets the part size. At 500k k6 samples/s the
/// larger parts left the engine fewer merges: the sustained peak rose ~5% and ack p99 at 70%
/// of it was 19-26 ms against 24-29 ms, for ~0.3 s more visibility latency (docs/benchmarks.md).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    pub max_rows: u64,
    pub max_bytes: ByteSize,
    pub max_age: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig { max_rows: 400_000, max_bytes: ByteSize::mib(64), max_age: Duration::from_secs(1) }
    }
}

/// The write-ahead spool between receivers and the store.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// With the spool off, a client is answered only once its rows are in the store (rows are
    /// inserted as soon as the table's previous insert finished; see docs/durability.md).
    pub enabled: bool,
    /// Empty: `<data_dir>/spool`.
    pub dir: String,
    /// Group commit: appends are fsynced together at most this long after they arrive, and
    /// sooner after a sixteenth of it (125 µs) in which no append came. 2 ms: with many clients each
    /// waiting for its answer (16 connections of 40-record OTLP requests) 5 ms gave ~90k
    /// records/s and 2 ms ~113k; 1 ms and 0 were not better. A load that keeps the CPU busy
    /// gains nothing either way.
    pub fsync_interval: Duration,
    /// When the spool holds this much, receivers answer 429 / RESOURCE_EXHAUSTED.
    pub max_bytes: ByteSize,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            enabled: true,
            dir: String::new(),
            fsync_interval: Duration::from_millis(2),
            max_bytes: ByteSize::gib(8),
        }
    }
}

/// Delivery from the spool to the store: retries and the circuit breaker.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// First retry waits up to this long (full jitter).
    pub retry_base: Duration,
    /// No retry waits longer than this.
    pub retry_cap: Duration,
    /// Consecutive failures that open the breaker.
    pub breaker_failures: u32,
    /// How long an open breaker waits before a half-open probe.
    pub breaker_open_for: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry_base: Duration::from_millis(100),
            retry_cap: Duration::from_secs(30),
            breaker_failures: 5,
            breaker_open_for: Duration::from_secs(5),
        }
    }
}

/// Limits on what a client can send and on memory.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body accepted, after decompression (413 above it).
    pub max_body_bytes: ByteSize,
    /// Largest k6 file accepted by `POST /api/v1/k6/import` (streamed to disk, not memory).
    pub max_import_bytes: ByteSize,
    /// Memory for data received but not yet in the spool (or the store, spool off). Above it,
    /// receivers answer 429 / RESOURCE_EXHAUSTED with Retry-After.
    pub max_unflushed_bytes: ByteSize,
    /// Instead of answering 429 when full, accept and drop the newest data (counted, logged).
    pub drop_newest_when_full: bool,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: ByteSize::mib(64),
            max_import_bytes: ByteSize::gib(16),
            max_unflushed_bytes: ByteSize::mib(512),
            drop_newest_when_full: false,
        }
    }
}

/// k6 ingest rules.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct K6Config {
    /// Without a `testid` tag, a source's samples start a new run after this much silence.
    pub run_gap: Duration,
    /// InfluxDB databases whose writes are k6 samples even when the User-Agent is not k6.
    pub influx_databases: Vec<String>,
}

impl Default for K6Config {
    fn default() -> Self {
        K6Config { run_gap: Duration::from_secs(30), influx_databases: vec!["k6".into()] }
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter, e.g. `info` or `chute_pipeline=debug,info`.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { level: "info".into(), format: LogFormat::Text }
    }
}

/// Switches for chute's own tests. Never change them in production.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DebugConfig {
    /// Exposes `POST /debug/store-fault?mode=down|up`, which makes every insert fail (or heal).
    pub fault_injection: bool,
    /// When false, inserts carry no deduplication token (the crash test's negative control).
    pub dedup_tokens: bool,
    /// Waits this long between an insert and the removal of its spool segments, widening the
    /// window a crash can hit.
    pub pause_after_insert: Duration,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig { fault_injection: false, dedup_tokens: true, pause_after_insert: Duration::from_millis(0) }
    }
}

impl Config {
    /// The spool directory after defaults are applied.
    pub fn spool_dir(&self) -> std::path::PathBuf {
        if self.spool.dir.is_empty() {
            std::path::Path::new(&self.data_dir).join("spool")
        } else {
            self.spool.dir.clone().into()
        }
    }

    /// The embedded engine's data directory after defaults are applied.
    pub fn engine_dir(&self) -> std::path::PathBuf {
        if self.store.embedded.path.is_empty() {
            std::path::Path::new(&self.data_dir).join("clickhouse")
        } else {
            self.store.embedded.path.clone().into()
        }
    }

    /// The configuration as TOML with every secret replaced by `"***"`.
    pub fn to_masked_toml(&self) -> String {
        let mut value = toml::Value::try_from(self).expect("config serializes");
        layers::mask_secrets(&mut value);
        toml::to_string_pretty(&value).expect("config prints")
    }
}
