//! Prometheus remote write 1.0 request bodies (snappy block format around a protobuf
//! `prometheus.WriteRequest`) decoded into Arrow record batches for the OpenTelemetry collector's
//! ClickHouse exporter metric tables (`otel_metrics_gauge`, `otel_metrics_sum`,
//! `otel_metrics_exponential_histogram`; builders in `chute_tables::otel`), so that Prometheus
//! data sits beside OTLP data and is read the same way.
//!
//! No network here: the server hands over the body as received and gets batches back. The whole
//! body is checked before anything is returned: one bad series makes the request an error, and
//! nothing of it is stored.
//!
//! # Mapping (documented in `docs/opentelemetry.md`)
//!
//! - `__name__` → `MetricName`; `job` → resource attribute `service.name` (and `ServiceName`),
//!   `instance` → `service.instance.id`, as the OpenTelemetry Prometheus conventions map them;
//!   every other label → `Attributes`. Labels with an empty value are absent (Prometheus' rule).
//! - Float samples → `otel_metrics_sum` (monotonic, cumulative) or `otel_metrics_gauge`:
//!   the metadata type of the series' family when the request carries it (counter; the
//!   `_count`/`_sum`/`_bucket` series of a histogram or summary → sum; gauge, info, stateset,
//!   gauge histogram and a summary's quantile series → gauge), otherwise the name: a name ending
//!   in `_total`, `_count`, `_sum` or `_bucket` is a sum, any other a gauge. Classic histogram
//!   and summary series stay the series they are (`le` and `quantile` are attributes).
//! - Native histograms → `otel_metrics_exponential_histogram`: Prometheus' schema is OTel's
//!   scale, bucket index `i` (upper bound `base^i`) is OTel's index `i - 1`, spans are expanded
//!   into dense bucket counts with zeros in the gaps. Cumulative, or unspecified temporality for
//!   gauge histograms (reset hint GAUGE).
//! - Staleness markers (the NaN with bits `0x7ff0000000000002`) are stored as rows with
//!   `Flags = 1` (OTLP's `FLAG_NO_RECORDED_VALUE`) and counted.
//! - Exemplars → the row's `Exemplars.*` columns: `trace_id` and `span_id` labels → `TraceId` and
//!   `SpanId`, other labels → `FilteredAttributes`. A series' exemplars go with its last sample (or
//!   native histogram) in the request; Prometheus sends them in a separate entry with the same
//!   labels, which is matched by its labels. Exemplars of a label set with no sample in the
//!   request are stored on a row with `Flags = 1` at the newest exemplar's time.
//! - Remote write 1.0 has no start time: `StartTimeUnix` is 0. `ScopeName` is [`SCOPE_NAME`].

pub mod proto;
mod wire;

use arrow_array::RecordBatch;
use chute_tables::otel::{
    ExemplarColumns, ExpHistogramBuilder, ExpHistogramRow, GaugeBuilder, MetricColumns, MetricRow, SumBuilder,
};
use proto::{MetricType, ResetHint};
use std::collections::HashMap;
use wire::{Exemplar, Label, Metadata, Request, SeriesRef};

/// The bits of Prometheus' staleness marker (a NaN that means "this series ended").
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
/// OTLP's `DataPointFlags.FLAG_NO_RECORDED_VALUE`: the `Flags` of a staleness marker row.
pub const FLAG_NO_RECORDED_VALUE: u32 = 1;
/// The `ScopeName` of every row written from remote write.
pub const SCOPE_NAME: &str = "prometheus-remote-write";
/// OTLP's AGGREGATION_TEMPORALITY_CUMULATIVE.
const CUMULATIVE: i32 = 2;
/// Dense buckets one native histogram may expand to (a span gap counts too).
pub const MAX_HISTOGRAM_BUCKETS: usize = 1 << 16;

/// The tables a decoded request may have rows for.
pub const TABLES: [&str; 3] = ["otel_metrics_gauge", "otel_metrics_sum", "otel_metrics_exponential_histogram"];

/// Limits applied while decoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Attributes kept per series (labels besides `__name__`, `job`, `instance`) and per
    /// exemplar; the rest are dropped (and counted).
    pub max_attributes: usize,
    /// Bytes kept of a label value; longer values are cut at a character boundary (and counted).
    pub max_attribute_value_len: usize,
    /// Largest decompressed body.
    pub max_decoded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_attributes: 128, max_attribute_value_len: 8 * 1024, max_decoded_bytes: 64 << 20 }
    }
}

