//! k6 knowledge for chute: the built-in metrics, which run a sample belongs to, decoders that
//! turn k6's outputs (InfluxDB writes, `--out json`, `--out csv`) into `k6_samples` batches, k6's
//! threshold language, and the end-of-test summary of a stored run.
//!
//! Decoding knows no network and no HTTP: callers hand over bytes or readers and decide where
//! the batches go. The summary reads the store through `chute_store::queries::k6`.

pub mod builtin;
pub mod csv;
pub mod error;
pub mod import;
pub mod influx;
pub mod json;
pub mod runs;
pub mod summary;
pub mod thresholds;
mod time;

pub use builtin::{MetricType, builtin_contains, builtin_type};
pub use csv::CsvImport;
pub use error::K6Error;
pub use import::{
    FileDigests, ImportFormat, ImportOptions, ImportSummary, content_sha256, decompressing_reader, file_digests,
    sniff_format,
};
pub use influx::{InfluxDecoded, InfluxWriteContext, decode_influx_write};
pub use json::JsonImport;
pub use runs::{RunAssigner, RunLookup, StoreRunLookup};
pub use summary::{RunSummary, SummaryRequest, render_text, run_summary};
