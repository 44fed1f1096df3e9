//! InfluxDB line protocol writes to `k6_samples` (k6's `--out influxdb`) and `influx_points`
//! (everything else).
//!
//! In a write the caller judged to come from k6 (`User-Agent: k6...`, or a database configured
//! as k6's), every point with a numeric `value` field is a k6 sample: the measurement is the
//! metric, the tags are the sample's tags, and the other fields are what
//! `K6_INFLUXDB_TAGS_AS_FIELDS` moved out of the tags: `vu` and `iter` go to their columns
//! (k6 sends them as strings or integers), any other field (e.g. `url`) goes back into the
//! tags. Points without a numeric `value`, and every point of other writes, go to
//! `influx_points` unchanged.
//!
//! The run of a sample is its `testid` tag, else the run the [`RunAssigner`] gives the source
//! key `influxdb:<database>` (decided once per write, over the samples without testid). A
//! write is all-or-nothing: on a parse error nothing is decoded.

use crate::builtin::{MetricType, builtin_type};
use crate::error::K6Error;
use crate::import::parse_uint;
use crate::runs::RunAssigner;
use arrow_array::RecordBatch;
pub use chute_influx::Precision;
use chute_influx::{FieldValue, Point};
use chute_tables::influx::PointsBuilder;
use chute_tables::k6::{SampleRow, SamplesBuilder};
use std::borrow::Cow;

/// What the caller knows about a write.
#[derive(Clone, Debug)]
pub struct InfluxWriteContext {
    /// The `db` parameter of the write.
    pub database: String,
    /// The write comes from k6 (the caller decided: User-Agent starts with "k6", or the
    /// database is listed as k6's in the configuration).
    pub k6: bool,
    /// When the write arrived (nanoseconds since the epoch): the time of lines without one.
    pub received_at_ns: i64,
}

/// The decoded write.
#[derive(Debug, Default)]
pub struct InfluxDecoded {
    /// `k6_samples` rows; None when the write held no k6 sample.
    pub samples: Option<RecordBatch>,
    /// `influx_points` rows; None when every point was a k6 sample.
    pub points: Option<RecordBatch>,
    pub sample_count: usize,
    pub point_count: usize,
}

/// The source key (and `source` column) of InfluxDB writes to `database`.
pub fn source_key(database: &str) -> String {
    format!("influxdb:{database}")
}

fn numeric(v: &FieldValue<'_>) -> Option<f64> {
    match v {
        FieldValue::Float(f) => Some(*f),
        FieldValue::Integer(i) => Some(*i as f64),
        FieldValue::UInteger(u) => Some(*u as f64),
        FieldValue::String(_) | FieldValue::Boolean(_) => None,
    }
}

/// The numeric `value` field of a point, if it has one.
fn sample_value(p: &Point<'_>) -> Option<f64> {
    p.field("value").and_then(numeric)
}

