//! [`K6Error`]: the one error type of this crate; every message says what was wrong and where.

use std::error::Error as StdError;

/// Everything that can go wrong while decoding k6 data or summarizing a run.
#[derive(Debug, thiserror::Error)]
pub enum K6Error {
    /// An InfluxDB write body that is not valid line protocol (nothing of the body was decoded).
    #[error("invalid line protocol: {0}")]
    LineProtocol(#[from] chute_influx::ParseError),

    /// Input that is not k6 output at all (a file of another kind, binary data).
    #[error("not k6 {format} output: {reason}")]
    NotK6 { format: &'static str, reason: String },

    /// A line of a k6 JSON file that could not be decoded.
    #[error("json line {line}: {reason}")]
    Json { line: u64, reason: String },

    /// A line of a k6 CSV file that could not be decoded.
    #[error("csv line {line}: {reason}")]
    Csv { line: u64, reason: String },

    /// Reading the input failed (a truncated or corrupt gzip stream, an I/O error).
    #[error("cannot read the {format} input after line {line}: {source}")]
    Read {
        format: &'static str,
        line: u64,
        #[source]
        source: std::io::Error,
    },

    /// The callback that receives decoded batches refused one.
    #[error("the batch of {rows} samples ending at line {line} was not accepted: {source}")]
    Emit {
        line: u64,
        rows: usize,
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },

    /// A threshold expression k6 would reject, or one that does not fit its metric (`metric`
    /// is empty when the expression was parsed on its own).
    #[error("invalid threshold {expression:?}{}: {reason}", on_metric(.metric))]
    Threshold { metric: String, expression: String, reason: String },

    /// A metric name such as `http_req_duration{scenario:buy}` that is malformed.
    #[error("invalid metric name {name:?}: {reason}")]
    MetricName { name: String, reason: String },

    /// A metric type other than counter, gauge, rate or trend.
    #[error("unknown metric type {0:?} (expected counter, gauge, rate or trend)")]
    UnknownMetricType(String),

    /// No samples are stored for the run.
    #[error("run {0:?} not found (no samples are stored for it)")]
    RunNotFound(String),

    /// The store failed to answer.
    #[error("store: {0}")]
    Store(#[from] chute_store::StoreError),

    /// A batch could not be assembled (a bug, not bad input).
    #[error("internal: cannot build a batch: {0}")]
    Internal(String),
}

fn on_metric(metric: &str) -> String {
    if metric.is_empty() { String::new() } else { format!(" on {metric}") }
}
