//! What is sent: a [`Payload`] turns a request number into a ready message (bodies are
//! generated before the run starts, so producing one costs a clone or a copy and a few patched
//! bytes) and makes the visibility markers with the probe that finds them in chute.
//!
//! Kinds today: [`PayloadKind::Influx`] (k6's InfluxDB output), [`PayloadKind::K6Json`]
//! (k6 `--out json` bodies posted to the import endpoint), generated HTTP JSON events
//! ([`PayloadKind::Events`], NDJSON), captured client bodies replayed as they are ([`Replay`]:
//! OTLP/HTTP logs, traces and metrics of the OpenTelemetry Python SDK, Prometheus remote write),
//! and JetStream publishes of generated JSON events ([`PayloadKind::Nats`], one row per message).
//! Each transport is a [`Message`] variant with its own connection type: HTTP in [`crate::http`],
//! NATS in [`crate::nats`]. Further kinds (generated OTLP, ...) are further variants.

use crate::LoadgenError;
use crate::k6gen::{K6Model, write_json_metric, write_json_point, write_line_protocol};
use bytes::Bytes;
use std::sync::Arc;

/// The protocols the generator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum PayloadKind {
    /// InfluxDB v1 `/write?db=k6&precision=ns`, line protocol as k6 writes it, `User-Agent: k6`.
    #[serde(rename = "influx")]
    Influx,
    /// `POST /api/v1/k6/import` of a k6 `--out json` body (one run per request).
    #[serde(rename = "k6-json")]
    K6Json,
    /// OTLP/HTTP protobuf logs as the OpenTelemetry Python SDK sent them (`/v1/logs`).
    #[serde(rename = "otlp-logs")]
    OtlpLogs,
    /// OTLP/HTTP protobuf traces as the OpenTelemetry Python SDK sent them (`/v1/traces`).
    #[serde(rename = "otlp-traces")]
    OtlpTraces,
    /// OTLP/HTTP protobuf metrics as the OpenTelemetry Python SDK sent them (`/v1/metrics`):
    /// sums, gauges and histograms, one row per data point.
    #[serde(rename = "otlp-metrics")]
    OtlpMetrics,
    /// Prometheus remote write 1.0 as Prometheus 2.42 sent it (`/api/v1/write`, snappy).
    #[serde(rename = "remote-write")]
    RemoteWrite,
    /// Plain HTTP JSON events, NDJSON, to the built-in `events` table ([`crate::events`]).
    #[serde(rename = "events")]
    Events,
    /// JetStream publishes of generated JSON events (~300 bytes, one row each) to a subject of a
    /// stream chute consumes ([`crate::nats`]); acknowledged by JetStream's publish ack.
    #[serde(rename = "nats")]
    Nats,
}

impl std::str::FromStr for PayloadKind {
    type Err = LoadgenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "influx" | "influxdb" => Ok(PayloadKind::Influx),
            "k6-json" | "json" => Ok(PayloadKind::K6Json),
            "otlp-logs" => Ok(PayloadKind::OtlpLogs),
            "otlp-traces" => Ok(PayloadKind::OtlpTraces),
            "otlp-metrics" => Ok(PayloadKind::OtlpMetrics),
            "remote-write" | "prw" => Ok(PayloadKind::RemoteWrite),
            "events" => Ok(PayloadKind::Events),
            "nats" => Ok(PayloadKind::Nats),
            other => Err(LoadgenError::Spec(format!(
                "unknown protocol {other:?} (influx, k6-json, otlp-logs, otlp-traces, otlp-metrics, remote-write, events, nats)"
            ))),
        }
    }
}

impl PayloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadKind::Influx => "influx",
            PayloadKind::K6Json => "k6-json",
            PayloadKind::OtlpLogs => "otlp-logs",
            PayloadKind::OtlpTraces => "otlp-traces",
            PayloadKind::OtlpMetrics => "otlp-metrics",
            PayloadKind::RemoteWrite => "remote-write",
            PayloadKind::Events => "events",
            PayloadKind::Nats => "nats",
        }
    }

    /// Whether the kind is sent to an OTLP/HTTP listener (`/v1/...`).
    pub fn is_otlp(self) -> bool {
        matches!(self, PayloadKind::OtlpLogs | PayloadKind::OtlpTraces | PayloadKind::OtlpMetrics)
    }

    /// Whether the kind is sent over NATS (a `nats://` target) rather than HTTP.
    pub fn is_nats(self) -> bool {
        self == PayloadKind::Nats
    }
}

