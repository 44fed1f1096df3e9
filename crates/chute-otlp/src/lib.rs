//! OTLP (OpenTelemetry protocol) request bodies — logs, traces and metrics, protobuf or JSON —
//! decoded into Arrow record batches for the OpenTelemetry collector's ClickHouse exporter tables
//! (`otel_logs`, `otel_traces`, `otel_metrics_*`; see `chute_tables::otel`), mapped the way the
//! exporter maps them, so that what reads those tables (Grafana's ClickHouse datasource) works
//! unchanged.
//!
//! No network here: the server hands over the body of an OTLP/HTTP request or the message of an
//! OTLP/gRPC call (without its framing) and answers with [`encode_response`].
//!
//! A body that cannot be decoded at all is an [`OtlpError`]. Items that are wrong on their own
//! (a trace id that is not 16 bytes, a metric with no known data) are refused one by one and
//! the rest is kept: [`Decoded::rejected`] and [`Decoded::rejection_message`] are what OTLP's
//! `partial_success` reports.

mod convert;
mod json;
pub mod proto;
pub mod value;
mod wire;

use arrow_array::RecordBatch;
use prost::Message;

/// The three OTLP signals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    Logs,
    Traces,
    Metrics,
}

impl Signal {
    /// The protobuf message of a request of this signal.
    pub fn request_name(self) -> &'static str {
        match self {
            Signal::Logs => "ExportLogsServiceRequest",
            Signal::Traces => "ExportTraceServiceRequest",
            Signal::Metrics => "ExportMetricsServiceRequest",
        }
    }

    /// What the signal's items are called (log records, spans, data points).
    pub fn items(self) -> &'static str {
        match self {
            Signal::Logs => "log records",
            Signal::Traces => "spans",
            Signal::Metrics => "data points",
        }
    }

    /// The tables a decoded request of this signal may have rows for.
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Signal::Logs => &["otel_logs"],
            Signal::Traces => &["otel_traces"],
            Signal::Metrics => &[
                "otel_metrics_gauge",
                "otel_metrics_sum",
                "otel_metrics_histogram",
                "otel_metrics_exponential_histogram",
                "otel_metrics_summary",
            ],
        }
    }
}

/// How a body is encoded: `application/x-protobuf` (and gRPC) or `application/json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// Limits applied to every attribute map (resource, scope, item, event, link, exemplar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Attributes kept per map; the rest are dropped (and counted).
    pub max_attributes: usize,
    /// Bytes kept of an attribute's value (as text); longer values are cut at a character
    /// boundary (and counted).
    pub max_attribute_value_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_attributes: 128, max_attribute_value_len: 8 * 1024 }
    }
}

/// A decoded request.
#[derive(Clone, Debug, Default)]
pub struct Decoded {
    /// One batch per table that has rows, in the table's column order.
    pub batches: Vec<(&'static str, RecordBatch)>,
    /// Items accepted: log records, spans or data points.
    pub accepted: u64,
    /// Items refused (invalid ids, a metric without known data), each counted once; a metric
    /// without data counts as one.
    pub rejected: u64,
    /// For OTLP's `partial_success.error_message`: how many were refused and the first problems,
    /// each with where it is in the request. None when nothing was refused.
    pub rejection_message: Option<String>,
    /// Attribute values cut to [`Limits::max_attribute_value_len`].
    pub truncated_attributes: u64,
    /// Attributes dropped beyond [`Limits::max_attributes`].
    pub dropped_attributes: u64,
}

impl Decoded {
    /// Rows over all batches.
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|(_, b)| b.num_rows()).sum()
    }

    /// The batch for `table`, if the request had rows for it.
    pub fn batch(&self, table: &str) -> Option<&RecordBatch> {
        self.batches.iter().find(|(t, _)| *t == table).map(|(_, b)| b)
    }
}

/// A body that cannot be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OtlpError {
    #[error("invalid protobuf {message}: {detail}")]
    Protobuf { message: &'static str, detail: String },
    /// `line` and `column` (1-based) are where the JSON parser stopped.
    #[error("invalid JSON {message}: {detail}")]
    Json { message: &'static str, detail: String, line: usize, column: usize },
}

/// Decodes a request body of `signal` into batches for the exporter's tables.
///
/// An empty body is a valid request with no items. Unknown fields are ignored.
pub fn decode(signal: Signal, encoding: Encoding, body: &[u8], limits: &Limits) -> Result<Decoded, OtlpError> {
    match (signal, encoding) {
        (Signal::Logs, Encoding::Protobuf) => match wire::logs(body, limits) {
            Some(decoded) => Ok(decoded),
            None => Ok(convert::logs(&from_protobuf(signal, body)?, limits)),
        },
        (Signal::Traces, Encoding::Protobuf) => match wire::traces(body, limits) {
            Some(decoded) => Ok(decoded),
            None => Ok(convert::traces(&from_protobuf(signal, body)?, limits)),
        },
        (Signal::Metrics, Encoding::Protobuf) => match wire::metrics(body, limits) {
            Some(decoded) => Ok(decoded),
            None => Ok(convert::metrics(&from_protobuf(signal, body)?, limits)),
        },
        (Signal::Logs, Encoding::Json) => Ok(convert::logs(&from_json(signal, body)?, limits)),
        (Signal::Traces, Encoding::Json) => Ok(convert::traces(&from_json(signal, body)?, limits)),
        (Signal::Metrics, Encoding::Json) => Ok(convert::metrics(&from_json(signal, body)?, limits)),
    }
}

fn from_protobuf<M: Message + Default>(signal: Signal, body: &[u8]) -> Result<M, OtlpError> {
    M::decode(body).map_err(|e| {
        let detail = e.to_string();
        let detail = detail.strip_prefix("failed to decode Protobuf message: ").unwrap_or(&detail).to_string();
        OtlpError::Protobuf { message: signal.request_name(), detail }
    })
}

fn from_json<M: Default + for<'de> serde::Deserialize<'de>>(signal: Signal, body: &[u8]) -> Result<M, OtlpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(M::default());
    }
    serde_json::from_slice(body).map_err(|e| OtlpError::Json {
        message: signal.request_name(),
        detail: e.to_string(),
        line: e.line(),
        column: e.column(),
    })
}

