//! The k6 JSON output (`k6 run --out json=file[.gz]`) importer: a streaming decoder from NDJSON
//! (plain or gzip, detected by magic bytes) to `k6_samples` batches and `k6_metrics` rows.
//!
//! - `Metric` lines declare a metric (type, contains, thresholds, sub-metrics); they become
//!   [`MetricRow`]s in the [`ImportSummary`], and give the type of the metric's later points.
//! - `Point` lines are samples: `data.time` (RFC 3339, stored as microseconds, floored),
//!   `data.value`, `data.tags` (may be null) and `data.metadata` (`vu` and `iter` go to their
//!   columns, other keys such as `trace_id` to the `metadata` map). A point of a metric without
//!   a `Metric` line gets its type from k6's built-in registry, or none.
//! - Run: `run_id_override`, else the `testid` tag, else `import-<sha256 prefix>` (see
//!   [`crate::runs`]).
//!
//! Batches hold at most `max_rows` samples and are handed to the caller as they fill, so a file
//! of millions of samples never sits in memory.

use crate::builtin::{MetricType, builtin_type};
use crate::error::K6Error;
use crate::import::{
    ImportFormat, ImportOptions, ImportSummary, Input, LinesError, MAX_LINE, count_run, emit_err, import_run_id,
    parse_uint, relabel_run,
};
use arrow_array::RecordBatch;
use chute_tables::k6::{MetricRow, SampleRow, SamplesBuilder};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::Read;

/// A string borrowed from the line when it has no escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Str)
    }
}

/// A tag or metadata value: a string, or a number or boolean written as text; null is absent.
struct TagValue<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for TagValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Option<Cow<'de, str>>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Some(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Some(Cow::Owned(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
        }
        d.deserialize_any(V).map(TagValue)
    }
}

/// A JSON object of tags (or metadata), in the order written; null is no tags.
struct Tags<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Tags<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<(Cow<'de, str>, Cow<'de, str>)>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of tags")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some((k, v)) = map.next_entry::<Str<'de>, TagValue<'de>>()? {
                    if let Some(v) = v.0 {
                        out.push((k.0, v));
                    }
                }
                Ok(out)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Vec::new())
            }
        }
        d.deserialize_any(V).map(Tags)
    }
}

#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow)]
    metric: Option<Str<'a>>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

/// The `data` of a Point and of a Metric line in one struct, so a line is parsed in one pass
/// whatever order its keys come in.
#[derive(serde::Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    time: Option<Str<'a>>,
    value: Option<f64>,
    #[serde(borrow)]
    tags: Option<Tags<'a>>,
    #[serde(borrow)]
    metadata: Option<Tags<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(rename = "type", borrow)]
    metric_type: Option<Str<'a>>,
    #[serde(borrow)]
    contains: Option<Str<'a>>,
    #[serde(borrow)]
    thresholds: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    submetrics: Option<Vec<Submetric<'a>>>,
}

#[derive(serde::Deserialize)]
struct Submetric<'a> {
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    suffix: Option<Str<'a>>,
}

struct Decl {
    metric_type: MetricType,
    contains: String,
    thresholds: Vec<String>,
    submetrics: Vec<String>,
}

/// serde_json's message without its "at line 1 column N" (each line is parsed on its own).
fn json_reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let msg = msg.rsplit_once(" at line ").map(|(m, _)| m.to_owned()).unwrap_or(msg);
    // Each line is parsed on its own: its end is the end of the line.
    let msg = msg.replacen("EOF", "end of line", 1);
    format!("{msg} (column {})", e.column())
}

/// A Point line read by the fast path: byte ranges into the line, tags and metadata as ranges
/// in a reused list.
struct FastPoint {
    metric: (usize, usize),
    time: (usize, usize),
    value: f64,
    /// `spans[..tags_end]` are tags, `spans[tags_end..]` metadata.
    tags_end: usize,
}

type Span = ((usize, usize), (usize, usize));