/// A decoded request.
#[derive(Clone, Debug, Default)]
pub struct Decoded {
    /// One batch per table that has rows, in the table's column order.
    pub batches: Vec<(&'static str, RecordBatch)>,
    /// Time series entries in the request.
    pub series: u64,
    /// Float samples (staleness markers included).
    pub samples: u64,
    /// Native histogram samples.
    pub histograms: u64,
    /// Exemplars kept.
    pub exemplars: u64,
    /// Staleness markers (stored with `Flags = 1`).
    pub stale_markers: u64,
    /// Metadata entries in the request.
    pub metadata: u64,
    /// Label values cut to [`Limits::max_attribute_value_len`].
    pub truncated_attributes: u64,
    /// Labels dropped beyond [`Limits::max_attributes`].
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

/// A body that cannot be stored; nothing of it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromRwError {
    #[error("invalid snappy body (remote write uses the snappy block format): {0}")]
    Snappy(String),
    #[error("the body decompresses to {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("invalid protobuf WriteRequest: {0}")]
    Protobuf(String),
    /// `index` is the 0-based position of the series in `timeseries`.
    #[error("time series {index}{name}: {detail}", name = name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default())]
    Series { index: usize, name: Option<String>, detail: String },
}

/// Decompresses a snappy (block format) body, refusing more than `limit` bytes of output.
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, PromRwError> {
    let len = snap::raw::decompress_len(body).map_err(|e| PromRwError::Snappy(e.to_string()))?;
    if len > limit {
        return Err(PromRwError::TooLarge { size: len as u64, limit: limit as u64 });
    }
    snap::raw::Decoder::new().decompress_vec(body).map_err(|e| PromRwError::Snappy(e.to_string()))
}

/// Decodes a remote write body as sent (snappy-compressed protobuf).
pub fn decode(body: &[u8], limits: &Limits) -> Result<Decoded, PromRwError> {
    let raw = decompress(body, limits.max_decoded_bytes)?;
    decode_protobuf(&raw, limits)
}

/// Decodes an uncompressed `WriteRequest`.
pub fn decode_protobuf(bytes: &[u8], limits: &Limits) -> Result<Decoded, PromRwError> {
    let req = wire::parse(bytes).map_err(PromRwError::Protobuf)?;
    convert(&req, limits)
}

/// [`decode_protobuf`] through prost's owned messages: the reference the zero-copy reader is
/// checked against.
#[cfg(test)]
fn decode_protobuf_prost(bytes: &[u8], limits: &Limits) -> Result<Decoded, PromRwError> {
    let req = proto::decode_write_request(bytes).map_err(|e| PromRwError::Protobuf(e.to_string()))?;
    convert(&Request::from_prost(&req), limits)
}

// ---------------------------------------------------------------------------------------------

/// gauge or sum, for a float series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    /// A monotonic cumulative sum.
    Sum,
}

const COUNTER_SUFFIXES: [&str; 4] = ["_total", "_count", "_sum", "_bucket"];
const FAMILY_SUFFIXES: [&str; 8] = ["_total", "_count", "_sum", "_bucket", "_created", "_gcount", "_gsum", "_info"];

/// The metadata of a series' family: its own name, or its name without a suffix the exposition
/// formats add (`_total`, `_count`, `_sum`, `_bucket`, `_created`, ...).
fn family<'m, 'a>(name: &str, meta: &HashMap<&str, &'m Metadata<'a>>) -> Option<&'m Metadata<'a>> {
    if meta.is_empty() {
        return None;
    }
    if let Some(m) = meta.get(name) {
        return Some(m);
    }
    FAMILY_SUFFIXES.iter().find_map(|s| name.strip_suffix(s).and_then(|base| meta.get(base).copied()))
}

/// Whether a float series is a gauge or a sum (see the crate docs).
pub fn classify(name: &str, metric_type: Option<MetricType>) -> Kind {
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| name.ends_with(s));
    match metric_type {
        Some(MetricType::Counter) if !name.ends_with("_created") => Kind::Sum,
        Some(MetricType::Histogram | MetricType::Summary) if ends(&["_count", "_sum", "_bucket"]) => Kind::Sum,
        Some(MetricType::Unknown) | None if ends(&COUNTER_SUFFIXES) => Kind::Sum,
        _ => Kind::Gauge,
    }
}

