//! Shared by the integration tests: the captured fixtures, cell access, and an OTLP/JSON encoder
//! (protobuf message → JSON, in the spellings real senders use) to check the JSON decoder against
//! the protobuf one.
#![allow(dead_code)]

use arrow_array::RecordBatch;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chute_otlp::proto::*;
use chute_otlp::{Decoded, Encoding, Limits, Signal, decode};
use serde_json::{Map, Value, json};

pub fn fixture(path: &str) -> Vec<u8> {
    let p = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
}

/// Every protobuf fixture with its signal.
pub fn all_fixtures() -> Vec<(&'static str, Signal)> {
    let mut v = vec![
        ("otel-python-sdk/http/body-001.bin", Signal::Metrics),
        ("otel-python-sdk/http/body-002.bin", Signal::Traces),
        ("otel-python-sdk/http/body-003.bin", Signal::Logs),
        ("otel-python-sdk/grpc/grpc-001.bin", Signal::Metrics),
        ("otel-python-sdk/grpc/grpc-002.bin", Signal::Traces),
        ("otel-python-sdk/grpc/grpc-003.bin", Signal::Logs),
    ];
    for n in 1..=5 {
        v.push((K6_HTTP[n - 1], Signal::Metrics));
        v.push((K6_GRPC[n - 1], Signal::Metrics));
    }
    v
}

pub const K6_HTTP: [&str; 5] = [
    "k6/outputs-small/otlp-http/body-001.bin",
    "k6/outputs-small/otlp-http/body-002.bin",
    "k6/outputs-small/otlp-http/body-003.bin",
    "k6/outputs-small/otlp-http/body-004.bin",
    "k6/outputs-small/otlp-http/body-005.bin",
];
pub const K6_GRPC: [&str; 5] = [
    "k6/outputs-small/otlp-grpc/grpc-001.bin",
    "k6/outputs-small/otlp-grpc/grpc-002.bin",
    "k6/outputs-small/otlp-grpc/grpc-003.bin",
    "k6/outputs-small/otlp-grpc/grpc-004.bin",
    "k6/outputs-small/otlp-grpc/grpc-005.bin",
];

pub fn decode_pb(signal: Signal, path: &str) -> Decoded {
    decode(signal, Encoding::Protobuf, &fixture(path), &Limits::default()).unwrap()
}

/// A cell as JSON (maps as objects, dictionaries resolved, timestamps as RFC 3339).
pub fn cell(batch: &RecordBatch, column: &str, row: usize) -> Value {
    let col = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    chute_store::rows::value_at(col, row)
}

pub fn cell_str(batch: &RecordBatch, column: &str, row: usize) -> String {
    match cell(batch, column, row) {
        Value::String(s) => s,
        other => panic!("{column}[{row}] is {other}, not a string"),
    }
}

/// Every value of a column.
pub fn column(batch: &RecordBatch, column: &str) -> Vec<Value> {
    (0..batch.num_rows()).map(|i| cell(batch, column, i)).collect()
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON encoder

/// How the JSON is spelled.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// Ids as base64 (some senders) instead of hex (the specification).
    pub base64_ids: bool,
    /// snake_case field names (the protobuf names) instead of lowerCamelCase.
    pub snake_case: bool,
    /// 64-bit integers as JSON numbers instead of strings.
    pub numbers: bool,
    /// Enums as names (`SPAN_KIND_SERVER`) instead of integers.
    pub enum_names: bool,
}

pub struct Enc(pub Style);