/// The `Export*ServiceResponse` of `signal` in `encoding`: `partial_success` is set when items
/// were rejected or a message is given, and left out otherwise (a full success).
pub fn encode_response(signal: Signal, encoding: Encoding, rejected: u64, message: Option<&str>) -> Vec<u8> {
    let partial = rejected > 0 || message.is_some();
    let rejected_i64 = i64::try_from(rejected).unwrap_or(i64::MAX);
    let error_message = message.unwrap_or_default().to_string();
    match encoding {
        Encoding::Protobuf => match signal {
            Signal::Logs => proto::ExportLogsServiceResponse {
                partial_success: partial
                    .then_some(proto::ExportLogsPartialSuccess { rejected_log_records: rejected_i64, error_message }),
            }
            .encode_to_vec(),
            Signal::Traces => proto::ExportTraceServiceResponse {
                partial_success: partial
                    .then_some(proto::ExportTracePartialSuccess { rejected_spans: rejected_i64, error_message }),
            }
            .encode_to_vec(),
            Signal::Metrics => proto::ExportMetricsServiceResponse {
                partial_success: partial.then_some(proto::ExportMetricsPartialSuccess {
                    rejected_data_points: rejected_i64,
                    error_message,
                }),
            }
            .encode_to_vec(),
        },
        Encoding::Json => {
            if !partial {
                return b"{}".to_vec();
            }
            let field = match signal {
                Signal::Logs => "rejectedLogRecords",
                Signal::Traces => "rejectedSpans",
                Signal::Metrics => "rejectedDataPoints",
            };
            // 64-bit integers as strings, as the protobuf JSON mapping writes them.
            let mut partial = serde_json::Map::new();
            partial.insert(field.to_string(), serde_json::Value::String(rejected.to_string()));
            partial.insert("errorMessage".to_string(), serde_json::Value::String(error_message));
            let mut top = serde_json::Map::new();
            top.insert("partialSuccess".to_string(), serde_json::Value::Object(partial));
            serde_json::to_vec(&serde_json::Value::Object(top)).unwrap_or_else(|_| b"{}".to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_report_partial_success_only_when_something_was_rejected() {
        let full = encode_response(Signal::Logs, Encoding::Protobuf, 0, None);
        assert!(full.is_empty(), "a full success is the empty message");
        let r = proto::ExportLogsServiceResponse::decode(
            &encode_response(Signal::Logs, Encoding::Protobuf, 3, Some("bad ids"))[..],
        )
        .unwrap();
        let p = r.partial_success.unwrap();
        assert_eq!((p.rejected_log_records, p.error_message.as_str()), (3, "bad ids"));
        let r = proto::ExportMetricsServiceResponse::decode(
            &encode_response(Signal::Metrics, Encoding::Protobuf, 2, None)[..],
        )
        .unwrap();
        assert_eq!(r.partial_success.unwrap().rejected_data_points, 2);
        let r = proto::ExportTraceServiceResponse::decode(
            &encode_response(Signal::Traces, Encoding::Protobuf, 0, Some("warning"))[..],
        )
        .unwrap();
        assert_eq!(r.partial_success.unwrap().error_message, "warning");

        assert_eq!(encode_response(Signal::Traces, Encoding::Json, 0, None), b"{}");
        let j: serde_json::Value =
            serde_json::from_slice(&encode_response(Signal::Traces, Encoding::Json, 5, Some("x \"y\""))).unwrap();
        assert_eq!(j["partialSuccess"]["rejectedSpans"], "5");
        assert_eq!(j["partialSuccess"]["errorMessage"], "x \"y\"");
    }

    #[test]
    fn empty_bodies_are_requests_without_items() {
        for signal in [Signal::Logs, Signal::Traces, Signal::Metrics] {
            for encoding in [Encoding::Protobuf, Encoding::Json] {
                let d = decode(signal, encoding, b"", &Limits::default()).unwrap();
                assert_eq!((d.accepted, d.rejected, d.batches.len()), (0, 0, 0));
            }
            let d = decode(signal, Encoding::Json, b"{}", &Limits::default()).unwrap();
            assert_eq!(d.accepted, 0);
        }
    }
}