/// The labels of one series, checked and split.
struct SeriesLabels<'a, 'b> {
    name: &'a str,
    job: &'a str,
    instance: &'a str,
    attrs: &'b [(&'a str, &'a str)],
}

/// Buffers reused from one series to the next.
#[derive(Default)]
struct Scratch<'a> {
    names: Vec<&'a str>,
    attrs: Vec<(&'a str, &'a str)>,
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[derive(Default)]
struct Stats {
    truncated: u64,
    dropped: u64,
}

/// `a < b`, deciding on the first byte when it differs (as it does between most label names)
/// without a call to `memcmp`.
#[inline]
fn before(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

fn series_labels<'a, 'b>(
    index: usize,
    labels: &[Label<'a>],
    scratch: &'b mut Scratch<'a>,
    limits: &Limits,
    stats: &mut Stats,
) -> Result<SeriesLabels<'a, 'b>, PromRwError> {
    let name = labels.iter().find(|l| l.name == "__name__").map(|l| l.value);
    let err = |detail: String| PromRwError::Series { index, name: name.map(str::to_string), detail };
    let name = match name {
        Some(n) if !n.is_empty() => n,
        _ => return Err(err("has no metric name (label __name__)".into())),
    };
    // Duplicate names: labels are sorted by name as the specification asks, which makes the
    // check one pass; an unsorted set is sorted aside first.
    if !labels.windows(2).all(|w| before(w[0].name, w[1].name)) {
        let names = &mut scratch.names;
        names.clear();
        names.extend(labels.iter().map(|l| l.name));
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(err(format!("label {:?} appears twice", w[0])));
        }
    }
    if labels.iter().any(|l| l.name.is_empty()) {
        return Err(err("has a label with an empty name".into()));
    }
    let attrs = &mut scratch.attrs;
    attrs.clear();
    let (mut job, mut instance) = ("", "");
    for l in labels {
        if l.value.is_empty() {
            continue;
        }
        match l.name {
            "__name__" => {}
            "job" => {
                job = cut(l.value, limits.max_attribute_value_len);
                stats.truncated += u64::from(job.len() < l.value.len());
            }
            "instance" => {
                instance = cut(l.value, limits.max_attribute_value_len);
                stats.truncated += u64::from(instance.len() < l.value.len());
            }
            n => {
                if attrs.len() >= limits.max_attributes {
                    stats.dropped += 1;
                    continue;
                }
                let v = cut(l.value, limits.max_attribute_value_len);
                if v.len() < l.value.len() {
                    stats.truncated += 1;
                }
                attrs.push((n, v));
            }
        }
    }
    Ok(SeriesLabels { name, job, instance, attrs })
}

fn fill_common(c: &mut MetricColumns, l: &SeriesLabels<'_, '_>) {
    if !l.job.is_empty() {
        c.resource_attributes.insert("service.name", l.job);
    }
    if !l.instance.is_empty() {
        c.resource_attributes.insert("service.instance.id", l.instance);
    }
    for (k, v) in l.attrs {
        c.attributes.insert(k, v);
    }
}

fn ms_to_ns(ms: i64) -> i64 {
    ms.saturating_mul(1_000_000)
}

fn fill_exemplars<'r>(
    e: &mut ExemplarColumns,
    req: &Request<'_>,
    exemplars: impl Iterator<Item = &'r Exemplar>,
    limits: &Limits,
    stats: &mut Stats,
) -> u64 {
    let mut n = 0;
    for ex in exemplars {
        let (mut trace_id, mut span_id) = ("", "");
        let mut kept = 0;
        for l in req.exemplar_labels(ex) {
            match l.name {
                "trace_id" => trace_id = l.value,
                "span_id" => span_id = l.value,
                k => {
                    if kept >= limits.max_attributes {
                        stats.dropped += 1;
                        continue;
                    }
                    let v = cut(l.value, limits.max_attribute_value_len);
                    if v.len() < l.value.len() {
                        stats.truncated += 1;
                    }
                    e.filtered_attributes.insert(k, v);
                    kept += 1;
                }
            }
        }
        e.add(ms_to_ns(ex.timestamp), ex.value, span_id, trace_id);
        n += 1;
    }
    n
}