/// One HTTP request, ready to send.
#[derive(Clone, Debug)]
pub struct HttpMessage {
    pub method: &'static str,
    /// Path and query, appended to the target's URL.
    pub path: String,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Bytes,
}

/// One JetStream publish, ready to send.
#[derive(Clone, Debug)]
pub struct NatsMessage {
    pub subject: Arc<str>,
    pub payload: Bytes,
}

/// A message on its transport.
#[derive(Clone, Debug)]
pub enum Message {
    Http(HttpMessage),
    Nats(NatsMessage),
}

/// A message and the rows it carries.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub message: Message,
    pub rows: u64,
}

/// How to see that a marker became queryable: `GET path` until the JSON number at `field` (or
/// the length of the array there) reaches `at_least`.
#[derive(Clone, Debug)]
pub struct VisibilityProbe {
    pub path: String,
    pub field: &'static str,
    pub at_least: u64,
}

impl VisibilityProbe {
    /// The count an answer shows: the number at `field`, or the length of the array there.
    pub fn count(&self, answer: &serde_json::Value) -> u64 {
        let v = &answer[self.field];
        v.as_u64().or_else(|| v.as_array().map(|a| a.len() as u64)).unwrap_or(0)
    }

    /// Finds the explorer API's items (`/api/v1/...` answers `{"items": [...]}`).
    fn items(path: String) -> Self {
        VisibilityProbe { path, field: "items", at_least: 1 }
    }
}

/// What a payload says about itself for the report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PayloadInfo {
    pub protocol: PayloadKind,
    /// The run id (k6 `testid`) of the samples; with k6-json the base of the per-request ids.
    pub run_id: String,
    /// How the runs are named (k6-json: one run per request).
    pub run_ids: String,
    pub rows_per_request: u64,
    pub bytes_per_request: u64,
    pub distinct_bodies: usize,
}

pub trait Payload: Send + Sync {
    fn info(&self) -> &PayloadInfo;
    /// Request number `seq` (from 0).
    fn message(&self, seq: u64) -> Outgoing;
    /// A marker carrying one row under the unique id `id`, and how to find it.
    fn marker(&self, id: &str, now_ns: i64) -> Option<(Outgoing, VisibilityProbe)>;
}

/// How to build a payload.
#[derive(Clone, Debug)]
pub struct PayloadOptions {
    pub rows_per_request: usize,
    /// Distinct bodies generated up front and sent in turn.
    pub bodies: usize,
    pub run_id: String,
    pub seed: u64,
    /// Timestamp of the first sample (Unix ns).
    pub start_ns: i64,
    /// The fixtures folder the replayed kinds read their captured bodies from.
    pub fixtures: std::path::PathBuf,
    /// NATS: the subject messages are published to.
    pub subject: String,
}

pub fn build(kind: PayloadKind, opts: &PayloadOptions) -> Result<Arc<dyn Payload>, LoadgenError> {
    if opts.rows_per_request == 0 {
        return Err(LoadgenError::Spec("rows per request must be at least 1".into()));
    }
    if opts.run_id.is_empty() || !opts.run_id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(LoadgenError::Spec(format!(
            "run id {:?}: use letters, digits, '-', '_' and '.' only",
            opts.run_id
        )));
    }
    Ok(match kind {
        PayloadKind::Influx => Arc::new(Influx::new(opts)),
        PayloadKind::K6Json => Arc::new(K6Json::new(opts)),
        PayloadKind::Events => Arc::new(crate::events::Events::new(opts)),
        PayloadKind::Nats => Arc::new(crate::nats::NatsEvents::new(opts)?),
        PayloadKind::OtlpLogs | PayloadKind::OtlpTraces | PayloadKind::OtlpMetrics | PayloadKind::RemoteWrite => {
            Arc::new(Replay::new(kind, &opts.fixtures)?)
        }
    })
}