/// The offset of the first `"`, `\\` or control character (< 0x20) in `s`, scanning a word
/// at a time. Each test flags its first matching byte exactly (borrows only run upward), so the
/// lowest flag of the three is the first special byte.
#[inline]
fn find_special(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let q = x ^ (LO * b'"' as u64);
        let b = x ^ (LO * b'\\' as u64);
        let found = ((q.wrapping_sub(LO) & !q) | (b.wrapping_sub(LO) & !b) | (x.wrapping_sub(LO * 0x20) & !x)) & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).map(|p| offset + p)
}

/// A parser for the exact shape k6 writes Point lines in: objects, strings without escapes,
/// one number, null tags. Anything else (escapes, Metric lines, unknown keys, duplicate keys,
/// bad syntax) makes it give up, and the line goes to serde_json, which handles all of JSON
/// and explains errors.
struct Fast<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Fast<'a> {
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r' | b'\n') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    #[inline]
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    #[inline]
    fn string(&mut self) -> Option<(usize, usize)> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.i;
        let end = start + find_special(self.b.get(start..)?)?;
        // An escape or a raw control character: serde_json decides.
        if self.b.get(end) != Some(&b'"') {
            return None;
        }
        self.i = end + 1;
        Some((start, end))
    }

    /// A JSON number (strict grammar), parsed exactly.
    fn number(&mut self) -> Option<f64> {
        self.ws();
        let b = self.b;
        let start = self.i;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d {
                return None;
            }
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            let d = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == d {
                return None;
            }
        }
        self.i = i;
        // The bytes are ASCII digits and signs, so this is valid UTF-8.
        std::str::from_utf8(&b[start..i]).ok()?.parse().ok().filter(|v: &f64| v.is_finite())
    }

    /// An object of string values into `spans`; `null` is no entries.
    fn string_map(&mut self, spans: &mut Vec<Span>) -> Option<()> {
        self.ws();
        if self.b.get(self.i..).is_some_and(|rest| rest.starts_with(b"null")) {
            self.i += 4;
            return Some(());
        }
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let k = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            let v = self.string()?;
            spans.push((k, v));
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn point(b: &'a [u8], spans: &mut Vec<Span>) -> Option<FastPoint> {
        spans.clear();
        let mut p = Fast { b, i: 0 };
        let (mut metric, mut kind, mut time, mut value) = (None, None, None, None);
        let mut tags_end = None;
        let mut meta_seen = false;
        let mut data_seen = false;
        if !p.eat(b'{') {
            return None;
        }
        loop {
            let k = p.string()?;
            if !p.eat(b':') {
                return None;
            }
            match &b[k.0..k.1] {
                b"metric" if metric.is_none() => metric = Some(p.string()?),
                b"type" if kind.is_none() => kind = Some(p.string()?),
                b"data" if !data_seen => {
                    data_seen = true;
                    if !p.eat(b'{') {
                        return None;
                    }
                    if !p.eat(b'}') {
                        loop {
                            let k = p.string()?;
                            if !p.eat(b':') {
                                return None;
                            }
                            match &b[k.0..k.1] {
                                b"time" if time.is_none() => time = Some(p.string()?),
                                b"value" if value.is_none() => value = Some(p.number()?),
                                // Tags come before metadata in the span list.
                                b"tags" if tags_end.is_none() && !meta_seen => {
                                    p.string_map(spans)?;
                                    tags_end = Some(spans.len());
                                }
                                b"metadata" if !meta_seen => {
                                    if tags_end.is_none() {
                                        tags_end = Some(spans.len());
                                    }
                                    meta_seen = true;
                                    p.string_map(spans)?;
                                }
                                _ => return None,
                            }
                            if p.eat(b'}') {
                                break;
                            }
                            if !p.eat(b',') {
                                return None;
                            }
                        }
                    }
                }
                _ => return None,
            }
            if p.eat(b'}') {
                break;
            }
            if !p.eat(b',') {
                return None;
            }
        }
        p.ws();
        let kind = kind?;
        if p.i != b.len() || &b[kind.0..kind.1] != b"Point" {
            return None;
        }
        Some(FastPoint { metric: metric?, time: time?, value: value?, tags_end: tags_end.unwrap_or(spans.len()) })
    }
}

