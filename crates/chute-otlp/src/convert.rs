//! Decoded OTLP requests into the exporter's tables, row by row, with the exporter's mapping
//! (`exporter/clickhouseexporter/exporter_{logs,traces}.go`, `internal/metrics/*_metrics.go`).

use crate::proto::*;
use crate::value::{format_value, truncate_at_char};
use crate::{Decoded, Limits};
use chute_tables::columns::StrMap;
use chute_tables::otel::{
    ExemplarColumns, ExpHistogramBuilder, ExpHistogramRow, GaugeBuilder, HistogramBuilder, HistogramRow, LogRow,
    LogsBuilder, MetricColumns, MetricRow, SpanRow, StrMapList, SumBuilder, SummaryBuilder, TracesBuilder,
};
use std::fmt::Write;

/// How many problems the rejection message names before it only counts them.
const NAMED_PROBLEMS: usize = 5;

/// Attributes formatted once and copied into many rows (a resource's, a scope's).
#[derive(Default)]
pub(crate) struct AttrSet {
    text: String,
    /// (key start, key end = value start, value end) in `text`.
    spans: Vec<(usize, usize, usize)>,
}

impl AttrSet {
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    pub(crate) fn push(&mut self, k: &str, v: &str) {
        let start = self.text.len();
        self.text.push_str(k);
        let mid = self.text.len();
        self.text.push_str(v);
        self.spans.push((start, mid, self.text.len()));
    }

    pub(crate) fn insert_into(&self, map: &mut StrMap) {
        for &(k, v, e) in &self.spans {
            map.insert(&self.text[k..v], &self.text[v..e]);
        }
    }
}

/// The state of one decode: limits, counters, problems, reusable buffers.
pub(crate) struct Ctx<'l> {
    pub(crate) limits: &'l Limits,
    pub(crate) buf: String,
    pub(crate) accepted: u64,
    rejected: u64,
    problems: Vec<String>,
    pub(crate) truncated: u64,
    dropped: u64,
    pub(crate) resource: AttrSet,
    pub(crate) scope: AttrSet,
}

impl<'l> Ctx<'l> {
    pub(crate) fn new(limits: &'l Limits) -> Self {
        Ctx {
            limits,
            buf: String::with_capacity(256),
            accepted: 0,
            rejected: 0,
            problems: Vec::new(),
            truncated: 0,
            dropped: 0,
            resource: AttrSet::default(),
            scope: AttrSet::default(),
        }
    }

    pub(crate) fn reject(&mut self, problem: impl FnOnce() -> String) {
        self.rejected += 1;
        if self.problems.len() < NAMED_PROBLEMS {
            self.problems.push(problem());
        }
    }

    /// Formats `attrs` (within the limits) and hands each pair to `sink`.
    fn attrs(&mut self, attrs: &[KeyValue], mut sink: impl FnMut(&str, &str)) {
        let keep = attrs.len().min(self.limits.max_attributes);
        self.dropped += (attrs.len() - keep) as u64;
        for kv in &attrs[..keep] {
            self.buf.clear();
            format_value(kv.value.as_ref(), &mut self.buf);
            if truncate_at_char(&mut self.buf, self.limits.max_attribute_value_len) {
                self.truncated += 1;
            }
            sink(&kv.key, &self.buf);
        }
    }

    fn fill_set(&mut self, which: Which, attrs: &[KeyValue]) {
        let mut set = std::mem::take(match which {
            Which::Resource => &mut self.resource,
            Which::Scope => &mut self.scope,
        });
        set.clear();
        self.attrs(attrs, |k, v| set.push(k, v));
        match which {
            Which::Resource => self.resource = set,
            Which::Scope => self.scope = set,
        }
    }