/// A field value as tag text.
fn field_text<'a>(v: &'a FieldValue<'a>) -> Cow<'a, str> {
    match v {
        FieldValue::String(s) => Cow::Borrowed(s.as_ref()),
        FieldValue::Float(f) => Cow::Owned(f.to_string()),
        FieldValue::Integer(i) => Cow::Owned(i.to_string()),
        FieldValue::UInteger(u) => Cow::Owned(u.to_string()),
        FieldValue::Boolean(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
    }
}

/// `vu` / `iter` as an integer, from a string or a whole number.
fn field_uint<T: TryFrom<u64> + std::str::FromStr>(v: &FieldValue<'_>) -> Option<T> {
    match v {
        FieldValue::String(s) => parse_uint(s),
        FieldValue::Integer(i) => u64::try_from(*i).ok().and_then(|u| T::try_from(u).ok()),
        FieldValue::UInteger(u) => T::try_from(*u).ok(),
        FieldValue::Float(f) if f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64 => T::try_from(*f as u64).ok(),
        _ => None,
    }
}

/// The sample's testid: a tag, or a field when k6 was told to send it as one.
fn testid<'a>(p: &'a Point<'a>) -> Option<&'a str> {
    p.tag("testid").filter(|t| !t.is_empty()).or_else(|| match p.field("testid") {
        Some(FieldValue::String(s)) if !s.is_empty() => Some(s.as_ref()),
        _ => None,
    })
}

/// Decodes one write body; see the module doc.
pub fn decode_influx_write(
    body: &[u8],
    precision: Precision,
    ctx: &InfluxWriteContext,
    runs: &RunAssigner,
) -> Result<InfluxDecoded, K6Error> {
    let points = chute_influx::parse(body, precision)?;
    let source = source_key(&ctx.database);
    let time_ns = |p: &Point<'_>| p.timestamp_ns.unwrap_or(ctx.received_at_ns);

    // The run of samples without testid: one decision per write.
    let mut span: Option<(i64, i64)> = None;
    for p in points.iter().filter(|p| ctx.k6 && sample_value(p).is_some() && testid(p).is_none()) {
        let us = time_ns(p).div_euclid(1000);
        span = Some(match span {
            None => (us, us),
            Some((lo, hi)) => (lo.min(us), hi.max(us)),
        });
    }
    let inferred_run = span.map(|(first, last)| runs.assign(&source, first, last));

    let mut samples = SamplesBuilder::new();
    let mut other = PointsBuilder::new();
    for p in &points {
        let value = if ctx.k6 { sample_value(p) } else { None };
        let Some(value) = value else {
            for (k, v) in &p.tags {
                other.tags.insert(k, v);
            }
            for (k, v) in &p.fields {
                match v {
                    FieldValue::String(s) => other.string_fields.insert(k, s),
                    FieldValue::Boolean(b) => other.field(k, if *b { 1.0 } else { 0.0 }),
                    n => other.field(k, numeric(n).unwrap_or(f64::NAN)),
                }
            }
            other.end_row(&ctx.database, &p.measurement, time_ns(p));
            continue;
        };
        for (k, v) in &p.tags {
            samples.tags.insert(k, v);
        }
        let (mut vu, mut iter) = (None, None);
        let mut value_seen = false;
        for (k, v) in &p.fields {
            match k.as_ref() {
                "value" if !value_seen => value_seen = true,
                "vu" if vu.is_none() && field_uint::<u32>(v).is_some() => vu = field_uint::<u32>(v),
                "iter" if iter.is_none() && field_uint::<u64>(v).is_some() => iter = field_uint::<u64>(v),
                _ => samples.tags.insert(k, &field_text(v)),
            }
        }
        let metric: &str = &p.measurement;
        let run_id = testid(p).or(inferred_run.as_deref()).unwrap_or_default();
        samples.end_row(&SampleRow {
            run_id,
            timestamp_us: time_ns(p).div_euclid(1000),
            metric,
            metric_type: builtin_type(metric).map(MetricType::as_str).unwrap_or(""),
            value,
            vu,
            iter,
            source: &source,
        });
    }
    let sample_count = samples.len();
    let point_count = other.len();
    Ok(InfluxDecoded {
        samples: (sample_count > 0).then(|| samples.finish()),
        points: (point_count > 0).then(|| other.finish()),
        sample_count,
        point_count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::{DEFAULT_GAP, NoLookup};
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, TimestampMicrosecondType, UInt32Type, UInt64Type};
    use std::sync::Arc;

    fn ctx(k6: bool) -> InfluxWriteContext {
        InfluxWriteContext { database: "k6".into(), k6, received_at_ns: 1_795_433_100_000_000_000 }
    }

    fn runs() -> RunAssigner {
        RunAssigner::new(DEFAULT_GAP, Arc::new(NoLookup))
    }

    fn dict_col(b: &RecordBatch, name: &str) -> Vec<String> {
        let d = b.column_by_name(name).unwrap().as_dictionary::<Int32Type>();
        let values = d.values().as_string::<i32>();
        d.keys().iter().map(|k| values.value(k.unwrap() as usize).to_owned()).collect()
    }

    fn tags_of(b: &RecordBatch, row: usize) -> Vec<(String, String)> {
        let m = b.column_by_name("tags").unwrap().as_map().value(row);
        let (k, v) = (m.column(0).as_string::<i32>(), m.column(1).as_string::<i32>());
        (0..m.len()).map(|i| (k.value(i).to_owned(), v.value(i).to_owned())).collect()
    }

    #[test]
    fn k6_points_become_samples_with_testid_run_tags_vu_and_iter() {
        let body = b"http_req_duration,status=200,testid=t-1 url=\"http://x/\",vu=\"3\",iter=\"17\",value=5.25 1795433093125392368\n\
            vus value=3i 1795433093999999999\n";
        let d = decode_influx_write(body, Precision::Nanoseconds, &ctx(true), &runs()).unwrap();
        assert_eq!((d.sample_count, d.point_count), (2, 0));
        let b = d.samples.unwrap();
        assert_eq!(dict_col(&b, "run_id"), vec!["t-1".to_owned(), "influxdb-k6-20261123T112453Z".to_owned()]);
        assert_eq!(dict_col(&b, "metric_type"), vec!["trend".to_owned(), "gauge".to_owned()]);
        assert_eq!(dict_col(&b, "source"), vec!["influxdb:k6".to_owned(), "influxdb:k6".to_owned()]);
        let ts = b.column(1).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_795_433_093_125_392);
        assert_eq!(b.column(6).as_primitive::<UInt32Type>().value(0), 3);
        assert_eq!(b.column(7).as_primitive::<UInt64Type>().value(0), 17);
        assert!(b.column(6).is_null(1));
        let tags = tags_of(&b, 0);
        assert!(tags.contains(&("url".into(), "http://x/".into())), "{tags:?}");
        assert!(!tags.iter().any(|(k, _)| k == "vu" || k == "iter" || k == "value"), "{tags:?}");
    }

    #[test]
    fn points_without_numeric_value_and_non_k6_writes_go_to_influx_points() {
        let body = b"cpu,host=a usage=0.5,up=true,name=\"x\" 1000\nhttp_reqs value=1 2000\n";
        let d = decode_influx_write(body, Precision::Nanoseconds, &ctx(false), &runs()).ok();
        assert_eq!(d.as_ref().map(|d| (d.sample_count, d.point_count)), Some((0, 2)));
        let d = decode_influx_write(body, Precision::Nanoseconds, &ctx(true), &runs()).ok();
        assert_eq!(d.as_ref().map(|d| (d.sample_count, d.point_count)), Some((1, 1)));
    }

    #[test]
    fn a_malformed_body_decodes_nothing_and_names_the_line() {
        let body = b"http_reqs,testid=t value=1 1000\nhttp_reqs,testid=t value= 2000\n";
        let err = decode_influx_write(body, Precision::Nanoseconds, &ctx(true), &runs()).err();
        let Some(K6Error::LineProtocol(p)) = err else { panic!("{err:?}") };
        assert_eq!(p.line, 2);
        let msg = K6Error::LineProtocol(p).to_string();
        assert!(msg.starts_with("invalid line protocol: line 2, column "), "{msg}");
    }

    #[test]
    fn times_are_floored_to_microseconds_and_missing_times_are_the_arrival_time() {
        let body = b"http_reqs,testid=t value=1 -1\nhttp_reqs,testid=t value=1\n";
        let d = decode_influx_write(body, Precision::Nanoseconds, &ctx(true), &runs()).ok();
        let b = d.and_then(|d| d.samples);
        let ts: Vec<i64> =
            b.iter().flat_map(|b| b.column(1).as_primitive::<TimestampMicrosecondType>().values().to_vec()).collect();
        assert_eq!(ts, vec![-1, 1_795_433_100_000_000]);
    }
}