/// Captured client bodies sent as they were captured, in turn. The rows a body carries come
/// from the capture's summary (`requests.jsonl`: log bodies, span names, time series with one
/// sample each) or, for metrics, from the body itself: chute stores one row per data point
/// (in `otel_metrics_sum`, `_gauge`, `_histogram`, ...), counted by [`otlp_metric_points`].
/// A visibility marker is one item of the same signal from the service `loadgen-marker` (OTLP
/// in its JSON encoding; remote write as a snappy protobuf series with `job="loadgen-marker"`),
/// found through chute's explorer API: a log record whose body is the marker's id, a span named
/// by it, a metric named `loadgen_marker_<id>` (from the metric catalog, written with the rows).
pub struct Replay {
    info: PayloadInfo,
    bodies: Vec<(Bytes, u64)>,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
}

impl Replay {
    pub fn new(kind: PayloadKind, fixtures: &std::path::Path) -> Result<Self, LoadgenError> {
        type Headers = Vec<(&'static str, &'static str)>;
        // count_field: the summary's field that counts the rows; empty: count the body's data points.
        let (folder, path, count_field, headers): (&str, &'static str, &str, Headers) = match kind {
            PayloadKind::OtlpLogs => {
                ("otel-python-sdk/http", "/v1/logs", "log_bodies", vec![("content-type", "application/x-protobuf")])
            }
            PayloadKind::OtlpTraces => {
                ("otel-python-sdk/http", "/v1/traces", "span_names", vec![("content-type", "application/x-protobuf")])
            }
            PayloadKind::OtlpMetrics => {
                ("otel-python-sdk/http", "/v1/metrics", "", vec![("content-type", "application/x-protobuf")])
            }
            PayloadKind::RemoteWrite => (
                "prometheus/remote-write",
                "/api/v1/write",
                "timeseries",
                vec![
                    ("content-type", "application/x-protobuf"),
                    ("content-encoding", "snappy"),
                    ("x-prometheus-remote-write-version", "0.1.0"),
                ],
            ),
            PayloadKind::Influx | PayloadKind::K6Json | PayloadKind::Events | PayloadKind::Nats => {
                return Err(LoadgenError::Spec(format!("{} is generated, not replayed", kind.as_str())));
            }
        };
        let dir = fixtures.join(folder);
        let index = dir.join("requests.jsonl");
        let text = std::fs::read_to_string(&index)
            .map_err(|e| LoadgenError::Spec(format!("cannot read {} ({e}); pass --fixtures", index.display())))?;
        let mut bodies = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line)
                .map_err(|e| LoadgenError::Spec(format!("{} line {}: {e}", index.display(), i + 1)))?;
            if v["path"] != path {
                continue;
            }
            let n = v["n"].as_u64().unwrap_or(0);
            let file = dir.join(format!("body-{n:03}.bin"));
            // The index lists every request of the capture; a fixtures folder may keep only some
            // of their bodies (the repository keeps 5 of Prometheus's 11). Those are replayed.
            let body = match std::fs::read(&file) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(LoadgenError::Spec(format!("cannot read {} ({e})", file.display()))),
            };
            let rows = if count_field.is_empty() {
                otlp_metric_points(&body).map_err(|e| LoadgenError::Spec(format!("{}: {e}", file.display())))?
            } else {
                match &v["summary"][count_field] {
                    serde_json::Value::Array(a) => a.len() as u64,
                    other => other.as_u64().unwrap_or(0),
                }
            };
            if rows > 0 {
                bodies.push((Bytes::from(body), rows));
            }
        }
        if bodies.is_empty() {
            return Err(LoadgenError::Spec(format!("no {path} bodies kept beside {}", index.display())));
        }
        let n = bodies.len() as u64;
        Ok(Replay {
            info: PayloadInfo {
                protocol: kind,
                run_id: String::new(),
                run_ids: String::new(),
                rows_per_request: bodies.iter().map(|b| b.1).sum::<u64>() / n,
                bytes_per_request: bodies.iter().map(|b| b.0.len() as u64).sum::<u64>() / n,
                distinct_bodies: bodies.len(),
            },
            bodies,
            path,
            headers,
        })
    }
}

impl Payload for Replay {
    fn info(&self) -> &PayloadInfo {
        &self.info
    }