    pub(crate) fn finish(self, what: &str, batches: Vec<(&'static str, arrow_array::RecordBatch)>) -> Decoded {
        let rejection_message = (self.rejected > 0).then(|| {
            let mut m = format!("{} {what} rejected: {}", self.rejected, self.problems.join("; "));
            let unnamed = self.rejected - self.problems.len() as u64;
            if unnamed > 0 {
                let _ = write!(m, "; and {unnamed} more");
            }
            m
        });
        Decoded {
            batches,
            accepted: self.accepted,
            rejected: self.rejected,
            rejection_message,
            truncated_attributes: self.truncated,
            dropped_attributes: self.dropped,
        }
    }
}

#[derive(Clone, Copy)]
enum Which {
    Resource,
    Scope,
}

/// Nanoseconds as the engine's signed 64-bit timestamps (later than 2262 is clamped).
#[inline]
pub(crate) fn ns(t: u64) -> i64 {
    t.min(i64::MAX as u64) as i64
}

/// An id is acceptable when absent or of its length.
#[inline]
pub(crate) fn id_ok(id: &[u8], len: usize) -> bool {
    id.is_empty() || id.len() == len
}

pub(crate) fn id_problem(field: &str, id: &[u8], len: usize) -> String {
    format!("{field} has {} bytes (want {len}, or none)", id.len())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of an id; empty for an absent or all-zero id (`TraceIDToHexOrEmptyString`).
#[inline]
pub(crate) fn hex_or_empty<'b>(id: &[u8], buf: &'b mut [u8; 32]) -> &'b str {
    if id.iter().all(|b| *b == 0) {
        return "";
    }
    hex(id, buf)
}

/// Lowercase hex of an id of `len` bytes, zeros when absent (`hex.EncodeToString(id[:])` of the
/// fixed-size id, as the exporter does for exemplars).
#[inline]
pub(crate) fn hex_fixed<'b>(id: &[u8], len: usize, buf: &'b mut [u8; 32]) -> &'b str {
    if id.is_empty() {
        buf[..len * 2].fill(b'0');
        return std::str::from_utf8(&buf[..len * 2]).unwrap_or_default();
    }
    hex(id, buf)
}

#[inline]
fn hex<'b>(id: &[u8], buf: &'b mut [u8; 32]) -> &'b str {
    let n = id.len().min(16);
    for (i, b) in id[..n].iter().enumerate() {
        buf[2 * i] = HEX[(b >> 4) as usize];
        buf[2 * i + 1] = HEX[(b & 0xf) as usize];
    }
    // Only ASCII hex digits were written.
    std::str::from_utf8(&buf[..2 * n]).unwrap_or_default()
}

/// `service.name` of a resource, as `GetServiceName` (the first such attribute, as text).
fn service_name(attrs: &[KeyValue]) -> String {
    let mut s = String::new();
    if let Some(kv) = attrs.iter().find(|kv| kv.key == "service.name") {
        format_value(kv.value.as_ref(), &mut s);
    }
    s
}

pub(crate) fn span_kind(kind: i32) -> &'static str {
    match kind {
        0 => "Unspecified",
        1 => "Internal",
        2 => "Server",
        3 => "Client",
        4 => "Producer",
        5 => "Consumer",
        _ => "",
    }
}

pub(crate) fn status_code(code: i32) -> &'static str {
    match code {
        0 => "Unset",
        1 => "Ok",
        2 => "Error",
        _ => "",
    }
}

static EMPTY_RESOURCE: Resource = Resource { attributes: Vec::new(), dropped_attributes_count: 0 };

fn empty_scope() -> &'static InstrumentationScope {
    static S: std::sync::OnceLock<InstrumentationScope> = std::sync::OnceLock::new();
    S.get_or_init(InstrumentationScope::default)
}

// ---------------------------------------------------------------------------------------------
// logs