/// The decoding state of one import.
struct Decoder<'o> {
    max_rows: usize,
    source: &'o str,
    override_run: Option<&'o str>,
    /// The run of samples without testid, when known up front.
    known_run: Option<String>,
    builder: SamplesBuilder,
    /// The builder holds rows whose run is not known yet (run id left empty).
    builder_has_pending: bool,
    /// Full batches holding such rows, kept until the content hash is known.
    held: Vec<RecordBatch>,
    decls: HashMap<String, Decl>,
    decl_order: Vec<String>,
    per_run: BTreeMap<String, u64>,
    samples: u64,
    pending_samples: u64,
}

impl Decoder<'_> {
    /// Adds one sample; true when the builder is full.
    fn point<'t>(
        &mut self,
        metric: &str,
        time: &str,
        value: f64,
        tags: impl Iterator<Item = (&'t str, &'t str)>,
        metadata: impl Iterator<Item = (&'t str, &'t str)>,
    ) -> Result<bool, String> {
        let timestamp_us =
            crate::time::parse_rfc3339_us(time).map_err(|why| format!("bad time {time:?} in \"data.time\": {why}"))?;
        let metric_type = match self.decls.get(metric) {
            Some(d) => d.metric_type.as_str(),
            None => builtin_type(metric).map(MetricType::as_str).unwrap_or(""),
        };
        let b = &mut self.builder;
        let mut testid: Option<&str> = None;
        for (k, v) in tags {
            if k == "testid" && !v.is_empty() && testid.is_none() {
                testid = Some(v);
            }
            b.tags.insert(k, v);
        }
        let (mut vu, mut iter) = (None, None);
        for (k, v) in metadata {
            match k {
                "vu" if vu.is_none() => match parse_uint::<u32>(v) {
                    Some(n) => vu = Some(n),
                    None => b.metadata.insert(k, v),
                },
                "iter" if iter.is_none() => match parse_uint::<u64>(v) {
                    Some(n) => iter = Some(n),
                    None => b.metadata.insert(k, v),
                },
                _ => b.metadata.insert(k, v),
            }
        }
        let run_id = self.override_run.or(testid).or(self.known_run.as_deref());
        b.end_row(&SampleRow {
            run_id: run_id.unwrap_or(""),
            timestamp_us,
            metric,
            metric_type,
            value,
            vu,
            iter,
            source: self.source,
        });
        self.samples += 1;
        match run_id {
            Some(run) => count_run(&mut self.per_run, run, 1),
            None => {
                self.pending_samples += 1;
                self.builder_has_pending = true;
            }
        }
        Ok(b.len() >= self.max_rows)
    }

    fn metric(&mut self, line: Line<'_>) -> Result<(), String> {
        let data = line.data.ok_or("missing field \"data\"")?;
        let name = data.name.or(line.metric).map(|n| n.0.into_owned()).ok_or("missing field \"data.name\"")?;
        let ty = data.metric_type.ok_or("missing field \"data.type\"")?;
        let metric_type: MetricType = ty.0.parse().map_err(|_| {
            format!("unknown metric type {:?} in \"data.type\" (expected counter, gauge, rate or trend)", ty.0)
        })?;
        let contains = data.contains.map(|c| c.0.into_owned()).unwrap_or_else(|| "default".into());
        let thresholds = data.thresholds.unwrap_or_default().into_iter().map(|t| t.0.into_owned()).collect();
        let submetrics = data
            .submetrics
            .unwrap_or_default()
            .into_iter()
            .filter_map(|s| match (s.name, s.suffix) {
                (Some(n), _) => Some(n.0.into_owned()),
                (None, Some(suffix)) => Some(format!("{name}{{{}}}", suffix.0)),
                (None, None) => None,
            })
            .collect();
        if !self.decls.contains_key(&name) {
            self.decl_order.push(name.clone());
        }
        self.decls.insert(name, Decl { metric_type, contains, thresholds, submetrics });
        Ok(())
    }

    /// Hands the builder's rows to `emit`, or holds them when some rows' run is not known yet.
    fn flush<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
        &mut self,
        line: u64,
        emit: &mut impl FnMut(RecordBatch) -> Result<(), E>,
    ) -> Result<(), K6Error> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let rows = self.builder.len();
        let batch = self.builder.finish();
        if std::mem::take(&mut self.builder_has_pending) {
            self.held.push(batch);
            Ok(())
        } else {
            emit(batch).map_err(emit_err(line, rows))
        }
    }
}