/// A label set as one string, to match exemplar-only entries to their series.
fn label_key(ts: &SeriesRef<'_, '_>) -> String {
    let mut labels: Vec<(&str, &str)> = ts.labels.iter().map(|l| (l.name, l.value)).collect();
    labels.sort_unstable();
    let mut key = String::new();
    for (k, v) in labels {
        key.push_str(k);
        key.push('\u{1}');
        key.push_str(v);
        key.push('\u{2}');
    }
    key
}

fn has_data(ts: &SeriesRef<'_, '_>) -> bool {
    !ts.samples.is_empty() || !ts.histograms.is_empty()
}

/// Dense OTel buckets of one side of a native histogram: (OTel offset, counts).
fn dense_buckets(spans: &[proto::BucketSpan], deltas: &[i64], counts: &[f64]) -> Result<(i32, Vec<u64>), String> {
    let n: u64 = spans.iter().map(|s| u64::from(s.length)).sum();
    let float = deltas.is_empty() && !counts.is_empty();
    let given = if float { counts.len() } else { deltas.len() };
    if n != given as u64 {
        return Err(format!(
            "native histogram spans hold {n} buckets but {given} {} were sent",
            if float { "counts" } else { "deltas" }
        ));
    }
    if n == 0 {
        return Ok((0, Vec::new()));
    }
    let first = i64::from(spans[0].offset);
    let mut end = first;
    for (j, s) in spans.iter().enumerate() {
        if j > 0 {
            if s.offset < 0 {
                return Err(format!("native histogram span {j} has a negative offset {}", s.offset));
            }
            end += i64::from(s.offset);
        }
        end += i64::from(s.length);
    }
    let width = (end - first) as u64;
    if width > MAX_HISTOGRAM_BUCKETS as u64 {
        return Err(format!("native histogram spans {width} buckets, more than {MAX_HISTOGRAM_BUCKETS}"));
    }
    let mut out = vec![0u64; width as usize];
    let (mut idx, mut k, mut running) = (first, 0usize, 0i64);
    for (j, s) in spans.iter().enumerate() {
        if j > 0 {
            idx += i64::from(s.offset);
        }
        for _ in 0..s.length {
            let c = if float {
                let c = counts[k];
                if c.is_nan() || c < 0.0 {
                    return Err(format!("native histogram bucket {idx} has count {c}"));
                }
                c.round() as u64
            } else {
                running += deltas[k];
                if running < 0 {
                    return Err(format!("native histogram bucket {idx} has a negative count {running}"));
                }
                running as u64
            };
            out[(idx - first) as usize] = c;
            idx += 1;
            k += 1;
        }
    }
    // Prometheus bucket i holds (base^(i-1), base^i]; OTel bucket i holds (base^i, base^(i+1)].
    let offset = i32::try_from(first - 1).map_err(|_| format!("native histogram offset {first} is out of range"))?;
    Ok((offset, out))
}

fn float_count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 { v.round() as u64 } else { 0 }
}

/// The tables' builders, each made when its first row comes (most requests fill one or two), so
/// a builder that exists has rows.
#[derive(Default)]
struct Builders {
    gauge: Option<GaugeBuilder>,
    sum: Option<SumBuilder>,
    exp: Option<ExpHistogramBuilder>,
}

impl Builders {
    fn gauge(&mut self) -> &mut GaugeBuilder {
        self.gauge.get_or_insert_with(GaugeBuilder::new)
    }
    fn sum(&mut self) -> &mut SumBuilder {
        self.sum.get_or_insert_with(SumBuilder::new)
    }
    fn exp(&mut self) -> &mut ExpHistogramBuilder {
        self.exp.get_or_insert_with(ExpHistogramBuilder::new)
    }
}