    fn message(&self, seq: u64) -> Outgoing {
        let (body, rows) = &self.bodies[(seq % self.bodies.len() as u64) as usize];
        Outgoing {
            message: Message::Http(HttpMessage {
                method: "POST",
                path: self.path.into(),
                headers: self.headers.clone(),
                body: body.clone(),
            }),
            rows: *rows,
        }
    }

    fn marker(&self, id: &str, now_ns: i64) -> Option<(Outgoing, VisibilityProbe)> {
        Some(replay_marker(self.info.protocol, id, now_ns))
    }
}

/// The service the replayed kinds' markers come from.
const MARKER_SERVICE: &str = "loadgen-marker";

/// A replayed kind's marker: one log record, span or gauge point under `id`, and its probe.
fn replay_marker(kind: PayloadKind, id: &str, now_ns: i64) -> (Outgoing, VisibilityProbe) {
    let resource = serde_json::json!({"attributes": [
        {"key": "service.name", "value": {"stringValue": MARKER_SERVICE}}
    ]});
    let scope = serde_json::json!({"name": "chute-loadgen"});
    let ns = now_ns.to_string();
    // A metric name is letters, digits and '_' (Prometheus's rule, which OTLP names follow too).
    let metric = format!("loadgen_marker_{}", id.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    let json = |path: &'static str, body: serde_json::Value| HttpMessage {
        method: "POST",
        path: path.into(),
        headers: vec![("content-type", "application/json")],
        body: Bytes::from(body.to_string()),
    };
    let (message, probe) = match kind {
        PayloadKind::OtlpLogs => (
            json(
                "/v1/logs",
                serde_json::json!({"resourceLogs": [{"resource": resource, "scopeLogs": [{"scope": scope,
                    "logRecords": [{"timeUnixNano": ns, "observedTimeUnixNano": ns, "severityNumber": 9,
                                    "severityText": "INFO", "body": {"stringValue": id}}]}]}]}),
            ),
            VisibilityProbe::items(format!("/api/v1/logs?service={MARKER_SERVICE}&text={id}&limit=1")),
        ),
        PayloadKind::OtlpTraces => {
            // Ids from the marker's time and name: unique per marker, never all zero.
            let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
            let span = serde_json::json!({"traceId": format!("{:016x}{:016x}", now_ns as u64, h),
                "spanId": format!("{:016x}", h | 1), "name": id, "kind": 1,
                "startTimeUnixNano": ns, "endTimeUnixNano": (now_ns + 1_000).to_string()});
            (
                json(
                    "/v1/traces",
                    serde_json::json!({"resourceSpans": [{"resource": resource,
                        "scopeSpans": [{"scope": scope, "spans": [span]}]}]}),
                ),
                VisibilityProbe::items(format!("/api/v1/spans?service={MARKER_SERVICE}&name={id}&limit=1")),
            )
        }
        PayloadKind::RemoteWrite => (
            HttpMessage {
                method: "POST",
                path: "/api/v1/write".into(),
                headers: vec![
                    ("content-type", "application/x-protobuf"),
                    ("content-encoding", "snappy"),
                    ("x-prometheus-remote-write-version", "0.1.0"),
                ],
                body: Bytes::from(remote_write_marker(&metric, now_ns / 1_000_000)),
            },
            VisibilityProbe::items(format!("/api/v1/metrics?service={MARKER_SERVICE}&name={metric}&limit=1")),
        ),
        // OTLP metrics, the one other replayed kind.
        _ => (
            json(
                "/v1/metrics",
                serde_json::json!({"resourceMetrics": [{"resource": resource, "scopeMetrics": [{"scope": scope,
                    "metrics": [{"name": metric, "gauge": {"dataPoints": [{"timeUnixNano": ns, "asDouble": 1.0}]}}]}]}]}),
            ),
            VisibilityProbe::items(format!("/api/v1/metrics?service={MARKER_SERVICE}&name={metric}&limit=1")),
        ),
    };
    (Outgoing { message: Message::Http(message), rows: 1 }, probe)
}

