//! The k6 CSV output (`k6 run --out csv=file[.gz]`) importer: a streaming decoder to
//! `k6_samples` batches, with the same API, batching and run rules as [`crate::json`].
//!
//! The header is `metric_name,timestamp,metric_value,<tag columns...>,extra_tags,metadata`;
//! the tag columns are taken from the header. An empty tag cell is an absent tag. `extra_tags`
//! and `metadata` are `k=v&k=v` (k6 does not escape them; each pair splits at its first `=`);
//! `vu` and `iter` in `metadata` go to their columns. CSV carries no metric types: they come
//! from k6's built-in registry, or stay unknown (give them with the summary request).
//!
//! Timestamps are detected per value: an integer is Unix time in seconds (k6's default), or in
//! milliseconds, microseconds or nanoseconds when its magnitude says so (≥ 1e11, 1e14, 1e17);
//! a decimal is fractional seconds; anything else must be RFC 3339
//! (`K6_CSV_TIME_FORMAT=rfc3339`).

use crate::builtin::{MetricType, builtin_type};
use crate::error::K6Error;
use crate::import::{
    ImportFormat, ImportOptions, ImportSummary, Input, MAX_LINE, count_run, emit_err, import_run_id, parse_uint,
    relabel_run,
};
use arrow_array::RecordBatch;
use chute_tables::k6::{SampleRow, SamplesBuilder};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};

const FORMAT: &str = "csv";

/// Imports k6 CSV output; see the module doc.
pub struct CsvImport {
    opts: ImportOptions,
}

/// Where each kind of column is.
struct Layout {
    width: usize,
    /// (index, tag name) of every tag column.
    tags: Vec<(usize, String)>,
    extra_tags: Option<usize>,
    metadata: Option<usize>,
}

fn layout(header: &csv::ByteRecord, line: &[u8]) -> Result<Layout, String> {
    let name = |i: usize| header.get(i).and_then(|f| std::str::from_utf8(f).ok()).unwrap_or("");
    if [name(0), name(1), name(2)] != ["metric_name", "timestamp", "metric_value"] {
        let Ok(text) = std::str::from_utf8(line) else {
            return Err("line 1 is not a k6 CSV header (it is not text)".into());
        };
        let excerpt: String = text.trim_end().chars().take(60).collect();
        return Err(format!(
            "line 1 is not a k6 CSV header (expected metric_name,timestamp,metric_value,..., found {excerpt:?})"
        ));
    }
    let mut l = Layout { width: header.len(), tags: Vec::new(), extra_tags: None, metadata: None };
    for i in 3..header.len() {
        match name(i) {
            "extra_tags" => l.extra_tags = Some(i),
            "metadata" => l.metadata = Some(i),
            "" => return Err(format!("column {} of the header has no name", i + 1)),
            tag => l.tags.push((i, tag.to_owned())),
        }
    }
    Ok(l)
}

/// Parses a CSV timestamp (see the module doc) to microseconds since the epoch.
fn parse_time_us(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let bad = || format!("bad timestamp {s:?} (expected Unix seconds or an RFC 3339 time)");
    let digits = t.strip_prefix('-').unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
        let v: i64 = t.parse().map_err(|_| bad())?;
        let a = v.unsigned_abs();
        return Ok(if a >= 100_000_000_000_000_000 {
            v.div_euclid(1000)
        } else if a >= 100_000_000_000_000 {
            v
        } else if a >= 100_000_000_000 {
            v.saturating_mul(1000)
        } else {
            v.saturating_mul(1_000_000)
        });
    }
    if digits.bytes().all(|c| c.is_ascii_digit() || c == b'.') && digits.bytes().filter(|&c| c == b'.').count() == 1 {
        let (whole, frac) = t.split_once('.').ok_or_else(bad)?;
        let neg = whole.starts_with('-');
        let whole: i64 = if whole == "-" || whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
        let mut micros = 0i64;
        for c in frac.bytes().chain(std::iter::repeat(b'0')).take(6) {
            micros = micros * 10 + (c - b'0') as i64;
        }
        let rest_nonzero = frac.bytes().skip(6).any(|c| c != b'0');
        let secs_us = whole.saturating_mul(1_000_000);
        return Ok(if neg { secs_us - micros - i64::from(rest_nonzero) } else { secs_us + micros });
    }
    crate::time::parse_rfc3339_us(t).map_err(|why| format!("{}: {why}", bad()))
}

