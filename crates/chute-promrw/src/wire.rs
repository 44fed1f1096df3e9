//! A zero-copy reader of `prometheus.WriteRequest`: label and metadata strings are borrowed from
//! the decompressed body (checked to be UTF-8, as protobuf `string` requires), samples and
//! exemplars are plain structs, and everything lands in a few flat vectors per request instead of
//! two `String`s per label and a `Vec` per series field. Native histograms (rare) are decoded with
//! the prost [`proto::Histogram`] message on their own bytes.
//!
//! Protobuf rules followed as prost follows them: fields may come in any order and repeat (the
//! last value of a scalar wins, every occurrence of a repeated message is one more element),
//! unknown fields of every wire type are skipped (groups included, matched by field number), a
//! known field with the wrong wire type is an error, and so is anything truncated or malformed.

use crate::proto;
use chute_protowire::{
    FIXED64, LEN, RECURSION_LIMIT, VARINT, double, expect, key, len_delimited, short_field, skip, string, text, utf8,
    varint,
};
use prost::Message;
use std::ops::Range;

/// `prometheus.Label`, borrowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Label<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// `prometheus.Sample`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sample {
    pub value: f64,
    pub timestamp: i64,
}

/// `prometheus.Exemplar`; its labels are `Request::exemplar_labels[labels]`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Exemplar {
    pub labels: Range<usize>,
    pub value: f64,
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`, borrowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Metadata<'a> {
    pub r#type: i32,
    pub metric_family_name: &'a str,
    pub help: &'a str,
    pub unit: &'a str,
}

/// One `prometheus.TimeSeries`: ranges into the request's flat vectors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Series {
    pub labels: Range<usize>,
    pub samples: Range<usize>,
    pub exemplars: Range<usize>,
    pub histograms: Range<usize>,
}

/// A `prometheus.WriteRequest` borrowing from the bytes it was read from.
#[derive(Clone, Debug, Default)]
pub(crate) struct Request<'a> {
    pub series: Vec<Series>,
    pub labels: Vec<Label<'a>>,
    pub samples: Vec<Sample>,
    pub exemplars: Vec<Exemplar>,
    pub exemplar_labels: Vec<Label<'a>>,
    pub histograms: Vec<proto::Histogram>,
    pub metadata: Vec<Metadata<'a>>,
}

/// One time series of a [`Request`], as slices.
#[derive(Clone, Copy)]
pub(crate) struct SeriesRef<'r, 'a> {
    pub labels: &'r [Label<'a>],
    pub samples: &'r [Sample],
    pub exemplars: &'r [Exemplar],
    pub histograms: &'r [proto::Histogram],
}

impl<'a> Request<'a> {
    pub fn series_ref(&self, s: &Series) -> SeriesRef<'_, 'a> {
        SeriesRef {
            labels: &self.labels[s.labels.clone()],
            samples: &self.samples[s.samples.clone()],
            exemplars: &self.exemplars[s.exemplars.clone()],
            histograms: &self.histograms[s.histograms.clone()],
        }
    }

    pub fn exemplar_labels(&self, e: &Exemplar) -> &[Label<'a>] {
        &self.exemplar_labels[e.labels.clone()]
    }

    /// The same request from prost's owned messages (strings borrowed from them, histograms
    /// cloned): the reference the reader is checked against.
    #[cfg(test)]
    pub fn from_prost(req: &'a proto::WriteRequest) -> Request<'a> {
        let mut out = Request::default();
        for ts in &req.timeseries {
            let (l0, s0, e0, h0) = (out.labels.len(), out.samples.len(), out.exemplars.len(), out.histograms.len());
            out.labels.extend(ts.labels.iter().map(|l| Label { name: &l.name, value: &l.value }));
            out.samples.extend(ts.samples.iter().map(|s| Sample { value: s.value, timestamp: s.timestamp }));
            for e in &ts.exemplars {
                let x0 = out.exemplar_labels.len();
                out.exemplar_labels.extend(e.labels.iter().map(|l| Label { name: &l.name, value: &l.value }));
                let labels = x0..out.exemplar_labels.len();
                out.exemplars.push(Exemplar { labels, value: e.value, timestamp: e.timestamp });
            }
            out.histograms.extend(ts.histograms.iter().cloned());
            out.series.push(Series {
                labels: l0..out.labels.len(),
                samples: s0..out.samples.len(),
                exemplars: e0..out.exemplars.len(),
                histograms: h0..out.histograms.len(),
            });
        }
        out.metadata.extend(req.metadata.iter().map(|m| Metadata {
            r#type: m.r#type,
            metric_family_name: &m.metric_family_name,
            help: &m.help,
            unit: &m.unit,
        }));
        out
    }
}

/// Keys of the length-delimited fields read without the general loop: `TimeSeries.labels` and
/// `.samples`, `Label.name` and `.value` (field number << 3 | wire type 2, one byte).
const LABELS_KEY: u8 = 1 << 3 | LEN;
const SAMPLES_KEY: u8 = 2 << 3 | LEN;
const NAME_KEY: u8 = 1 << 3 | LEN;
const VALUE_KEY: u8 = 2 << 3 | LEN;
/// Keys of `Sample.value` (a double) and `Sample.timestamp` (a varint).
const SAMPLE_VALUE_KEY: u8 = 1 << 3 | FIXED64;
const SAMPLE_TIMESTAMP_KEY: u8 = 2 << 3 | VARINT;

// ---------------------------------------------------------------------------------------------
// Messages.

/// Reads a decompressed `WriteRequest`. Errors name the element and field that was wrong.
pub(crate) fn parse(bytes: &[u8]) -> Result<Request<'_>, String> {
    // Room for what a typical body holds (labels of ~30 bytes, series of ~250), so that the
    // vectors rarely grow while reading; at most ~3 MiB, so that a large body of few labels
    // does not reserve more than it uses.
    let mut req = Request {
        series: Vec::with_capacity((bytes.len() / 256).min(1 << 14)),
        labels: Vec::with_capacity((bytes.len() / 32).min(1 << 16)),
        samples: Vec::with_capacity((bytes.len() / 256).min(1 << 14)),
        ..Request::default()
    };
    let mut buf = bytes;
    let depth = RECURSION_LIMIT;
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                let index = req.series.len();
                let ctx = |e: String| format!("WriteRequest.timeseries[{index}]: {e}");
                expect(wire, LEN, "the field").map_err(ctx)?;
                let sub = len_delimited(&mut buf).map_err(ctx)?;
                series(sub, &mut req, depth - 1).map_err(ctx)?;
            }
            3 => {
                let index = req.metadata.len();
                let ctx = |e: String| format!("WriteRequest.metadata[{index}]: {e}");
                expect(wire, LEN, "the field").map_err(ctx)?;
                let sub = len_delimited(&mut buf).map_err(ctx)?;
                req.metadata.push(metadata(sub, depth - 1).map_err(ctx)?);
            }
            _ => skip(&mut buf, field, wire, depth).map_err(|e| format!("WriteRequest field {field}: {e}"))?,
        }
    }
    Ok(req)
}

fn series<'a>(mut buf: &'a [u8], req: &mut Request<'a>, depth: u32) -> Result<(), String> {
    let (l0, s0, e0, h0) = (req.labels.len(), req.samples.len(), req.exemplars.len(), req.histograms.len());
    while !buf.is_empty() {
        // Labels and samples shorter than 128 bytes (nearly all of them).
        if let Some((sub, tail)) = short_field(buf, LABELS_KEY) {
            let l = label(sub, depth - 1).map_err(|e| format!("labels[{}]: {e}", req.labels.len() - l0))?;
            req.labels.push(l);
            buf = tail;
            continue;
        }
        if let Some((sub, tail)) = short_field(buf, SAMPLES_KEY) {
            let s = sample(sub, depth - 1).map_err(|e| format!("samples[{}]: {e}", req.samples.len() - s0))?;
            req.samples.push(s);
            buf = tail;
            continue;
        }
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                let i = req.labels.len() - l0;
                let ctx = |e: String| format!("labels[{i}]: {e}");
                expect(wire, LEN, "the field").map_err(ctx)?;
                let sub = len_delimited(&mut buf).map_err(ctx)?;
                req.labels.push(label(sub, depth - 1).map_err(ctx)?);
            }
            2 => {
                let i = req.samples.len() - s0;
                let ctx = |e: String| format!("samples[{i}]: {e}");
                expect(wire, LEN, "the field").map_err(ctx)?;
                let sub = len_delimited(&mut buf).map_err(ctx)?;
                req.samples.push(sample(sub, depth - 1).map_err(ctx)?);
            }
            3 => {
                let i = req.exemplars.len() - e0;
                let ctx = |e: String| format!("exemplars[{i}]: {e}");
                expect(wire, LEN, "the field").map_err(ctx)?;
                let sub = len_delimited(&mut buf).map_err(ctx)?;
                let e = exemplar(sub, &mut req.exemplar_labels, depth - 1).map_err(ctx)?;
                req.exemplars.push(e);
            }
            4 => {
                let i = req.histograms.len() - h0;
                let ctx = |e: String| format!("histograms[{i}]: {e}");
                expect(wire, LEN, "the field").map_err(ctx)?;
                let sub = len_delimited(&mut buf).map_err(ctx)?;
                let h = proto::Histogram::decode(sub).map_err(|e| {
                    let e = e.to_string();
                    ctx(e.strip_prefix("failed to decode Protobuf message: ").unwrap_or(&e).to_string())
                })?;
                req.histograms.push(h);
            }
            _ => skip(&mut buf, field, wire, depth).map_err(|e| format!("field {field}: {e}"))?,
        }
    }
    req.series.push(Series {
        labels: l0..req.labels.len(),
        samples: s0..req.samples.len(),
        exemplars: e0..req.exemplars.len(),
        histograms: h0..req.histograms.len(),
    });
    Ok(())
}

fn label(mut buf: &[u8], depth: u32) -> Result<Label<'_>, String> {
    // How every client encodes a label: name then value, each shorter than 128 bytes. Read
    // directly; any other layout takes the general loop below, with the same result.
    if let Some((name, rest)) = short_field(buf, NAME_KEY)
        && let Some((value, [])) = short_field(rest, VALUE_KEY)
    {
        // Name, value and the two ASCII bytes between them are checked as one string: an ASCII
        // byte is always a character boundary, so both halves are then valid on their own.
        if let Ok(all) = utf8(&buf[2..]) {
            return Ok(Label { name: &all[..name.len()], value: &all[name.len() + 2..] });
        }
        let name = text(name).map_err(|e| format!("name: {e}"))?;
        return Ok(Label { name, value: text(value).map_err(|e| format!("value: {e}"))? });
    }
    let mut l = Label::default();
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                expect(wire, LEN, "name")?;
                l.name = string(&mut buf).map_err(|e| format!("name: {e}"))?;
            }
            2 => {
                expect(wire, LEN, "value")?;
                l.value = string(&mut buf).map_err(|e| format!("value: {e}"))?;
            }
            _ => skip(&mut buf, field, wire, depth).map_err(|e| format!("field {field}: {e}"))?,
        }
    }
    Ok(l)
}

fn sample(mut buf: &[u8], depth: u32) -> Result<Sample, String> {
    // Value then timestamp, as clients write them.
    if let [SAMPLE_VALUE_KEY, rest @ ..] = buf
        && let Some((value, [SAMPLE_TIMESTAMP_KEY, ts @ ..])) = rest.split_first_chunk::<8>()
        && let mut ts = ts
        && let Ok(timestamp) = varint(&mut ts)
        && ts.is_empty()
    {
        return Ok(Sample { value: f64::from_le_bytes(*value), timestamp: timestamp as i64 });
    }
    let mut s = Sample::default();
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                expect(wire, FIXED64, "value")?;
                s.value = double(&mut buf).map_err(|e| format!("value: {e}"))?;
            }
            2 => {
                expect(wire, VARINT, "timestamp")?;
                s.timestamp = varint(&mut buf).map_err(|e| format!("timestamp: {e}"))? as i64;
            }
            _ => skip(&mut buf, field, wire, depth).map_err(|e| format!("field {field}: {e}"))?,
        }
    }
    Ok(s)
}

fn exemplar<'a>(mut buf: &'a [u8], labels: &mut Vec<Label<'a>>, depth: u32) -> Result<Exemplar, String> {
    let l0 = labels.len();
    let mut e = Exemplar::default();
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                let i = labels.len() - l0;
                let ctx = |e: String| format!("labels[{i}]: {e}");
                expect(wire, LEN, "the field").map_err(ctx)?;
                let sub = len_delimited(&mut buf).map_err(ctx)?;
                labels.push(label(sub, depth - 1).map_err(ctx)?);
            }
            2 => {
                expect(wire, FIXED64, "value")?;
                e.value = double(&mut buf).map_err(|e| format!("value: {e}"))?;
            }
            3 => {
                expect(wire, VARINT, "timestamp")?;
                e.timestamp = varint(&mut buf).map_err(|e| format!("timestamp: {e}"))? as i64;
            }
            _ => skip(&mut buf, field, wire, depth).map_err(|e| format!("field {field}: {e}"))?,
        }
    }
    e.labels = l0..labels.len();
    Ok(e)
}

fn metadata(mut buf: &[u8], depth: u32) -> Result<Metadata<'_>, String> {
    let mut m = Metadata::default();
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                expect(wire, VARINT, "type")?;
                m.r#type = varint(&mut buf).map_err(|e| format!("type: {e}"))? as i32;
            }
            2 => {
                expect(wire, LEN, "metric_family_name")?;
                m.metric_family_name = string(&mut buf).map_err(|e| format!("metric_family_name: {e}"))?;
            }
            4 => {
                expect(wire, LEN, "help")?;
                m.help = string(&mut buf).map_err(|e| format!("help: {e}"))?;
            }
            5 => {
                expect(wire, LEN, "unit")?;
                m.unit = string(&mut buf).map_err(|e| format!("unit: {e}"))?;
            }
            _ => skip(&mut buf, field, wire, depth).map_err(|e| format!("field {field}: {e}"))?,
        }
    }
    Ok(m)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::proto;
    use chute_protowire::{END_GROUP, FIXED32, START_GROUP};

    /// Field-by-field equality of two requests, floats compared by their bits (staleness NaNs).
    pub(crate) fn assert_same(a: &Request<'_>, b: &Request<'_>) {
        assert_eq!(a.series, b.series);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.exemplar_labels, b.exemplar_labels);
        assert_eq!(a.metadata, b.metadata);
        let samples = |r: &Request<'_>| r.samples.iter().map(|s| (s.value.to_bits(), s.timestamp)).collect::<Vec<_>>();
        assert_eq!(samples(a), samples(b));
        let exemplars = |r: &Request<'_>| {
            r.exemplars.iter().map(|e| (e.labels.clone(), e.value.to_bits(), e.timestamp)).collect::<Vec<_>>()
        };
        assert_eq!(exemplars(a), exemplars(b));
        let histograms = |r: &Request<'_>| r.histograms.iter().map(Message::encode_to_vec).collect::<Vec<_>>();
        assert_eq!(histograms(a), histograms(b));
    }

    /// Reads `bytes` with the reader and with prost, and checks both agree.
    fn parse_both(bytes: &[u8]) -> Request<'_> {
        let ours = parse(bytes).unwrap();
        let theirs = proto::WriteRequest::decode(bytes).unwrap();
        assert_same(&ours, &Request::from_prost(&theirs));
        ours
    }

    // A tiny encoder for hand-made messages.
    fn enc_varint(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn k(field: u32, wire: u8) -> Vec<u8> {
        let mut out = Vec::new();
        enc_varint(u64::from(field) << 3 | u64::from(wire), &mut out);
        out
    }
    fn ld(field: u32, body: &[u8]) -> Vec<u8> {
        let mut out = k(field, LEN);
        enc_varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }
    fn vi(field: u32, v: u64) -> Vec<u8> {
        let mut out = k(field, VARINT);
        enc_varint(v, &mut out);
        out
    }
    fn f64f(field: u32, v: f64) -> Vec<u8> {
        let mut out = k(field, FIXED64);
        out.extend_from_slice(&v.to_le_bytes());
        out
    }
    /// One unknown field of every wire type (a group holding fields of its own).
    fn unknowns() -> Vec<u8> {
        let mut out = vi(100, 300);
        out.extend(k(101, FIXED64));
        out.extend_from_slice(&1.5f64.to_le_bytes());
        out.extend(ld(102, b"junk \xff not utf-8 is fine here"));
        out.extend(k(103, START_GROUP));
        out.extend(vi(1, 7));
        out.extend(k(2, START_GROUP));
        out.extend(ld(3, b"x"));
        out.extend(k(2, END_GROUP));
        out.extend(k(103, END_GROUP));
        out.extend(k(104, FIXED32));
        out.extend_from_slice(&[1, 2, 3, 4]);
        out
    }
    fn label(name: &str, value: &str, extra: &[u8]) -> Vec<u8> {
        [ld(1, name.as_bytes()), extra.to_vec(), ld(2, value.as_bytes())].concat()
    }
    fn sample(v: f64, ts: u64, extra: &[u8]) -> Vec<u8> {
        [vi(2, ts), extra.to_vec(), f64f(1, v)].concat()
    }

    /// A request with series, exemplar and metadata; `extra` goes into every message.
    fn request(extra: &[u8]) -> Vec<u8> {
        let exemplar = [ld(1, &label("trace_id", "abc", extra)), extra.to_vec(), f64f(2, 0.5), vi(3, 1_000)].concat();
        let series = [
            ld(1, &label("__name__", "up", extra)),
            extra.to_vec(),
            ld(2, &sample(1.0, 1_000, extra)),
            ld(1, &label("job", "prometheus", extra)),
            ld(2, &sample(f64::from_bits(crate::STALE_NAN_BITS), 2_000, extra)),
            ld(3, &exemplar),
        ]
        .concat();
        let meta = [vi(1, 2), ld(2, b"up"), extra.to_vec(), ld(4, b"help me"), ld(5, b"s")].concat();
        [extra.to_vec(), ld(1, &series), ld(3, &meta), extra.to_vec(), ld(1, &ld(1, &label("__name__", "x", &[])))]
            .concat()
    }

    #[test]
    fn unknown_fields_of_every_wire_type_are_skipped() {
        let plain = request(&[]);
        let with_unknowns = request(&unknowns());
        let a = parse_both(&plain);
        let b = parse_both(&with_unknowns);
        assert_same(&a, &b);
        assert_eq!(a.series.len(), 2);
        assert_eq!(
            a.labels[..2],
            [Label { name: "__name__", value: "up" }, Label { name: "job", value: "prometheus" }]
        );
        assert_eq!(a.samples.len(), 2);
        assert_eq!(a.samples[1].value.to_bits(), crate::STALE_NAN_BITS);
        assert_eq!(a.exemplar_labels, [Label { name: "trace_id", value: "abc" }]);
        assert_eq!(a.metadata, [Metadata { r#type: 2, metric_family_name: "up", help: "help me", unit: "s" }]);
    }

    #[test]
    fn repeated_scalars_keep_the_last_value_as_prost_does() {
        let s = [f64f(1, 1.0), vi(2, 5), f64f(1, 2.0), vi(2, 6)].concat();
        let l = [ld(1, b"a"), ld(2, b"b"), ld(1, b"__name__"), ld(2, b"m")].concat();
        let req = [ld(1, &[ld(2, &s), ld(1, &l)].concat())].concat();
        let r = parse_both(&req);
        assert_eq!((r.samples[0].value, r.samples[0].timestamp), (2.0, 6));
        assert_eq!(r.labels, [Label { name: "__name__", value: "m" }]);
        // A negative int64 is a 10-byte varint.
        let neg = ld(1, &ld(2, &vi(2, -5i64 as u64)));
        let r = parse_both(&neg);
        assert_eq!(r.samples[0].timestamp, -5);
    }

    #[test]
    fn native_histograms_go_through_prost() {
        let h = proto::Histogram {
            count: Some(proto::histogram::Count::CountInt(3)),
            sum: 2.5,
            schema: 1,
            positive_spans: vec![proto::BucketSpan { offset: 0, length: 2 }],
            positive_deltas: vec![1, 1],
            timestamp: 9,
            ..Default::default()
        };
        let req = ld(
            1,
            &[ld(1, &label("__name__", "h", &[])), ld(4, &h.encode_to_vec()), ld(4, &h.encode_to_vec())].concat(),
        );
        let r = parse_both(&req);
        assert_eq!(r.histograms, [h.clone(), h]);
        let err = parse(&ld(1, &ld(4, &[0x08]))).unwrap_err();
        assert!(err.starts_with("WriteRequest.timeseries[0]: histograms[0]: "), "{err}");
    }

    fn err(bytes: &[u8]) -> String {
        assert!(proto::WriteRequest::decode(bytes).is_err(), "prost takes what the reader refuses");
        parse(bytes).unwrap_err()
    }

    #[test]
    fn truncated_varints_are_errors() {
        assert_eq!(err(&[0x80]), "field key: truncated varint");
        assert_eq!(err(&[0x0a, 0x80]), "WriteRequest.timeseries[0]: length: truncated varint");
        let e = err(&ld(1, &ld(2, &[0x10, 0xff, 0xff])));
        assert_eq!(e, "WriteRequest.timeseries[0]: samples[0]: timestamp: truncated varint");
        let e = err(&ld(1, &ld(2, &[0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])));
        assert!(e.contains("samples[0]: timestamp: malformed varint"), "{e}");
        let e = err(&ld(1, &ld(2, &[0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])));
        assert!(e.contains("malformed varint"), "{e}");
    }

    #[test]
    fn lengths_past_the_end_are_errors() {
        let e = err(&[0x0a, 0x05, 0x01]);
        assert_eq!(e, "WriteRequest.timeseries[0]: length 5 runs past the end of the message (1 bytes left)");
        // A label longer than its series, the series itself well-formed.
        let e = err(&ld(1, &[0x0a, 0x03, 0x0a, 0x09, b'a']));
        assert!(e.starts_with("WriteRequest.timeseries[0]: labels[0]: name: length 9 runs past the end"), "{e}");
        let e = err(&ld(1, &ld(2, &[0x09, 1, 2, 3])));
        assert_eq!(e, "WriteRequest.timeseries[0]: samples[0]: value: truncated 64-bit fixed value (3 bytes left)");
        let e = err(&[0x4d, 1, 2]);
        assert!(e.contains("truncated 32-bit fixed value"), "{e}");
    }

    #[test]
    fn the_usual_layout_and_every_other_read_the_same() {
        // Labels as clients write them (name then value), with lengths on both sides of the
        // one-byte varint limit and characters of several bytes.
        let long = "v".repeat(300);
        let mut series = Vec::new();
        for (name, value) in [
            ("__name__", "up"),
            ("a", &long[..127]),
            ("b", &long[..128]),
            ("é", "日本"),
            (&long[..200], "x"),
            ("z", ""),
        ] {
            series.extend(ld(1, &[ld(1, name.as_bytes()), ld(2, value.as_bytes())].concat()));
        }
        // Samples value then timestamp (as clients write them), timestamp first, without a
        // timestamp, with a negative one, and with a field after them.
        for s in [
            [f64f(1, 1.5), vi(2, 1_000)].concat(),
            [vi(2, 2_000), f64f(1, 2.5)].concat(),
            f64f(1, 3.5),
            [f64f(1, 4.5), vi(2, -5i64 as u64)].concat(),
            [f64f(1, 5.5), vi(2, 6_000), vi(9, 1)].concat(),
        ] {
            series.extend(ld(2, &s));
        }
        let bytes = ld(1, &series);
        let r = parse_both(&bytes);
        assert_eq!(r.labels[3], Label { name: "é", value: "日本" });
        assert_eq!(r.labels[4].name.len(), 200);
        let samples: Vec<_> = r.samples.iter().map(|s| (s.value, s.timestamp)).collect();
        assert_eq!(samples, [(1.5, 1_000), (2.5, 2_000), (3.5, 0), (4.5, -5), (5.5, 6_000)]);

        // A value length byte with the continuation bit is a longer varint, never a length that
        // happens to match what is left.
        let mut l = vec![0x0a, 1, b'a', 0x12, 0x85];
        l.extend(vec![b'v'; 0x85]);
        let e = err(&ld(1, &ld(1, &l)));
        assert!(e.starts_with("WriteRequest.timeseries[0]: labels[0]: value: length"), "{e}");
        let e = err(&ld(1, &ld(1, &[ld(1, b"n\xff"), ld(2, b"v")].concat())));
        assert!(e.starts_with("WriteRequest.timeseries[0]: labels[0]: name: not valid UTF-8"), "{e}");
        let e = err(&ld(1, &[ld(2, &f64f(1, 1.0)), ld(2, &[f64f(1, 1.0), vec![0x10, 0xff]].concat())].concat()));
        assert_eq!(e, "WriteRequest.timeseries[0]: samples[1]: timestamp: truncated varint");
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let e = err(&ld(1, &ld(1, &[ld(1, b"__name__"), ld(2, b"a\xffb")].concat())));
        assert!(e.starts_with("WriteRequest.timeseries[0]: labels[0]: value: not valid UTF-8"), "{e}");
        let e = err(&ld(1, &[ld(1, &label("__name__", "ok", &[])), ld(1, &ld(1, b"\xc3"))].concat()));
        assert!(e.starts_with("WriteRequest.timeseries[0]: labels[1]: name: not valid UTF-8"), "{e}");
        let e = err(&[ld(3, &ld(2, b"up")), ld(3, &ld(4, b"\xe2\x82"))].concat());
        assert!(e.starts_with("WriteRequest.metadata[1]: help: not valid UTF-8"), "{e}");
        let ex = ld(1, &ld(2, b"\x80"));
        let e = err(&ld(1, &ld(3, &ex)));
        assert!(e.starts_with("WriteRequest.timeseries[0]: exemplars[0]: labels[0]: value: not valid UTF-8"), "{e}");
    }

    #[test]
    fn malformed_keys_groups_and_wire_types_are_errors() {
        assert_eq!(err(&[0x00]), "invalid field number 0");
        assert_eq!(err(&[0x0e]), "invalid wire type 6 (field 1)");
        assert_eq!(err(&[0x0f]), "invalid wire type 7 (field 1)");
        assert!(err(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).starts_with("invalid field key"));
        assert_eq!(err(&k(9, END_GROUP)), "WriteRequest field 9: unexpected end-group key (field 9)");
        assert_eq!(err(&k(9, START_GROUP)), "WriteRequest field 9: group 9 is not closed");
        let e = err(&[k(9, START_GROUP), k(8, END_GROUP)].concat());
        assert_eq!(e, "WriteRequest field 9: group 9 closed by an end-group key of field 8");
        // A known field with the wrong wire type.
        assert_eq!(err(&vi(1, 3)), "WriteRequest.timeseries[0]: the field has wire type 0, expected 2");
        let e = err(&ld(1, &ld(2, &vi(1, 3))));
        assert_eq!(e, "WriteRequest.timeseries[0]: samples[0]: value has wire type 0, expected 1");
        let e = err(&ld(1, &ld(1, &vi(1, 3))));
        assert_eq!(e, "WriteRequest.timeseries[0]: labels[0]: name has wire type 0, expected 2");
        // Groups nested past the recursion limit, as prost refuses them.
        let deep = [vec![0x4b; 101], vec![0x4c; 101]].concat();
        assert!(err(&deep).contains("nested too deep"));
        let ok = [vec![0x4b; 100], vec![0x4c; 100]].concat();
        parse_both(&ok);
    }
}