pub(crate) fn logs(req: &ExportLogsServiceRequest, limits: &Limits) -> Decoded {
    let mut cx = Ctx::new(limits);
    let mut b = LogsBuilder::new();
    for (ri, rl) in req.resource_logs.iter().enumerate() {
        let res = rl.resource.as_ref().unwrap_or(&EMPTY_RESOURCE);
        let service = service_name(&res.attributes);
        cx.fill_set(Which::Resource, &res.attributes);
        for (si, sl) in rl.scope_logs.iter().enumerate() {
            let scope = sl.scope.as_ref().unwrap_or_else(|| empty_scope());
            cx.fill_set(Which::Scope, &scope.attributes);
            for (li, r) in sl.log_records.iter().enumerate() {
                let bad = if !id_ok(&r.trace_id, 16) {
                    Some(id_problem("trace_id", &r.trace_id, 16))
                } else if !id_ok(&r.span_id, 8) {
                    Some(id_problem("span_id", &r.span_id, 8))
                } else {
                    None
                };
                if let Some(problem) = bad {
                    cx.reject(|| format!("resource_logs[{ri}].scope_logs[{si}].log_records[{li}]: {problem}"));
                    continue;
                }
                cx.resource.insert_into(&mut b.resource_attributes);
                cx.scope.insert_into(&mut b.scope_attributes);
                let log_attributes = &mut b.log_attributes;
                cx.attrs(&r.attributes, |k, v| log_attributes.insert(k, v));
                cx.buf.clear();
                format_value(r.body.as_ref(), &mut cx.buf);
                let ts = if r.time_unix_nano == 0 { r.observed_time_unix_nano } else { r.time_unix_nano };
                let (mut tb, mut sb) = ([0u8; 32], [0u8; 32]);
                b.end_row(&LogRow {
                    timestamp_ns: ns(ts),
                    trace_id: hex_or_empty(&r.trace_id, &mut tb),
                    span_id: hex_or_empty(&r.span_id, &mut sb),
                    trace_flags: r.flags as u8,
                    severity_text: &r.severity_text,
                    severity_number: r.severity_number as u8,
                    service_name: &service,
                    body: &cx.buf,
                    resource_schema_url: &rl.schema_url,
                    scope_schema_url: &sl.schema_url,
                    scope_name: &scope.name,
                    scope_version: &scope.version,
                    event_name: &r.event_name,
                });
                cx.accepted += 1;
            }
        }
    }
    let batches = if b.is_empty() { Vec::new() } else { vec![(chute_tables::otel::LOGS.name, b.finish())] };
    cx.finish("log records", batches)
}

// ---------------------------------------------------------------------------------------------
// traces

fn span_problem(s: &Span) -> Option<String> {
    if !id_ok(&s.trace_id, 16) {
        return Some(id_problem("trace_id", &s.trace_id, 16));
    }
    if !id_ok(&s.span_id, 8) {
        return Some(id_problem("span_id", &s.span_id, 8));
    }
    if !id_ok(&s.parent_span_id, 8) {
        return Some(id_problem("parent_span_id", &s.parent_span_id, 8));
    }
    for (i, l) in s.links.iter().enumerate() {
        if !id_ok(&l.trace_id, 16) {
            return Some(id_problem(&format!("links[{i}].trace_id"), &l.trace_id, 16));
        }
        if !id_ok(&l.span_id, 8) {
            return Some(id_problem(&format!("links[{i}].span_id"), &l.span_id, 8));
        }
    }
    None
}

pub(crate) fn traces(req: &ExportTraceServiceRequest, limits: &Limits) -> Decoded {
    let mut cx = Ctx::new(limits);
    let mut b = TracesBuilder::new();
    for (ri, rs) in req.resource_spans.iter().enumerate() {
        let res = rs.resource.as_ref().unwrap_or(&EMPTY_RESOURCE);
        let service = service_name(&res.attributes);
        cx.fill_set(Which::Resource, &res.attributes);
        for (si, ss) in rs.scope_spans.iter().enumerate() {
            let scope = ss.scope.as_ref().unwrap_or_else(|| empty_scope());
            for (pi, s) in ss.spans.iter().enumerate() {
                if let Some(problem) = span_problem(s) {
                    cx.reject(|| {
                        format!("resource_spans[{ri}].scope_spans[{si}].spans[{pi}] ({:?}): {problem}", s.name)
                    });
                    continue;
                }
                cx.resource.insert_into(&mut b.resource_attributes);
                let span_attributes = &mut b.span_attributes;
                cx.attrs(&s.attributes, |k, v| span_attributes.insert(k, v));
                for e in &s.events {
                    let event_attributes = &mut b.event_attributes;
                    cx.attrs(&e.attributes, |k, v| event_attributes.insert(k, v));
                    b.add_event(ns(e.time_unix_nano), &e.name);
                }
                for l in &s.links {
                    let link_attributes = &mut b.link_attributes;
                    cx.attrs(&l.attributes, |k, v| link_attributes.insert(k, v));
                    let (mut tb, mut sb) = ([0u8; 32], [0u8; 32]);
                    b.add_link(hex_or_empty(&l.trace_id, &mut tb), hex_or_empty(&l.span_id, &mut sb), &l.trace_state);
                }
                let status = s.status.as_ref();
                let (mut tb, mut sb, mut pb) = ([0u8; 32], [0u8; 32], [0u8; 32]);
                b.end_row(&SpanRow {
                    timestamp_ns: ns(s.start_time_unix_nano),
                    trace_id: hex_or_empty(&s.trace_id, &mut tb),
                    span_id: hex_or_empty(&s.span_id, &mut sb),
                    parent_span_id: hex_or_empty(&s.parent_span_id, &mut pb),
                    trace_state: &s.trace_state,
                    span_name: &s.name,
                    span_kind: span_kind(s.kind),
                    service_name: &service,
                    scope_name: &scope.name,
                    scope_version: &scope.version,
                    // The exporter subtracts unsigned nanoseconds (an end before the start would
                    // wrap around); a negative duration is stored as 0 here.
                    duration_ns: s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano),
                    status_code: status_code(status.map_or(0, |s| s.code)),
                    status_message: status.map_or("", |s| &s.message),
                });
                cx.accepted += 1;
            }
        }
    }
    let batches = if b.is_empty() { Vec::new() } else { vec![(chute_tables::otel::TRACES.name, b.finish())] };
    cx.finish("spans", batches)
}