/// Imports k6 JSON output; see the module doc.
pub struct JsonImport {
    opts: ImportOptions,
}

const FORMAT: &str = "json";

impl JsonImport {
    pub fn new(opts: ImportOptions) -> Self {
        JsonImport { opts }
    }

    /// Decodes `reader` (plain or gzip) and hands `k6_samples` batches of at most `max_rows`
    /// rows to `emit`, in file order (batches holding samples whose run is only known at the end
    /// come last). On error, batches already emitted stay emitted: a caller that needs
    /// all-or-nothing deletes the run afterwards (`chute_store::queries::k6::delete_run`).
    pub fn run<R, E, F>(&self, reader: R, mut emit: F) -> Result<ImportSummary, K6Error>
    where
        R: Read,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
        F: FnMut(RecordBatch) -> Result<(), E>,
    {
        let mut d = Decoder {
            max_rows: self.opts.max_rows.max(1),
            source: self.opts.source.as_deref().unwrap_or(FORMAT),
            override_run: self.opts.run_id_override.as_deref(),
            known_run: self.opts.content_sha256.as_deref().map(import_run_id),
            builder: SamplesBuilder::new(),
            builder_has_pending: false,
            held: Vec::new(),
            decls: HashMap::new(),
            decl_order: Vec::new(),
            per_run: BTreeMap::new(),
            samples: 0,
            pending_samples: 0,
        };
        let mut input =
            Input::open(reader, &self.opts).map_err(|e| K6Error::Read { format: FORMAT, line: 0, source: e })?;
        let mut spans: Vec<Span> = Vec::with_capacity(32);
        let mut seen_content = false;

        let lines = input.for_each_line(|line_no, buf| {
            let bad = |reason: String| K6Error::Json { line: line_no, reason };
            // The fast path: k6's own Point lines.
            if let Some(p) = Fast::point(buf, &mut spans) {
                // Whole-line UTF-8 check; every span starts and ends at an ASCII quote.
                let text = std::str::from_utf8(buf)
                    .map_err(|e| bad(format!("invalid utf-8 at column {}", e.valid_up_to() + 1)))?;
                let s = |r: (usize, usize)| text.get(r.0..r.1).unwrap_or("");
                seen_content = true;
                let (tags, meta) = spans.split_at(p.tags_end.min(spans.len()));
                let full = d
                    .point(
                        s(p.metric),
                        s(p.time),
                        p.value,
                        tags.iter().map(|&(k, v)| (s(k), s(v))),
                        meta.iter().map(|&(k, v)| (s(k), s(v))),
                    )
                    .map_err(bad)?;
                if full {
                    d.flush(line_no, &mut emit)?;
                }
                return Ok(());
            }
            if buf.iter().all(|c| c.is_ascii_whitespace()) {
                return Ok(());
            }
            let first = !seen_content;
            seen_content = true;
            let not_k6 = |what: &str| K6Error::NotK6 { format: FORMAT, reason: format!("line {line_no} {what}") };
            let line: Line<'_> = match serde_json::from_slice(buf) {
                Ok(l) => l,
                Err(e) if first => {
                    return Err(not_k6(if e.is_syntax() || e.is_eof() {
                        "is not a k6 Metric or Point object (it is not JSON)"
                    } else {
                        "is not a k6 Metric or Point object"
                    }));
                }
                Err(e) => return Err(bad(json_reason(&e))),
            };
            match line.kind.as_ref().map(|k| k.0.as_ref()) {
                Some("Point") => {
                    let metric = line.metric.ok_or_else(|| bad("missing field \"metric\"".into()))?;
                    let data = line.data.ok_or_else(|| bad("missing field \"data\"".into()))?;
                    let time = data.time.ok_or_else(|| bad("missing field \"data.time\"".into()))?;
                    let value = data.value.ok_or_else(|| bad("missing field \"data.value\"".into()))?;
                    let tags = data.tags.map(|t| t.0).unwrap_or_default();
                    let meta = data.metadata.map(|t| t.0).unwrap_or_default();
                    let full = d
                        .point(
                            &metric.0,
                            &time.0,
                            value,
                            tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
                            meta.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
                        )
                        .map_err(bad)?;
                    if full {
                        d.flush(line_no, &mut emit)?;
                    }
                    Ok(())
                }
                Some("Metric") => d.metric(line).map_err(bad),
                _ if first => Err(not_k6("is not a k6 Metric or Point object")),
                Some(other) => Err(bad(format!("unknown \"type\" {other:?} (expected \"Metric\" or \"Point\")"))),
                None => Err(bad("missing field \"type\"".into())),
            }
        });
        let lines = match lines {
            Ok(n) => n,
            Err(LinesError::Stop(e)) => return Err(e),
            Err(LinesError::Io(line, source)) => return Err(K6Error::Read { format: FORMAT, line, source }),
            Err(LinesError::TooLong(line)) => {
                let reason = format!("line {line} is longer than {MAX_LINE} bytes");
                return Err(if seen_content {
                    K6Error::Json { line, reason }
                } else {
                    K6Error::NotK6 { format: FORMAT, reason }
                });
            }
        };
        d.flush(lines, &mut emit)?;