fn convert(req: &Request<'_>, limits: &Limits) -> Result<Decoded, PromRwError> {
    let meta: HashMap<&str, &Metadata<'_>> = req.metadata.iter().map(|m| (m.metric_family_name, m)).collect();
    let series = |i: usize| req.series_ref(&req.series[i]);

    // Exemplar-only entries (how Prometheus sends exemplars) go with the series of the same
    // labels; `extra[target]` lists them.
    let mut extra: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut attached = vec![false; req.series.len()];
    if (0..req.series.len()).map(series).any(|ts| !has_data(&ts) && !ts.exemplars.is_empty()) {
        let mut by_key: HashMap<String, usize> = HashMap::new();
        for (i, ts) in (0..req.series.len()).map(series).enumerate() {
            if has_data(&ts) {
                by_key.insert(label_key(&ts), i);
            }
        }
        for (i, ts) in (0..req.series.len()).map(series).enumerate() {
            if !has_data(&ts)
                && !ts.exemplars.is_empty()
                && let Some(&t) = by_key.get(&label_key(&ts))
            {
                extra.entry(t).or_default().push(i);
                attached[i] = true;
            }
        }
    }

    let mut b = Builders::default();
    let mut d = Decoded { series: req.series.len() as u64, metadata: req.metadata.len() as u64, ..Default::default() };
    let mut stats = Stats::default();
    let mut scratch = Scratch::default();

    for (index, s) in req.series.iter().enumerate() {
        let ts = req.series_ref(s);
        let labels = series_labels(index, ts.labels, &mut scratch, limits, &mut stats)?;
        if attached[index] || (!has_data(&ts) && ts.exemplars.is_empty()) {
            continue;
        }
        let m = family(labels.name, &meta);
        let kind = classify(labels.name, m.and_then(|m| MetricType::try_from(m.r#type).ok()));
        let row = MetricRow {
            scope_name: SCOPE_NAME,
            service_name: labels.job,
            metric_name: labels.name,
            metric_description: m.map_or("", |m| m.help),
            metric_unit: m.map_or("", |m| m.unit),
            ..Default::default()
        };
        let exemplars = || {
            ts.exemplars.iter().chain(extra.get(&index).into_iter().flatten().flat_map(|&i| series(i).exemplars.iter()))
        };

        // Exemplars without a sample: one row that records no value.
        if !has_data(&ts) {
            let newest = exemplars().map(|e| e.timestamp).max().unwrap_or(0);
            let r = MetricRow { time_ns: ms_to_ns(newest), ..row };
            match kind {
                Kind::Gauge => {
                    let g = b.gauge();
                    fill_common(&mut g.common, &labels);
                    d.exemplars += fill_exemplars(&mut g.exemplars, req, exemplars(), limits, &mut stats);
                    g.end_row(&r, f64::NAN, FLAG_NO_RECORDED_VALUE);
                }
                Kind::Sum => {
                    let m = b.sum();
                    fill_common(&mut m.common, &labels);
                    d.exemplars += fill_exemplars(&mut m.exemplars, req, exemplars(), limits, &mut stats);
                    m.end_row(&r, f64::NAN, FLAG_NO_RECORDED_VALUE, CUMULATIVE, true);
                }
            }
            continue;
        }

        let has_exemplars = !ts.exemplars.is_empty() || extra.contains_key(&index);
        let last_sample = if ts.histograms.is_empty() { ts.samples.len() } else { usize::MAX };
        for (j, s) in ts.samples.iter().enumerate() {
            let flags = if s.value.to_bits() == STALE_NAN_BITS {
                d.stale_markers += 1;
                FLAG_NO_RECORDED_VALUE
            } else {
                0
            };
            let r = MetricRow { time_ns: ms_to_ns(s.timestamp), ..row };
            let with_exemplars = j + 1 == last_sample && has_exemplars;
            match kind {
                Kind::Gauge => {
                    let g = b.gauge();
                    fill_common(&mut g.common, &labels);
                    if with_exemplars {
                        d.exemplars += fill_exemplars(&mut g.exemplars, req, exemplars(), limits, &mut stats);
                    }
                    g.end_row(&r, s.value, flags);
                }
                Kind::Sum => {
                    let m = b.sum();
                    fill_common(&mut m.common, &labels);
                    if with_exemplars {
                        d.exemplars += fill_exemplars(&mut m.exemplars, req, exemplars(), limits, &mut stats);
                    }
                    m.end_row(&r, s.value, flags, CUMULATIVE, true);
                }
            }
        }
        d.samples += ts.samples.len() as u64;

        for (j, h) in ts.histograms.iter().enumerate() {
            let err = |detail: String| PromRwError::Series { index, name: Some(labels.name.to_string()), detail };
            if !(-4..=8).contains(&h.schema) {
                return Err(err(format!(
                    "native histogram schema {} is not an exponential schema (remote write 1.0 takes -4 to 8)",
                    h.schema
                )));
            }
            let (positive_offset, positive) =
                dense_buckets(&h.positive_spans, &h.positive_deltas, &h.positive_counts).map_err(err)?;
            let (negative_offset, negative) =
                dense_buckets(&h.negative_spans, &h.negative_deltas, &h.negative_counts).map_err(err)?;
            let count = match h.count {
                Some(proto::histogram::Count::CountInt(c)) => c,
                Some(proto::histogram::Count::CountFloat(c)) => float_count(c),
                None => 0,
            };
            let zero_count = match h.zero_count {
                Some(proto::histogram::ZeroCount::ZeroCountInt(c)) => c,
                Some(proto::histogram::ZeroCount::ZeroCountFloat(c)) => float_count(c),
                None => 0,
            };
            let flags = if h.sum.to_bits() == STALE_NAN_BITS {
                d.stale_markers += 1;
                FLAG_NO_RECORDED_VALUE
            } else {
                0
            };
            let temporality = if h.reset_hint == ResetHint::Gauge as i32 { 0 } else { CUMULATIVE };
            let e = b.exp();
            fill_common(&mut e.common, &labels);
            if j + 1 == ts.histograms.len() {
                d.exemplars += fill_exemplars(&mut e.exemplars, req, exemplars(), limits, &mut stats);
            }
            e.end_row(
                &MetricRow { time_ns: ms_to_ns(h.timestamp), ..row },
                &ExpHistogramRow {
                    count,
                    sum: h.sum,
                    scale: h.schema,
                    zero_count,
                    positive_offset,
                    positive_bucket_counts: &positive,
                    negative_offset,
                    negative_bucket_counts: &negative,
                    flags,
                    min: 0.0,
                    max: 0.0,
                    temporality,
                },
            );
        }
        d.histograms += ts.histograms.len() as u64;
    }

    if let Some(g) = &mut b.gauge {
        d.batches.push(("otel_metrics_gauge", g.finish()));
    }
    if let Some(m) = &mut b.sum {
        d.batches.push(("otel_metrics_sum", m.finish()));
    }
    if let Some(e) = &mut b.exp {
        d.batches.push(("otel_metrics_exponential_histogram", e.finish()));
    }
    d.truncated_attributes = stats.truncated;
    d.dropped_attributes = stats.dropped;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::BucketSpan;

    #[test]
    fn names_and_metadata_decide_gauge_or_sum() {
        assert_eq!(classify("http_requests_total", None), Kind::Sum);
        assert_eq!(classify("rpc_duration_seconds_count", None), Kind::Sum);
        assert_eq!(classify("rpc_duration_seconds_bucket", None), Kind::Sum);
        assert_eq!(classify("go_goroutines", None), Kind::Gauge);
        assert_eq!(classify("k6_http_req_failed_rate", None), Kind::Gauge);
        assert_eq!(classify("k6_http_req_duration_p99", None), Kind::Gauge);
        // Metadata wins over the name.
        assert_eq!(classify("queue_total", Some(MetricType::Gauge)), Kind::Gauge);
        assert_eq!(classify("restarts", Some(MetricType::Counter)), Kind::Sum);
        assert_eq!(classify("go_gc_duration_seconds", Some(MetricType::Summary)), Kind::Gauge);
        assert_eq!(classify("go_gc_duration_seconds_sum", Some(MetricType::Summary)), Kind::Sum);
        assert_eq!(classify("process_start_created", Some(MetricType::Counter)), Kind::Gauge);
    }

    #[test]
    fn native_histogram_spans_expand_into_dense_otel_buckets() {
        // Buckets 0, 1 (span 1), then a gap of 2, then 4 (span 2); counts 2, 3, 1 as deltas.
        let spans = [BucketSpan { offset: 0, length: 2 }, BucketSpan { offset: 2, length: 1 }];
        let (offset, counts) = dense_buckets(&spans, &[2, 1, -2], &[]).unwrap();
        assert_eq!(offset, -1, "prometheus bucket 0 is OTel bucket -1");
        assert_eq!(counts, vec![2, 3, 0, 0, 1]);
        // Float histograms carry absolute counts.
        let (offset, counts) = dense_buckets(&spans[..1], &[], &[4.0, 0.5]).unwrap();
        assert_eq!((offset, counts), (-1, vec![4, 1]));
        assert!(dense_buckets(&spans, &[2, 1], &[]).unwrap_err().contains("3 buckets but 2 deltas"));
        assert!(dense_buckets(&spans, &[2, -5, 0], &[]).unwrap_err().contains("negative count"));
        let huge = [BucketSpan { offset: 0, length: 1 }, BucketSpan { offset: 1 << 20, length: 1 }];
        assert!(dense_buckets(&huge, &[1, 0], &[]).is_err());
    }

    #[test]
    fn reader_and_prost_agree_on_damaged_bodies() {
        // Every fixture body with bytes changed or cut: where prost reads it, the reader reads
        // the same request; where prost refuses it, so does the reader. A small xorshift keeps
        // the damage the same from run to run.
        let limits = Limits::default();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut read, mut refused) = (0, 0);
        for folder in ["prometheus/remote-write", "k6/outputs-small/prw"] {
            let dir = format!("{}/../../fixtures/{folder}", env!("CARGO_MANIFEST_DIR"));
            for n in 1.. {
                let Ok(body) = std::fs::read(format!("{dir}/body-{n:03}.bin")) else { break };
                let raw = decompress(&body, limits.max_decoded_bytes).unwrap();
                for round in 0..300 {
                    let mut bytes = raw.clone();
                    for _ in 0..1 + round % 3 {
                        let at = next() as usize % bytes.len();
                        bytes[at] = match next() % 4 {
                            0 => bytes[at] ^ (1 << (next() % 8)),
                            1 => bytes[at].wrapping_add(1),
                            2 => 0x80 | bytes[at],
                            _ => next() as u8,
                        };
                    }
                    if round % 10 == 9 {
                        bytes.truncate(next() as usize % bytes.len());
                    }
                    let ours = wire::parse(&bytes);
                    match proto::decode_write_request(&bytes) {
                        Ok(prost_req) => {
                            let ours = ours.unwrap_or_else(|e| panic!("{folder} body {n} round {round}: {e}"));
                            wire::tests::assert_same(&ours, &Request::from_prost(&prost_req));
                            read += 1;
                        }
                        Err(e) => {
                            assert!(
                                ours.is_err(),
                                "{folder} body {n} round {round}: prost refuses ({e}), the reader reads"
                            );
                            refused += 1;
                        }
                    }
                }
            }
        }
        assert!(read > 500 && refused > 500, "read {read}, refused {refused}");
    }

    /// Every captured body: the zero-copy reader and prost read the same request, and both
    /// convert to the same batches and counts.
    #[test]
    fn reader_matches_prost_on_every_fixture_body() {
        let limits = Limits::default();
        let mut bodies = 0;
        for folder in ["prometheus/remote-write", "k6/outputs-small/prw"] {
            let dir = format!("{}/../../fixtures/{folder}", env!("CARGO_MANIFEST_DIR"));
            for n in 1.. {
                let Ok(body) = std::fs::read(format!("{dir}/body-{n:03}.bin")) else { break };
                let raw = decompress(&body, limits.max_decoded_bytes).unwrap();
                let ours = wire::parse(&raw).unwrap();
                let prost_req = proto::decode_write_request(&raw).unwrap();
                let theirs = Request::from_prost(&prost_req);
                wire::tests::assert_same(&ours, &theirs);
                assert!(!ours.series.is_empty() && !ours.samples.is_empty(), "{folder} body {n}");
                let a = decode(&body, &limits).unwrap();
                let b = decode_protobuf_prost(&raw, &limits).unwrap();
                assert_eq!(
                    (a.series, a.samples, a.histograms, a.exemplars, a.stale_markers, a.metadata),
                    (b.series, b.samples, b.histograms, b.exemplars, b.stale_markers, b.metadata),
                    "{folder} body {n}"
                );
                assert_eq!(
                    (a.truncated_attributes, a.dropped_attributes),
                    (b.truncated_attributes, b.dropped_attributes)
                );
                assert_eq!(a.batches.len(), b.batches.len());
                for ((ta, ba), (tb, bb)) in a.batches.iter().zip(&b.batches) {
                    assert_eq!(ta, tb);
                    assert_eq!(ba.schema(), bb.schema());
                    for (ca, cb) in ba.columns().iter().zip(bb.columns()) {
                        // Byte-wise, so that staleness NaNs compare equal.
                        assert_eq!(ca.to_data(), cb.to_data(), "{folder} body {n}, {ta}");
                    }
                }
                bodies += 1;
            }
        }
        assert_eq!(bodies, 10);
    }

    #[test]
    fn values_are_cut_at_a_character_boundary() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("abc", 10), "abc");
    }
}