// ---------------------------------------------------------------------------------------------
// metrics

/// One builder per metric table, made when its first data point comes.
#[derive(Default)]
pub(crate) struct MetricBuilders {
    pub(crate) gauge: Option<GaugeBuilder>,
    pub(crate) sum: Option<SumBuilder>,
    pub(crate) histogram: Option<HistogramBuilder>,
    pub(crate) exp_histogram: Option<ExpHistogramBuilder>,
    pub(crate) summary: Option<SummaryBuilder>,
}

impl MetricBuilders {
    /// The batches of the tables that got rows, in table order.
    pub(crate) fn finish(self) -> Vec<(&'static str, arrow_array::RecordBatch)> {
        use chute_tables::otel::{
            METRICS_EXPONENTIAL_HISTOGRAM, METRICS_GAUGE, METRICS_HISTOGRAM, METRICS_SUM, METRICS_SUMMARY,
        };
        let mut batches = Vec::new();
        if let Some(mut x) = self.gauge.filter(|x| !x.is_empty()) {
            batches.push((METRICS_GAUGE.name, x.finish()));
        }
        if let Some(mut x) = self.sum.filter(|x| !x.is_empty()) {
            batches.push((METRICS_SUM.name, x.finish()));
        }
        if let Some(mut x) = self.histogram.filter(|x| !x.is_empty()) {
            batches.push((METRICS_HISTOGRAM.name, x.finish()));
        }
        if let Some(mut x) = self.exp_histogram.filter(|x| !x.is_empty()) {
            batches.push((METRICS_EXPONENTIAL_HISTOGRAM.name, x.finish()));
        }
        if let Some(mut x) = self.summary.filter(|x| !x.is_empty()) {
            batches.push((METRICS_SUMMARY.name, x.finish()));
        }
        batches
    }
}

fn exemplar_problem(exemplars: &[Exemplar]) -> Option<String> {
    exemplar_ids_problem(exemplars.iter().map(|e| (e.trace_id.as_slice(), e.span_id.as_slice())))
}

/// The first exemplar id of the wrong length among the exemplars' (trace id, span id), named
/// as the refusal message names it.
pub(crate) fn exemplar_ids_problem<'a>(ids: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Option<String> {
    for (i, (trace_id, span_id)) in ids.enumerate() {
        if !id_ok(trace_id, 16) {
            return Some(id_problem(&format!("exemplars[{i}].trace_id"), trace_id, 16));
        }
        if !id_ok(span_id, 8) {
            return Some(id_problem(&format!("exemplars[{i}].span_id"), span_id, 8));
        }
    }
    None
}