/// Splits `k=v&k=v` pairs (each at its first `=`; a pair without `=` is a key with an empty value).
fn pairs(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, "")))
}

impl CsvImport {
    pub fn new(opts: ImportOptions) -> Self {
        CsvImport { opts }
    }

    /// Decodes `reader` (plain or gzip) and hands `k6_samples` batches of at most `max_rows`
    /// rows to `emit`, as [`crate::json::JsonImport::run`] does.
    pub fn run<R, E, F>(&self, reader: R, mut emit: F) -> Result<ImportSummary, K6Error>
    where
        R: Read,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
        F: FnMut(RecordBatch) -> Result<(), E>,
    {
        let max_rows = self.opts.max_rows.max(1);
        let source = self.opts.source.as_deref().unwrap_or(FORMAT);
        let override_run = self.opts.run_id_override.as_deref();
        let known_run = self.opts.content_sha256.as_deref().map(import_run_id);
        let read_err = |line: u64| move |source: std::io::Error| K6Error::Read { format: FORMAT, line, source };

        let mut input = Input::open(reader, &self.opts).map_err(read_err(0))?;
        // The header, read with a length limit so binary data is not read whole.
        let mut head = Vec::new();
        let n = (&mut input.reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut head).map_err(read_err(0))?;
        if n == 0 {
            return Err(K6Error::NotK6 { format: FORMAT, reason: "the input is empty".into() });
        }
        if head.len() > MAX_LINE {
            return Err(K6Error::NotK6 { format: FORMAT, reason: format!("line 1 is longer than {MAX_LINE} bytes") });
        }
        let mut header = csv::ByteRecord::new();
        let mut hr = csv::ReaderBuilder::new().has_headers(false).from_reader(&head[..]);
        let header_ok = hr.read_byte_record(&mut header).unwrap_or(false);
        if !header_ok {
            return Err(K6Error::NotK6 { format: FORMAT, reason: "line 1 is not a CSV header".into() });
        }
        let layout = layout(&header, &head).map_err(|reason| K6Error::NotK6 { format: FORMAT, reason })?;

        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&mut input.reader);
        let mut rec = csv::ByteRecord::new();
        let mut b = SamplesBuilder::new();
        let mut has_pending = false;
        let mut held: Vec<RecordBatch> = Vec::new();
        let mut per_run: BTreeMap<String, u64> = BTreeMap::new();
        let (mut samples, mut pending) = (0u64, 0u64);
        let mut line = 1u64;
        loop {
            match rdr.read_byte_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let at = e.position().map(|p| p.line() + 1).unwrap_or(line + 1);
                    let reason = e.to_string().to_lowercase();
                    return Err(match e.into_kind() {
                        csv::ErrorKind::Io(io) => K6Error::Read { format: FORMAT, line, source: io },
                        _ => K6Error::Csv { line: at, reason },
                    });
                }
            }
            line = rec.position().map(|p| p.line() + 1).unwrap_or(line + 1);
            if rec.len() == 1 && rec.get(0).is_some_and(|f| f.is_empty()) {
                continue;
            }
            let bad = |reason: String| K6Error::Csv { line, reason };
            if rec.len() != layout.width {
                return Err(bad(format!("expected {} fields as in the header, found {}", layout.width, rec.len())));
            }
            let field = |i: usize| -> Result<&str, K6Error> {
                let raw = rec.get(i).unwrap_or_default();
                std::str::from_utf8(raw)
                    .map_err(|_| bad(format!("field {:?} is not valid utf-8", header_name(&header, i))))
            };
            let metric = field(0)?;
            if metric.is_empty() {
                return Err(bad("empty metric_name".into()));
            }
            let ts = field(1)?;
            let timestamp_us = parse_time_us(ts).map_err(&bad)?;
            let value_text = field(2)?;
            let value: f64 = value_text
                .trim()
                .parse()
                .map_err(|_| bad(format!("bad metric_value {value_text:?} (expected a number)")))?;
            let mut testid: Option<&str> = None;
            for (i, name) in &layout.tags {
                let v = field(*i)?;
                if !v.is_empty() {
                    if name == "testid" {
                        testid = Some(v);
                    }
                    b.tags.insert(name, v);
                }
            }
            if let Some(i) = layout.extra_tags {
                for (k, v) in pairs(field(i)?) {
                    if k == "testid" && !v.is_empty() && testid.is_none() {
                        testid = Some(v);
                    }
                    b.tags.insert(k, v);
                }
            }
            let (mut vu, mut iter) = (None, None);
            if let Some(i) = layout.metadata {
                for (k, v) in pairs(field(i)?) {
                    match k {
                        "vu" if vu.is_none() && parse_uint::<u32>(v).is_some() => vu = parse_uint(v),
                        "iter" if iter.is_none() && parse_uint::<u64>(v).is_some() => iter = parse_uint(v),
                        _ => b.metadata.insert(k, v),
                    }
                }
            }
            let run_id = override_run.or(testid).or(known_run.as_deref());
            b.end_row(&SampleRow {
                run_id: run_id.unwrap_or(""),
                timestamp_us,
                metric,
                metric_type: builtin_type(metric).map(MetricType::as_str).unwrap_or(""),
                value,
                vu,
                iter,
                source,
            });
            samples += 1;
            match run_id {
                Some(r) => count_run(&mut per_run, r, 1),
                None => {
                    pending += 1;
                    has_pending = true;
                }
            }
            if b.len() >= max_rows {
                let rows = b.len();
                let batch = b.finish();
                if std::mem::take(&mut has_pending) {
                    held.push(batch);
                } else {
                    emit(batch).map_err(emit_err(line, rows))?;
                }
            }
        }
        if !b.is_empty() {
            let rows = b.len();
            let batch = b.finish();
            if has_pending {
                held.push(batch);
            } else {
                emit(batch).map_err(emit_err(line, rows))?;
            }
        }
        drop(rdr);
        let end = input.finish();
        let bytes = end.bytes;
        let sha256 = end.verified_sha256(&self.opts, FORMAT, line)?;
        if pending > 0 {
            let run = import_run_id(&sha256);
            for batch in held {
                let rows = batch.num_rows();
                emit(relabel_run(&batch, &run)?).map_err(emit_err(line, rows))?;
            }
            count_run(&mut per_run, &run, pending);
        }
        Ok(ImportSummary {
            format: ImportFormat::Csv,
            samples,
            metrics: Vec::new(),
            run_ids: per_run.keys().cloned().collect::<BTreeSet<_>>(),
            samples_per_run: per_run,
            lines: line,
            bytes,
            sha256,
        })
    }
}