impl Enc {
    fn k(&self, camel: &str) -> String {
        if !self.0.snake_case {
            return camel.to_string();
        }
        let mut s = String::new();
        for c in camel.chars() {
            if c.is_ascii_uppercase() {
                s.push('_');
                s.push(c.to_ascii_lowercase());
            } else {
                s.push(c);
            }
        }
        s
    }
    fn u64(&self, v: u64) -> Value {
        if self.0.numbers { json!(v) } else { json!(v.to_string()) }
    }
    fn i64(&self, v: i64) -> Value {
        if self.0.numbers { json!(v) } else { json!(v.to_string()) }
    }
    fn f64(&self, v: f64) -> Value {
        if v.is_nan() {
            json!("NaN")
        } else if v.is_infinite() {
            json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            json!(v)
        }
    }
    fn id(&self, id: &[u8]) -> Value {
        if self.0.base64_ids {
            json!(STANDARD.encode(id))
        } else {
            json!(id.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
    }
    fn obj(&self, fields: Vec<(&str, Value)>) -> Value {
        let mut m = Map::new();
        for (k, v) in fields {
            m.insert(self.k(k), v);
        }
        Value::Object(m)
    }
    fn any(&self, v: &AnyValue) -> Value {
        use any_value::Value as V;
        match &v.value {
            None => json!({}),
            Some(V::StringValue(s)) => self.obj(vec![("stringValue", json!(s))]),
            Some(V::BoolValue(b)) => self.obj(vec![("boolValue", json!(b))]),
            Some(V::IntValue(i)) => self.obj(vec![("intValue", self.i64(*i))]),
            Some(V::DoubleValue(d)) => self.obj(vec![("doubleValue", self.f64(*d))]),
            Some(V::BytesValue(b)) => self.obj(vec![("bytesValue", json!(STANDARD.encode(b)))]),
            Some(V::ArrayValue(a)) => self
                .obj(vec![("arrayValue", json!({"values": a.values.iter().map(|x| self.any(x)).collect::<Vec<_>>()}))]),
            Some(V::KvlistValue(m)) => self.obj(vec![("kvlistValue", json!({"values": self.kvs(&m.values)}))]),
        }
    }
    fn kvs(&self, kvs: &[KeyValue]) -> Value {
        Value::Array(
            kvs.iter()
                .map(|kv| {
                    let mut o = Map::new();
                    o.insert("key".into(), json!(kv.key));
                    if let Some(v) = &kv.value {
                        o.insert("value".into(), self.any(v));
                    }
                    Value::Object(o)
                })
                .collect(),
        )
    }
    fn resource(&self, r: &Option<Resource>) -> Value {
        match r {
            None => Value::Null,
            Some(r) => self.obj(vec![
                ("attributes", self.kvs(&r.attributes)),
                ("droppedAttributesCount", json!(r.dropped_attributes_count)),
            ]),
        }
    }
    fn scope(&self, s: &Option<InstrumentationScope>) -> Value {
        match s {
            None => Value::Null,
            Some(s) => self.obj(vec![
                ("name", json!(s.name)),
                ("version", json!(s.version)),
                ("attributes", self.kvs(&s.attributes)),
                ("droppedAttributesCount", json!(s.dropped_attributes_count)),
            ]),
        }
    }
    fn enm(&self, v: i32, names: &[&str]) -> Value {
        if self.0.enum_names
            && let Some(n) = names.get(v as usize)
        {
            return json!(n);
        }
        json!(v)
    }

    pub fn logs(&self, r: &ExportLogsServiceRequest) -> Value {
        let sev = [
            "SEVERITY_NUMBER_UNSPECIFIED",
            "SEVERITY_NUMBER_TRACE",
            "SEVERITY_NUMBER_TRACE2",
            "SEVERITY_NUMBER_TRACE3",
            "SEVERITY_NUMBER_TRACE4",
            "SEVERITY_NUMBER_DEBUG",
            "SEVERITY_NUMBER_DEBUG2",
            "SEVERITY_NUMBER_DEBUG3",
            "SEVERITY_NUMBER_DEBUG4",
            "SEVERITY_NUMBER_INFO",
            "SEVERITY_NUMBER_INFO2",
            "SEVERITY_NUMBER_INFO3",
            "SEVERITY_NUMBER_INFO4",
            "SEVERITY_NUMBER_WARN",
            "SEVERITY_NUMBER_WARN2",
            "SEVERITY_NUMBER_WARN3",
            "SEVERITY_NUMBER_WARN4",
            "SEVERITY_NUMBER_ERROR",
            "SEVERITY_NUMBER_ERROR2",
            "SEVERITY_NUMBER_ERROR3",
            "SEVERITY_NUMBER_ERROR4",
            "SEVERITY_NUMBER_FATAL",
        ];
        let rl: Vec<Value> = r
            .resource_logs
            .iter()
            .map(|rl| {
                let sl: Vec<Value> = rl
                    .scope_logs
                    .iter()
                    .map(|sl| {
                        let recs: Vec<Value> = sl
                            .log_records
                            .iter()
                            .map(|l| {
                                let mut f = vec![
                                    ("timeUnixNano", self.u64(l.time_unix_nano)),
                                    ("observedTimeUnixNano", self.u64(l.observed_time_unix_nano)),
                                    ("severityNumber", self.enm(l.severity_number, &sev)),
                                    ("severityText", json!(l.severity_text)),
                                    ("attributes", self.kvs(&l.attributes)),
                                    ("droppedAttributesCount", json!(l.dropped_attributes_count)),
                                    ("flags", json!(l.flags)),
                                    ("traceId", self.id(&l.trace_id)),
                                    ("spanId", self.id(&l.span_id)),
                                    ("eventName", json!(l.event_name)),
                                ];
                                if let Some(b) = &l.body {
                                    f.push(("body", self.any(b)));
                                }
                                self.obj(f)
                            })
                            .collect();
                        self.obj(vec![
                            ("scope", self.scope(&sl.scope)),
                            ("logRecords", Value::Array(recs)),
                            ("schemaUrl", json!(sl.schema_url)),
                        ])
                    })
                    .collect();
                self.obj(vec![
                    ("resource", self.resource(&rl.resource)),
                    ("scopeLogs", Value::Array(sl)),
                    ("schemaUrl", json!(rl.schema_url)),
                ])
            })
            .collect();
        self.obj(vec![("resourceLogs", Value::Array(rl))])
    }

    pub fn traces(&self, r: &ExportTraceServiceRequest) -> Value {
        let kinds = [
            "SPAN_KIND_UNSPECIFIED",
            "SPAN_KIND_INTERNAL",
            "SPAN_KIND_SERVER",
            "SPAN_KIND_CLIENT",
            "SPAN_KIND_PRODUCER",
            "SPAN_KIND_CONSUMER",
        ];
        let codes = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
        let rs: Vec<Value> = r
            .resource_spans
            .iter()
            .map(|rs| {
                let ss: Vec<Value> = rs
                    .scope_spans
                    .iter()
                    .map(|ss| {
                        let spans: Vec<Value> = ss
                            .spans
                            .iter()
                            .map(|s| {
                                let events: Vec<Value> = s
                                    .events
                                    .iter()
                                    .map(|e| {
                                        self.obj(vec![
                                            ("timeUnixNano", self.u64(e.time_unix_nano)),
                                            ("name", json!(e.name)),
                                            ("attributes", self.kvs(&e.attributes)),
                                            ("droppedAttributesCount", json!(e.dropped_attributes_count)),
                                        ])
                                    })
                                    .collect();
                                let links: Vec<Value> = s
                                    .links
                                    .iter()
                                    .map(|l| {
                                        self.obj(vec![
                                            ("traceId", self.id(&l.trace_id)),
                                            ("spanId", self.id(&l.span_id)),
                                            ("traceState", json!(l.trace_state)),
                                            ("attributes", self.kvs(&l.attributes)),
                                            ("droppedAttributesCount", json!(l.dropped_attributes_count)),
                                            ("flags", json!(l.flags)),
                                        ])
                                    })
                                    .collect();
                                let mut f = vec![
                                    ("traceId", self.id(&s.trace_id)),
                                    ("spanId", self.id(&s.span_id)),
                                    ("traceState", json!(s.trace_state)),
                                    ("parentSpanId", self.id(&s.parent_span_id)),
                                    ("flags", json!(s.flags)),
                                    ("name", json!(s.name)),
                                    ("kind", self.enm(s.kind, &kinds)),
                                    ("startTimeUnixNano", self.u64(s.start_time_unix_nano)),
                                    ("endTimeUnixNano", self.u64(s.end_time_unix_nano)),
                                    ("attributes", self.kvs(&s.attributes)),
                                    ("droppedAttributesCount", json!(s.dropped_attributes_count)),
                                    ("events", Value::Array(events)),
                                    ("droppedEventsCount", json!(s.dropped_events_count)),
                                    ("links", Value::Array(links)),
                                    ("droppedLinksCount", json!(s.dropped_links_count)),
                                ];
                                if let Some(st) = &s.status {
                                    f.push((
                                        "status",
                                        self.obj(vec![
                                            ("message", json!(st.message)),
                                            ("code", self.enm(st.code, &codes)),
                                        ]),
                                    ));
                                }
                                self.obj(f)
                            })
                            .collect();
                        self.obj(vec![
                            ("scope", self.scope(&ss.scope)),
                            ("spans", Value::Array(spans)),
                            ("schemaUrl", json!(ss.schema_url)),
                        ])
                    })
                    .collect();
                self.obj(vec![
                    ("resource", self.resource(&rs.resource)),
                    ("scopeSpans", Value::Array(ss)),
                    ("schemaUrl", json!(rs.schema_url)),
                ])
            })
            .collect();
        self.obj(vec![("resourceSpans", Value::Array(rs))])
    }

    fn exemplars(&self, ex: &[Exemplar]) -> Value {
        Value::Array(
            ex.iter()
                .map(|e| {
                    let mut f = vec![
                        ("filteredAttributes", self.kvs(&e.filtered_attributes)),
                        ("timeUnixNano", self.u64(e.time_unix_nano)),
                        ("spanId", self.id(&e.span_id)),
                        ("traceId", self.id(&e.trace_id)),
                    ];
                    match e.value {
                        Some(exemplar::Value::AsDouble(d)) => f.push(("asDouble", self.f64(d))),
                        Some(exemplar::Value::AsInt(i)) => f.push(("asInt", self.i64(i))),
                        None => {}
                    }
                    self.obj(f)
                })
                .collect(),
        )
    }

    fn number_points(&self, dps: &[NumberDataPoint]) -> Value {
        Value::Array(
            dps.iter()
                .map(|d| {
                    let mut f = vec![
                        ("attributes", self.kvs(&d.attributes)),
                        ("startTimeUnixNano", self.u64(d.start_time_unix_nano)),
                        ("timeUnixNano", self.u64(d.time_unix_nano)),
                        ("exemplars", self.exemplars(&d.exemplars)),
                        ("flags", json!(d.flags)),
                    ];
                    match d.value {
                        Some(number_data_point::Value::AsDouble(v)) => f.push(("asDouble", self.f64(v))),
                        Some(number_data_point::Value::AsInt(v)) => f.push(("asInt", self.i64(v))),
                        None => {}
                    }
                    self.obj(f)
                })
                .collect(),
        )
    }

    fn opt(&self, f: &mut Vec<(&str, Value)>, name: &'static str, v: Option<f64>) {
        if let Some(v) = v {
            f.push((name, self.f64(v)));
        }
    }

    pub fn metrics(&self, r: &ExportMetricsServiceRequest) -> Value {
        let temp = [
            "AGGREGATION_TEMPORALITY_UNSPECIFIED",
            "AGGREGATION_TEMPORALITY_DELTA",
            "AGGREGATION_TEMPORALITY_CUMULATIVE",
        ];
        let rm: Vec<Value> = r
            .resource_metrics
            .iter()
            .map(|rm| {
                let sm: Vec<Value> = rm
                    .scope_metrics
                    .iter()
                    .map(|sm| {
                        let metrics: Vec<Value> = sm
                            .metrics
                            .iter()
                            .map(|m| {
                                let mut f = vec![
                                    ("name", json!(m.name)),
                                    ("description", json!(m.description)),
                                    ("unit", json!(m.unit)),
                                    ("metadata", self.kvs(&m.metadata)),
                                ];
                                match &m.data {
                                    None => {}
                                    Some(metric::Data::Gauge(g)) => f.push((
                                        "gauge",
                                        self.obj(vec![("dataPoints", self.number_points(&g.data_points))]),
                                    )),
                                    Some(metric::Data::Sum(s)) => f.push((
                                        "sum",
                                        self.obj(vec![
                                            ("dataPoints", self.number_points(&s.data_points)),
                                            ("aggregationTemporality", self.enm(s.aggregation_temporality, &temp)),
                                            ("isMonotonic", json!(s.is_monotonic)),
                                        ]),
                                    )),
                                    Some(metric::Data::Histogram(h)) => {
                                        let dps: Vec<Value> = h
                                            .data_points
                                            .iter()
                                            .map(|d| {
                                                let mut f = vec![
                                                    ("attributes", self.kvs(&d.attributes)),
                                                    ("startTimeUnixNano", self.u64(d.start_time_unix_nano)),
                                                    ("timeUnixNano", self.u64(d.time_unix_nano)),
                                                    ("count", self.u64(d.count)),
                                                    (
                                                        "bucketCounts",
                                                        Value::Array(d.bucket_counts.iter().map(|c| self.u64(*c)).collect()),
                                                    ),
                                                    (
                                                        "explicitBounds",
                                                        Value::Array(d.explicit_bounds.iter().map(|b| self.f64(*b)).collect()),
                                                    ),
                                                    ("exemplars", self.exemplars(&d.exemplars)),
                                                    ("flags", json!(d.flags)),
                                                ];
                                                self.opt(&mut f, "sum", d.sum);
                                                self.opt(&mut f, "min", d.min);
                                                self.opt(&mut f, "max", d.max);
                                                self.obj(f)
                                            })
                                            .collect();
                                        f.push((
                                            "histogram",
                                            self.obj(vec![
                                                ("dataPoints", Value::Array(dps)),
                                                ("aggregationTemporality", self.enm(h.aggregation_temporality, &temp)),
                                            ]),
                                        ))
                                    }
                                    Some(metric::Data::ExponentialHistogram(h)) => {
                                        let buckets = |b: &Option<exponential_histogram_data_point::Buckets>| match b {
                                            None => Value::Null,
                                            Some(b) => self.obj(vec![
                                                ("offset", json!(b.offset)),
                                                (
                                                    "bucketCounts",
                                                    Value::Array(b.bucket_counts.iter().map(|c| self.u64(*c)).collect()),
                                                ),
                                            ]),
                                        };
                                        let dps: Vec<Value> = h
                                            .data_points
                                            .iter()
                                            .map(|d| {
                                                let mut f = vec![
                                                    ("attributes", self.kvs(&d.attributes)),
                                                    ("startTimeUnixNano", self.u64(d.start_time_unix_nano)),
                                                    ("timeUnixNano", self.u64(d.time_unix_nano)),
                                                    ("count", self.u64(d.count)),
                                                    ("scale", json!(d.scale)),
                                                    ("zeroCount", self.u64(d.zero_count)),
                                                    ("positive", buckets(&d.positive)),
                                                    ("negative", buckets(&d.negative)),
                                                    ("flags", json!(d.flags)),
                                                    ("exemplars", self.exemplars(&d.exemplars)),
                                                    ("zeroThreshold", self.f64(d.zero_threshold)),
                                                ];
                                                self.opt(&mut f, "sum", d.sum);
                                                self.opt(&mut f, "min", d.min);
                                                self.opt(&mut f, "max", d.max);
                                                self.obj(f)
                                            })
                                            .collect();
                                        f.push((
                                            "exponentialHistogram",
                                            self.obj(vec![
                                                ("dataPoints", Value::Array(dps)),
                                                ("aggregationTemporality", self.enm(h.aggregation_temporality, &temp)),
                                            ]),
                                        ))
                                    }
                                    Some(metric::Data::Summary(s)) => {
                                        let dps: Vec<Value> = s
                                            .data_points
                                            .iter()
                                            .map(|d| {
                                                let q: Vec<Value> = d
                                                    .quantile_values
                                                    .iter()
                                                    .map(|q| json!({"quantile": self.f64(q.quantile), "value": self.f64(q.value)}))
                                                    .collect();
                                                self.obj(vec![
                                                    ("attributes", self.kvs(&d.attributes)),
                                                    ("startTimeUnixNano", self.u64(d.start_time_unix_nano)),
                                                    ("timeUnixNano", self.u64(d.time_unix_nano)),
                                                    ("count", self.u64(d.count)),
                                                    ("sum", self.f64(d.sum)),
                                                    ("quantileValues", Value::Array(q)),
                                                    ("flags", json!(d.flags)),
                                                ])
                                            })
                                            .collect();
                                        f.push(("summary", self.obj(vec![("dataPoints", Value::Array(dps))])))
                                    }
                                }
                                self.obj(f)
                            })
                            .collect();
                        self.obj(vec![
                            ("scope", self.scope(&sm.scope)),
                            ("metrics", Value::Array(metrics)),
                            ("schemaUrl", json!(sm.schema_url)),
                        ])
                    })
                    .collect();
                self.obj(vec![
                    ("resource", self.resource(&rm.resource)),
                    ("scopeMetrics", Value::Array(sm)),
                    ("schemaUrl", json!(rm.schema_url)),
                ])
            })
            .collect();
        self.obj(vec![("resourceMetrics", Value::Array(rm))])
    }

    /// A protobuf body of `signal` as OTLP/JSON bytes.
    pub fn encode(&self, signal: Signal, pb: &[u8]) -> Vec<u8> {
        use prost::Message;
        let v = match signal {
            Signal::Logs => self.logs(&ExportLogsServiceRequest::decode(pb).unwrap()),
            Signal::Traces => self.traces(&ExportTraceServiceRequest::decode(pb).unwrap()),
            Signal::Metrics => self.metrics(&ExportMetricsServiceRequest::decode(pb).unwrap()),
        };
        serde_json::to_vec(&v).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// hand-written OTLP/JSON requests with what the fixtures do not have

/// Metrics of every kind: a gauge with an exemplar, a delta non-monotonic sum, a histogram, an
/// exponential histogram, a summary, and a metric without data (refused).
pub const EVERY_KIND_METRICS: &str = r#"{
  "resourceMetrics": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "every-kind"}},
      {"key": "k8s.pod.name", "value": {"stringValue": "pod-1"}}
    ]},
    "schemaUrl": "https://opentelemetry.io/schemas/1.26.0",
    "scopeMetrics": [{
      "scope": {"name": "lib", "version": "1.2.3", "attributes": [{"key": "scope.attr", "value": {"boolValue": true}}],
                "droppedAttributesCount": 2},
      "schemaUrl": "https://scope/schema",
      "metrics": [
        {"name": "queue.depth", "unit": "{item}", "description": "items waiting",
         "gauge": {"dataPoints": [{
           "attributes": [{"key": "queue", "value": {"stringValue": "a"}}],
           "startTimeUnixNano": "1795433400000000000", "timeUnixNano": "1795433498500000000", "asInt": "7",
           "exemplars": [{"filteredAttributes": [{"key": "user", "value": {"stringValue": "u1"}}],
                          "timeUnixNano": "1795433498400000000", "asDouble": 6.5,
                          "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"},
                         {"timeUnixNano": "1795433498300000000", "asInt": 3}]
         }]}},
        {"name": "bytes.delta", "unit": "By",
         "sum": {"aggregationTemporality": 1, "isMonotonic": false, "dataPoints": [
           {"timeUnixNano": 1795433498000000000, "asDouble": -12.25, "flags": 1}
         ]}},
        {"name": "latency", "unit": "s",
         "histogram": {"aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA", "dataPoints": [
           {"timeUnixNano": "1795433498000000000", "count": "6", "sum": 1.5, "min": 0.01, "max": 0.9,
            "bucketCounts": ["1", "2", "3"], "explicitBounds": [0.1, 0.5]}
         ]}},
        {"name": "latency.exp", "unit": "s",
         "exponentialHistogram": {"aggregationTemporality": 2, "dataPoints": [
           {"timeUnixNano": "1795433498000000000", "count": "10", "sum": 20.5, "scale": -3, "zeroCount": "1",
            "positive": {"offset": 5, "bucketCounts": ["4", "0", "3"]},
            "negative": {"offset": -2, "bucketCounts": ["2"]},
            "min": -4.0, "max": 9.0, "zeroThreshold": 0.001}
         ]}},
        {"name": "rpc.duration", "unit": "ms",
         "summary": {"dataPoints": [
           {"timeUnixNano": "1795433498000000000", "count": "100", "sum": 5000,
            "quantileValues": [{"quantile": 0.5, "value": 40}, {"quantile": 0.99, "value": 180.5}]}
         ]}},
        {"name": "mystery.kind", "unit": "1"}
      ]
    }]
  }]
}"#;