/// A remote-write request (snappy-compressed protobuf `WriteRequest`) of one series,
/// `name{job="loadgen-marker"}`, with one sample of 1 at `ms`.
fn remote_write_marker(name: &str, ms: i64) -> Vec<u8> {
    use chute_protowire::{put_len, put_varint};
    let label = |n: &str, v: &str| {
        let mut l = Vec::new();
        put_len(&mut l, 1, n.as_bytes());
        put_len(&mut l, 2, v.as_bytes());
        l
    };
    let mut sample = vec![9u8]; // value: field 1, 64-bit
    sample.extend_from_slice(&1.0f64.to_le_bytes());
    sample.push(16); // timestamp: field 2, varint
    put_varint(&mut sample, ms as u64);
    let mut series = Vec::new();
    put_len(&mut series, 1, &label("__name__", name));
    put_len(&mut series, 1, &label("job", MARKER_SERVICE));
    put_len(&mut series, 2, &sample);
    let mut request = Vec::new();
    put_len(&mut request, 1, &series);
    snap::raw::Encoder::new().compress_vec(&request).unwrap_or_default()
}

/// The data points of a protobuf `ExportMetricsServiceRequest`: the rows chute stores for it,
/// one per point of every gauge, sum, histogram, exponential histogram and summary. Read from
/// the wire format directly (resource_metrics 1 → scope_metrics 2 → metrics 2 → data 5, 7, 9,
/// 10, 11 → data_points 1), independently of chute's decoder.
pub fn otlp_metric_points(body: &[u8]) -> Result<u64, String> {
    let mut points = 0u64;
    for rm in pb_fields(body, 1)? {
        for sm in pb_fields(rm, 2)? {
            for metric in pb_fields(sm, 2)? {
                for data in [5, 7, 9, 10, 11] {
                    for d in pb_fields(metric, data)? {
                        points += pb_fields(d, 1)?.len() as u64;
                    }
                }
            }
        }
    }
    Ok(points)
}

/// The length-delimited fields numbered `field` of one protobuf message, in order.
fn pb_fields(mut buf: &[u8], field: u64) -> Result<Vec<&[u8]>, String> {
    fn varint(buf: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = buf.split_first().ok_or("truncated varint")?;
            *buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    fn skip<'a>(buf: &mut &'a [u8], n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| "length out of range")?;
        if n > buf.len() {
            return Err(format!("field of {n} bytes, {} left", buf.len()));
        }
        let (head, rest) = buf.split_at(n);
        *buf = rest;
        Ok(head)
    }
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        match key & 7 {
            0 => {
                varint(&mut buf)?;
            }
            1 => {
                skip(&mut buf, 8)?;
            }
            2 => {
                let len = varint(&mut buf)?;
                let value = skip(&mut buf, len)?;
                if key >> 3 == field {
                    out.push(value);
                }
            }
            5 => {
                skip(&mut buf, 4)?;
            }
            w => return Err(format!("wire type {w} (field {})", key >> 3)),
        }
    }
    Ok(out)
}

fn marker_probe(id: &str) -> VisibilityProbe {
    VisibilityProbe { path: format!("/api/v1/k6/runs/{id}"), field: "samples", at_least: 1 }
}

const INFLUX_PATH: &str = "/write?db=k6&precision=ns";

/// k6's InfluxDB output: every sample of the run carries the same `testid`.
pub struct Influx {
    info: PayloadInfo,
    bodies: Vec<Bytes>,
}

impl Influx {
    fn new(o: &PayloadOptions) -> Self {
        let mut model = K6Model::new(o.seed, o.start_ns);
        let mut bodies = Vec::new();
        for _ in 0..o.bodies.max(1) {
            let mut buf = Vec::with_capacity(o.rows_per_request * 260);
            for _ in 0..o.rows_per_request {
                write_line_protocol(&mut buf, &model.next_sample(), &o.run_id, None);
            }
            bodies.push(Bytes::from(buf));
        }
        let bytes = bodies.iter().map(|b| b.len() as u64).sum::<u64>() / bodies.len() as u64;
        Influx {
            info: PayloadInfo {
                protocol: PayloadKind::Influx,
                run_id: o.run_id.clone(),
                run_ids: o.run_id.clone(),
                rows_per_request: o.rows_per_request as u64,
                bytes_per_request: bytes,
                distinct_bodies: bodies.len(),
            },
            bodies,
        }
    }
}

fn influx_message(body: Bytes) -> Message {
    Message::Http(HttpMessage { method: "POST", path: INFLUX_PATH.into(), headers: vec![("user-agent", "k6")], body })
}

impl Payload for Influx {
    fn info(&self) -> &PayloadInfo {
        &self.info
    }