fn number(v: Option<number_data_point::Value>) -> f64 {
    match v {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

impl Ctx<'_> {
    /// The common columns' maps of one data point.
    fn common(&mut self, cols: &mut MetricColumns, attributes: &[KeyValue]) {
        self.resource.insert_into(&mut cols.resource_attributes);
        self.scope.insert_into(&mut cols.scope_attributes);
        let a = &mut cols.attributes;
        self.attrs(attributes, |k, v| a.insert(k, v));
    }

    fn exemplars(&mut self, cols: &mut ExemplarColumns, exemplars: &[Exemplar]) {
        for e in exemplars {
            let fa: &mut StrMapList = &mut cols.filtered_attributes;
            self.attrs(&e.filtered_attributes, |k, v| fa.insert(k, v));
            let value = match e.value {
                Some(exemplar::Value::AsDouble(d)) => d,
                Some(exemplar::Value::AsInt(i)) => i as f64,
                None => 0.0,
            };
            let (mut tb, mut sb) = ([0u8; 32], [0u8; 32]);
            cols.add(
                ns(e.time_unix_nano),
                value,
                hex_fixed(&e.span_id, 8, &mut sb),
                hex_fixed(&e.trace_id, 16, &mut tb),
            );
        }
    }
}

pub(crate) fn metrics(req: &ExportMetricsServiceRequest, limits: &Limits) -> Decoded {
    let mut cx = Ctx::new(limits);
    let mut b = MetricBuilders::default();
    for (ri, rm) in req.resource_metrics.iter().enumerate() {
        let res = rm.resource.as_ref().unwrap_or(&EMPTY_RESOURCE);
        let service = service_name(&res.attributes);
        cx.fill_set(Which::Resource, &res.attributes);
        for (si, sm) in rm.scope_metrics.iter().enumerate() {
            let scope = sm.scope.as_ref().unwrap_or_else(|| empty_scope());
            cx.fill_set(Which::Scope, &scope.attributes);
            for (mi, m) in sm.metrics.iter().enumerate() {
                let at = || format!("resource_metrics[{ri}].scope_metrics[{si}].metrics[{mi}] ({:?})", m.name);
                let row = |start: u64, time: u64| MetricRow {
                    resource_schema_url: &rm.schema_url,
                    scope_name: &scope.name,
                    scope_version: &scope.version,
                    scope_dropped_attr_count: scope.dropped_attributes_count,
                    scope_schema_url: &sm.schema_url,
                    service_name: &service,
                    metric_name: &m.name,
                    metric_description: &m.description,
                    metric_unit: &m.unit,
                    start_time_ns: ns(start),
                    time_ns: ns(time),
                };
                match &m.data {
                    None => cx.reject(|| format!("{}: no data (missing or unknown data kind)", at())),
                    Some(metric::Data::Gauge(g)) => {
                        let gb = b.gauge.get_or_insert_with(GaugeBuilder::new);
                        for (pi, dp) in g.data_points.iter().enumerate() {
                            if let Some(p) = exemplar_problem(&dp.exemplars) {
                                cx.reject(|| format!("{}.data_points[{pi}]: {p}", at()));
                                continue;
                            }
                            cx.common(&mut gb.common, &dp.attributes);
                            cx.exemplars(&mut gb.exemplars, &dp.exemplars);
                            gb.end_row(&row(dp.start_time_unix_nano, dp.time_unix_nano), number(dp.value), dp.flags);
                            cx.accepted += 1;
                        }
                    }
                    Some(metric::Data::Sum(s)) => {
                        let sb = b.sum.get_or_insert_with(SumBuilder::new);
                        for (pi, dp) in s.data_points.iter().enumerate() {
                            if let Some(p) = exemplar_problem(&dp.exemplars) {
                                cx.reject(|| format!("{}.data_points[{pi}]: {p}", at()));
                                continue;
                            }
                            cx.common(&mut sb.common, &dp.attributes);
                            cx.exemplars(&mut sb.exemplars, &dp.exemplars);
                            sb.end_row(
                                &row(dp.start_time_unix_nano, dp.time_unix_nano),
                                number(dp.value),
                                dp.flags,
                                s.aggregation_temporality,
                                s.is_monotonic,
                            );
                            cx.accepted += 1;
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        let hb = b.histogram.get_or_insert_with(HistogramBuilder::new);
                        for (pi, dp) in h.data_points.iter().enumerate() {
                            if let Some(p) = exemplar_problem(&dp.exemplars) {
                                cx.reject(|| format!("{}.data_points[{pi}]: {p}", at()));
                                continue;
                            }
                            cx.common(&mut hb.common, &dp.attributes);
                            cx.exemplars(&mut hb.exemplars, &dp.exemplars);
                            hb.end_row(
                                &row(dp.start_time_unix_nano, dp.time_unix_nano),
                                &HistogramRow {
                                    count: dp.count,
                                    sum: dp.sum.unwrap_or(0.0),
                                    bucket_counts: &dp.bucket_counts,
                                    explicit_bounds: &dp.explicit_bounds,
                                    flags: dp.flags,
                                    min: dp.min.unwrap_or(0.0),
                                    max: dp.max.unwrap_or(0.0),
                                    temporality: h.aggregation_temporality,
                                },
                            );
                            cx.accepted += 1;
                        }
                    }
                    Some(metric::Data::ExponentialHistogram(h)) => {
                        let eb = b.exp_histogram.get_or_insert_with(ExpHistogramBuilder::new);
                        for (pi, dp) in h.data_points.iter().enumerate() {
                            if let Some(p) = exemplar_problem(&dp.exemplars) {
                                cx.reject(|| format!("{}.data_points[{pi}]: {p}", at()));
                                continue;
                            }
                            cx.common(&mut eb.common, &dp.attributes);
                            cx.exemplars(&mut eb.exemplars, &dp.exemplars);
                            let pos = dp.positive.as_ref();
                            let neg = dp.negative.as_ref();
                            eb.end_row(
                                &row(dp.start_time_unix_nano, dp.time_unix_nano),
                                &ExpHistogramRow {
                                    count: dp.count,
                                    sum: dp.sum.unwrap_or(0.0),
                                    scale: dp.scale,
                                    zero_count: dp.zero_count,
                                    positive_offset: pos.map_or(0, |b| b.offset),
                                    positive_bucket_counts: pos.map_or(&[][..], |b| b.bucket_counts.as_slice()),
                                    negative_offset: neg.map_or(0, |b| b.offset),
                                    negative_bucket_counts: neg.map_or(&[][..], |b| b.bucket_counts.as_slice()),
                                    flags: dp.flags,
                                    min: dp.min.unwrap_or(0.0),
                                    max: dp.max.unwrap_or(0.0),
                                    temporality: h.aggregation_temporality,
                                },
                            );
                            cx.accepted += 1;
                        }
                    }
                    Some(metric::Data::Summary(s)) => {
                        let qb = b.summary.get_or_insert_with(SummaryBuilder::new);
                        for dp in &s.data_points {
                            cx.common(&mut qb.common, &dp.attributes);
                            for q in &dp.quantile_values {
                                qb.add_quantile(q.quantile, q.value);
                            }
                            qb.end_row(&row(dp.start_time_unix_nano, dp.time_unix_nano), dp.count, dp.sum, dp.flags);
                            cx.accepted += 1;
                        }
                    }
                }
            }
        }
    }
    cx.finish("data points", b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_as_the_exporter_prints_them() {
        let mut b = [0u8; 32];
        assert_eq!(hex_or_empty(&[], &mut b), "");
        assert_eq!(hex_or_empty(&[0; 16], &mut b), "", "an all-zero id is no id");
        assert_eq!(hex_or_empty(&[0xab, 0x01, 0, 0, 0, 0, 0, 0xff], &mut b), "ab010000000000ff");
        assert_eq!(hex_fixed(&[], 8, &mut b), "0000000000000000", "exemplars print absent ids as zeros");
        assert_eq!(hex_fixed(&[], 16, &mut b).len(), 32);
    }

    #[test]
    fn kinds_and_codes_are_the_exporter_strings() {
        assert_eq!(span_kind(2), "Server");
        assert_eq!(span_kind(3), "Client");
        assert_eq!(span_kind(0), "Unspecified");
        assert_eq!(span_kind(9), "");
        assert_eq!(status_code(2), "Error");
        assert_eq!(status_code(0), "Unset");
        assert_eq!(status_code(1), "Ok");
    }
}