/// Logs with every AnyValue kind (attributes and bodies) and a record without a time.
pub const EVERY_VALUE_LOGS: &str = r#"{
  "resourceLogs": [{
    "resource": {"attributes": [
      {"key": "service.name", "value": {"stringValue": "values"}},
      {"key": "k8s.pod.name", "value": {"stringValue": "pod-7"}},
      {"key": "deployment.environment.name", "value": {"stringValue": "prod"}}
    ]},
    "scopeLogs": [{
      "scope": {"name": "app.logger", "version": "2.0"},
      "logRecords": [
        {"timeUnixNano": "1795433498123456789", "severityNumber": "SEVERITY_NUMBER_WARN", "severityText": "WARN",
         "body": {"kvlistValue": {"values": [
            {"key": "msg", "value": {"stringValue": "disk <90%> & rising"}},
            {"key": "pct", "value": {"doubleValue": 90.5}},
            {"key": "a", "value": {"arrayValue": {"values": [{"intValue": "1"}, {"boolValue": false}]}}}]}},
         "attributes": [
            {"key": "str", "value": {"stringValue": "text"}},
            {"key": "bool", "value": {"boolValue": true}},
            {"key": "int", "value": {"intValue": "-9007199254740993"}},
            {"key": "double", "value": {"doubleValue": 0.1}},
            {"key": "tiny", "value": {"doubleValue": 1e-7}},
            {"key": "huge", "value": {"doubleValue": 1.5e21}},
            {"key": "bytes", "value": {"bytesValue": "aGVsbG8="}},
            {"key": "array", "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": 2}]}}},
            {"key": "map", "value": {"kvlistValue": {"values": [{"key": "z", "value": {"intValue": 1}},
                                                                 {"key": "b", "value": {"stringValue": "y"}}]}}},
            {"key": "empty", "value": {}}
         ],
         "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "flags": 1,
         "eventName": "disk.warning"},
        {"observedTimeUnixNano": "1795433499000000001", "body": {"stringValue": "no time: observed time used"}},
        {"timeUnixNano": "1795433500000000000", "body": {"intValue": 42}}
      ]
    }]
  }]
}"#;