fn header_name(header: &csv::ByteRecord, i: usize) -> String {
    header.get(i).map(|f| String::from_utf8_lossy(f).into_owned()).unwrap_or_else(|| format!("column {}", i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_detected_per_value() {
        assert_eq!(parse_time_us("1795433093"), Ok(1_795_433_093_000_000));
        assert_eq!(parse_time_us("1795433093125"), Ok(1_795_433_093_125_000));
        assert_eq!(parse_time_us("1795433093125392"), Ok(1_795_433_093_125_392));
        assert_eq!(parse_time_us("1795433093125392368"), Ok(1_795_433_093_125_392));
        assert_eq!(parse_time_us("1795433093.125392368"), Ok(1_795_433_093_125_392));
        assert_eq!(parse_time_us("1795433093.5"), Ok(1_795_433_093_500_000));
        assert_eq!(parse_time_us("2026-11-23T11:24:53.125392368Z"), Ok(1_795_433_093_125_392));
        assert!(parse_time_us("yesterday").is_err());
        assert!(parse_time_us("1.2.3").is_err());
        assert!(parse_time_us("").is_err());
    }

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        let v: Vec<_> = pairs("testid=a&url=http://x/?q=1&flag").collect();
        assert_eq!(v, vec![("testid", "a"), ("url", "http://x/?q=1"), ("flag", "")]);
        assert_eq!(pairs("").count(), 0);
    }
}