    fn message(&self, seq: u64) -> Outgoing {
        let body = self.bodies[(seq % self.bodies.len() as u64) as usize].clone();
        Outgoing { message: influx_message(body), rows: self.info.rows_per_request }
    }

    fn marker(&self, id: &str, now_ns: i64) -> Option<(Outgoing, VisibilityProbe)> {
        let body = format!("loadgen_marker,testid={id} value=1 {now_ns}\n");
        Some((Outgoing { message: influx_message(Bytes::from(body)), rows: 1 }, marker_probe(id)))
    }
}

/// k6 JSON files posted to the import endpoint. An import is one run and chute refuses a body
/// it has seen before, so every request carries its own testid `<run id>-<seq, 8 digits>`,
/// patched into a copy of a pre-generated body.
pub struct K6Json {
    info: PayloadInfo,
    templates: Vec<(Bytes, Vec<usize>)>,
}

const SEQ_DIGITS: usize = 8;

impl K6Json {
    fn new(o: &PayloadOptions) -> Self {
        let mut model = K6Model::new(o.seed, o.start_ns);
        let placeholder = format!("{}-{}", o.run_id, "0".repeat(SEQ_DIGITS));
        let mut templates = Vec::new();
        for _ in 0..o.bodies.max(1) {
            let mut buf = Vec::with_capacity(o.rows_per_request * 340);
            let mut at = Vec::with_capacity(o.rows_per_request);
            let mut seen = std::collections::HashSet::new();
            for _ in 0..o.rows_per_request {
                let s = model.next_sample();
                if seen.insert(s.metric) {
                    write_json_metric(&mut buf, s.metric);
                }
                write_json_point(&mut buf, &s, &placeholder, Some(&mut at));
            }
            // Offsets of the sequence digits.
            let digits: Vec<usize> = at.into_iter().map(|p| p + o.run_id.len() + 1).collect();
            templates.push((Bytes::from(buf), digits));
        }
        let bytes = templates.iter().map(|t| t.0.len() as u64).sum::<u64>() / templates.len() as u64;
        K6Json {
            info: PayloadInfo {
                protocol: PayloadKind::K6Json,
                run_id: o.run_id.clone(),
                run_ids: format!("{}-NNNNNNNN (one run per request)", o.run_id),
                rows_per_request: o.rows_per_request as u64,
                bytes_per_request: bytes,
                distinct_bodies: templates.len(),
            },
            templates,
        }
    }

    /// The run id of request `seq`.
    pub fn run_of(run_id: &str, seq: u64) -> String {
        format!("{run_id}-{:0width$}", seq % 10u64.pow(SEQ_DIGITS as u32), width = SEQ_DIGITS)
    }
}

fn import_message(body: Bytes) -> Message {
    Message::Http(HttpMessage {
        method: "POST",
        path: "/api/v1/k6/import?format=json".into(),
        headers: vec![("content-type", "application/x-ndjson")],
        body,
    })
}

impl Payload for K6Json {
    fn info(&self) -> &PayloadInfo {
        &self.info
    }

    fn message(&self, seq: u64) -> Outgoing {
        let (template, digits) = &self.templates[(seq % self.templates.len() as u64) as usize];
        let id = format!("{:0width$}", seq % 10u64.pow(SEQ_DIGITS as u32), width = SEQ_DIGITS);
        let mut body = template.to_vec();
        for &at in digits {
            body[at..at + SEQ_DIGITS].copy_from_slice(id.as_bytes());
        }
        Outgoing { message: import_message(Bytes::from(body)), rows: self.info.rows_per_request }
    }