/// A span with links, events and every status, and ids in both spellings.
pub const LINKED_SPANS: &str = r#"{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "linker"}}]},
    "scopeSpans": [{
      "scope": {"name": "tracer", "version": "0.1"},
      "spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "consume",
         "kind": "SPAN_KIND_CONSUMER", "startTimeUnixNano": "1795433498000000000", "endTimeUnixNano": "1795433498250000000",
         "traceState": "vendor=1",
         "links": [{"traceId": "W47/95gDgQPSabYzgT/GDA==", "spanId": "7uGbfsPBsXQ=", "traceState": "t=2",
                    "attributes": [{"key": "link.kind", "value": {"stringValue": "producer"}}]},
                   {"traceId": "", "spanId": ""}],
         "events": [{"timeUnixNano": "1795433498100000000", "name": "received"},
                    {"timeUnixNano": "1795433498200000000", "name": "processed",
                     "attributes": [{"key": "items", "value": {"intValue": "3"}}]}],
         "status": {"code": "STATUS_CODE_OK"}},
        {"trace_id": "W47/95gDgQPSabYzgT/GDA==", "span_id": "0102030405060708", "parent_span_id": "eee19b7ec3c1b174",
         "name": "child", "kind": 1, "start_time_unix_nano": 1795433498010000000, "end_time_unix_nano": 1795433498020000000,
         "status": {"code": 2, "message": "boom"}}
      ]
    }]
  }]
}"#;
