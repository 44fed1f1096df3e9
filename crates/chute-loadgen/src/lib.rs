//! A load generator for chute's protocols: a *client* of chute (tooling, not part of the
//! server), used by `chute loadgen` and `chute bench`.
//!
//! - [`payload`]: what is sent. A [`Payload`] hands out ready messages by request number from
//!   bodies generated before the run ([`k6gen`] makes k6's sample mix) or captured from real
//!   clients, so the generator is never the bottleneck, and makes visibility markers with the
//!   probe that finds them. Over HTTP ([`http`]) or as JetStream publishes ([`nats`]).
//! - [`run`]: how it is sent. The closed model (N connections in a send-wait loop) finds the
//!   peak; the open model (arrivals at a rate, latency from the intended send time, an
//!   in-flight cap with counted overflow) measures latency at a chosen load without
//!   coordinated omission. Scenarios and `--stages` shape the level over time ([`spec`]).
//! - [`report`]: what came of it: requests and rows sent, acknowledged (2xx, or JetStream's
//!   publish ack), rejected (429, or an error ack), failed; rows/s; acknowledgement latency percentiles (HdrHistogram); end-to-end visibility
//!   latency (marker rows polled through chute's API); thresholds and the exit code 99.

pub mod events;
pub mod http;
pub mod k6gen;
pub mod nats;
pub mod payload;
pub mod report;
pub mod run;
pub mod spec;

pub use payload::{Payload, PayloadKind, PayloadOptions, build};
pub use report::Report;
pub use run::{LoadOptions, Model, fresh_run_id, run};
pub use spec::{Profile, Scenario, Threshold, parse_duration, parse_stages};

#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The run was described wrongly (durations, stages, thresholds, protocol, ...).
    #[error("{0}")]
    Spec(String),
    /// The target URL cannot be used.
    #[error("{0}")]
    Target(String),
}