    fn marker(&self, id: &str, now_ns: i64) -> Option<(Outgoing, VisibilityProbe)> {
        let mut body = Vec::new();
        write_json_metric(&mut body, "loadgen_marker");
        let s = crate::k6gen::Sample {
            metric: "loadgen_marker",
            time_ns: now_ns,
            value: 1.0,
            tags: crate::k6gen::Tags::default(),
        };
        write_json_point(&mut body, &s, id, None);
        Some((Outgoing { message: import_message(Bytes::from(body)), rows: 1 }, marker_probe(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(rows: usize) -> PayloadOptions {
        PayloadOptions {
            rows_per_request: rows,
            bodies: 3,
            run_id: "lg-t".into(),
            seed: 1,
            start_ns: 1_795_433_093_000_000_000,
            fixtures: std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures")),
            subject: "loadgen.events".into(),
        }
    }

    fn body(o: &Outgoing) -> String {
        let Message::Http(m) = &o.message else { panic!("not HTTP: {o:?}") };
        String::from_utf8(m.body.to_vec()).unwrap()
    }

    #[test]
    fn otlp_metrics_replay_counts_the_data_points_of_the_captured_body() {
        let p = build(PayloadKind::OtlpMetrics, &opts(1)).unwrap();
        // The Python SDK's capture: http.server.requests (a sum per route and status: 9),
        // http.server.active_requests (a sum per route: 3) and http.server.duration (a histogram
        // per route: 3).
        assert_eq!(p.info().distinct_bodies, 1);
        let o = p.message(5);
        let Message::Http(m) = &o.message else { panic!() };
        assert_eq!((m.method, m.path.as_str()), ("POST", "/v1/metrics"));
        assert_eq!(m.headers, vec![("content-type", "application/x-protobuf")]);
        assert_eq!(o.rows, p.info().rows_per_request);
        assert_eq!(o.rows, 15, "9 + 3 sum points and 3 histogram points");
        // Its marker: a gauge of the marker service in OTLP's JSON, found by name in the API.
        let (m, probe) = p.marker("lg-x-m00001", 5).unwrap();
        let Message::Http(m) = &m.message else { panic!() };
        assert_eq!((m.path.as_str(), m.headers[0]), ("/v1/metrics", ("content-type", "application/json")));
        let v: serde_json::Value = serde_json::from_slice(&m.body).unwrap();
        let metric = &v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0];
        assert_eq!(metric["name"], "loadgen_marker_lg_x_m00001");
        assert_eq!(metric["gauge"]["dataPoints"][0]["timeUnixNano"], "5");
        assert_eq!(probe.path, "/api/v1/metrics?service=loadgen-marker&name=loadgen_marker_lg_x_m00001&limit=1");
        assert_eq!(probe.count(&serde_json::json!({"items": [{}, {}]})), 2);
        assert_eq!(probe.count(&serde_json::json!({"items": []})), 0);
        assert!(otlp_metric_points(&m.body[..m.body.len() - 1]).is_err(), "a cut body is refused");
        assert_eq!(otlp_metric_points(&[]), Ok(0));
    }

    #[test]
    fn influx_bodies_have_exactly_the_rows_and_the_testid() {
        let p = build(PayloadKind::Influx, &opts(500)).unwrap();
        for seq in 0..4 {
            let o = p.message(seq);
            assert_eq!(o.rows, 500);
            let text = body(&o);
            assert_eq!(text.lines().count(), 500);
            assert!(text.lines().all(|l| l.contains(",testid=lg-t") && l.contains("value=")), "{text}");
        }
        assert_eq!(body(&p.message(0)), body(&p.message(3)), "bodies are sent in turn");
        assert_ne!(body(&p.message(0)), body(&p.message(1)));
        let (m, probe) = p.marker("lg-t-m00001", 5).unwrap();
        assert_eq!(body(&m), "loadgen_marker,testid=lg-t-m00001 value=1 5\n");
        assert_eq!(probe.path, "/api/v1/k6/runs/lg-t-m00001");
    }

    #[test]
    fn k6_json_bodies_carry_one_testid_per_request() {
        let p = build(PayloadKind::K6Json, &opts(300)).unwrap();
        let a = body(&p.message(7));
        let points: Vec<serde_json::Value> = a
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["type"] == "Point")
            .collect();
        assert_eq!(points.len(), 300);
        assert!(points.iter().all(|v| v["data"]["tags"]["testid"] == "lg-t-00000007"));
        assert!(a.lines().next().unwrap().contains("\"type\":\"Metric\""));
        let b = body(&p.message(10));
        assert!(b.contains("\"testid\":\"lg-t-00000010\"") && !b.contains("lg-t-00000007"));
        assert_eq!(K6Json::run_of("lg-t", 10), "lg-t-00000010");
        assert!(build(PayloadKind::K6Json, &PayloadOptions { run_id: "a b".into(), ..opts(1) }).is_err());
    }
}