        let end = input.finish();
        let bytes = end.bytes;
        let sha256 = end.verified_sha256(&self.opts, FORMAT, lines)?;
        if d.pending_samples > 0 {
            let run = import_run_id(&sha256);
            for batch in std::mem::take(&mut d.held) {
                let rows = batch.num_rows();
                emit(relabel_run(&batch, &run)?).map_err(emit_err(lines, rows))?;
            }
            count_run(&mut d.per_run, &run, d.pending_samples);
        }

        let run_ids: BTreeSet<String> = d.per_run.keys().cloned().collect();
        let now_ms = now_ms();
        let mut metrics = Vec::new();
        for run in &run_ids {
            for name in &d.decl_order {
                if let Some(decl) = d.decls.get(name) {
                    metrics.push(MetricRow {
                        run_id: run.clone(),
                        name: name.clone(),
                        metric_type: decl.metric_type.as_str().to_owned(),
                        contains: decl.contains.clone(),
                        thresholds: decl.thresholds.clone(),
                        submetrics: decl.submetrics.clone(),
                        source: d.source.to_owned(),
                        updated_at_ms: now_ms,
                    });
                }
            }
        }
        Ok(ImportSummary {
            format: ImportFormat::Json,
            samples: d.samples,
            metrics,
            run_ids,
            samples_per_run: d.per_run,
            lines,
            bytes,
            sha256,
        })
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::find_special;

    #[test]
    fn special_bytes_are_found_where_a_byte_loop_finds_them() {
        let plain = |s: &[u8]| s.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let mut cases: Vec<Vec<u8>> = vec![b"".to_vec(), b"abc".to_vec(), "http://x/é\"".as_bytes().to_vec()];
        for len in 0..20 {
            for pos in 0..len {
                for special in [b'"', b'\\', b'\n', 0x1f, 0x00] {
                    let mut v: Vec<u8> = (0..len).map(|i| [b'a', 0x80, 0xc3, 0x20, b'!', 0x7f][i % 6]).collect();
                    v[pos] = special;
                    cases.push(v);
                }
            }
        }
        for c in cases {
            assert_eq!(find_special(&c), plain(&c), "{c:?}");
        }
    }
}
