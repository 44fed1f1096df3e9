//! Every captured remote write body (Prometheus 2.42 scraping itself, k6's
//! experimental-prometheus-rw output) decoded and checked against what the sender sent: the
//! decompressed bytes, one row per sample, the metric names, the first series' labels and
//! values, and the gauge/sum rules on real names.

use arrow_array::RecordBatch;
use chute_promrw::proto::{self, BucketSpan, Exemplar, Histogram, Label, Sample, TimeSeries, WriteRequest};
use chute_promrw::{Limits, PromRwError, decode, decode_protobuf, decompress};
use prost::Message;
use serde_json::Value;
use std::collections::BTreeSet;

fn fixture(path: &str) -> Vec<u8> {
    let p = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
}

/// (request line, body) of every captured request whose body was kept.
fn requests(folder: &str) -> Vec<(Value, Vec<u8>, Vec<u8>)> {
    let text = String::from_utf8(fixture(&format!("{folder}/requests.jsonl"))).unwrap();
    let mut out = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let n = v["n"].as_u64().unwrap();
        let dir = format!("{}/../../fixtures/{folder}", env!("CARGO_MANIFEST_DIR"));
        let Ok(body) = std::fs::read(format!("{dir}/body-{n:03}.bin")) else { continue };
        let decoded = std::fs::read(format!("{dir}/body-{n:03}.decoded.bin")).unwrap();
        out.push((v, body, decoded));
    }
    assert_eq!(out.len(), 5, "{folder}: five captured bodies");
    out
}

fn cell(batch: &RecordBatch, column: &str, row: usize) -> Value {
    chute_store::rows::value_at(batch.column_by_name(column).unwrap(), row)
}

fn str_cell(batch: &RecordBatch, column: &str, row: usize) -> String {
    cell(batch, column, row).as_str().unwrap().to_string()
}

/// Every (table, row) of a decoded request.
fn all_rows(d: &chute_promrw::Decoded) -> Vec<(&'static str, &RecordBatch, usize)> {
    d.batches.iter().flat_map(|(t, b)| (0..b.num_rows()).map(move |i| (*t, b, i))).collect()
}

fn find_row<'a>(
    d: &'a chute_promrw::Decoded,
    name: &str,
    attrs: &serde_json::Map<String, Value>,
) -> (&'static str, &'a RecordBatch, usize) {
    all_rows(d)
        .into_iter()
        .find(|(_, b, i)| {
            str_cell(b, "MetricName", *i) == name && {
                let a = cell(b, "Attributes", *i);
                attrs.iter().all(|(k, v)| ["__name__", "job", "instance"].contains(&k.as_str()) || a.get(k) == Some(v))
                    && a.as_object().unwrap().len()
                        == attrs.keys().filter(|k| !["__name__", "job", "instance"].contains(&k.as_str())).count()
            }
        })
        .unwrap_or_else(|| panic!("no row for {name} {attrs:?}"))
}

fn check_capture(folder: &str) -> Vec<chute_promrw::Decoded> {
    let mut all = Vec::new();
    for (req, body, decoded_bytes) in requests(folder) {
        let n = req["n"].as_u64().unwrap();
        assert_eq!(decompress(&body, 1 << 20).unwrap(), decoded_bytes, "{folder} {n}: snappy");
        let d = decode(&body, &Limits::default()).unwrap();
        let s = &req["summary"];
        assert_eq!(d.series, s["timeseries"].as_u64().unwrap(), "{folder} {n}");
        // Prometheus and k6 send one sample per series per request here: one row each.
        assert_eq!(d.samples, d.series, "{folder} {n}");
        assert_eq!(d.rows() as u64, d.samples, "{folder} {n}: a row per sample");
        assert_eq!(d.stale_markers, 0);
        let names: BTreeSet<String> = all_rows(&d).iter().map(|(_, b, i)| str_cell(b, "MetricName", *i)).collect();
        let expected: BTreeSet<String> =
            s["metric_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(names, expected, "{folder} {n}");
        for series in s["first_series"].as_array().unwrap() {
            let labels = series["labels"].as_object().unwrap();
            let name = labels["__name__"].as_str().unwrap();
            let (_, b, i) = find_row(&d, name, labels);
            let [value, ts] = series["samples"][0].as_array().unwrap().as_slice() else { panic!() };
            assert_eq!(cell(b, "Value", i).as_f64(), value.as_f64(), "{name}");
            let secs = ts.as_i64().unwrap() / 1000;
            let got = cell(b, "TimeUnix", i);
            assert!(got.as_str().unwrap().starts_with(&time_prefix(secs)), "{name}: {got} vs {secs}");
            let job = labels.get("job").and_then(Value::as_str).unwrap_or("");
            assert_eq!(str_cell(b, "ServiceName", i), job);
            assert_eq!(str_cell(b, "ScopeName", i), chute_promrw::SCOPE_NAME);
            if let Some(inst) = labels.get("instance") {
                assert_eq!(&cell(b, "ResourceAttributes", i)["service.instance.id"], inst);
                assert_eq!(cell(b, "ResourceAttributes", i)["service.name"], job);
            }
            assert_eq!(cell(b, "Flags", i), 0);
        }
        all.push(d);
    }
    all
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix second (UTC), as cells print timestamps.
fn time_prefix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn kind_of(d: &chute_promrw::Decoded, name: &str) -> &'static str {
    all_rows(d).into_iter().find(|(_, b, i)| str_cell(b, "MetricName", *i) == name).map(|(t, _, _)| t).unwrap()
}

#[test]
fn prometheus_self_scrape_bodies_decode_to_one_row_per_sample() {
    let all = check_capture("prometheus/remote-write");
    let d = &all[0];
    assert_eq!(kind_of(d, "go_goroutines"), "otel_metrics_gauge");
    assert_eq!(kind_of(d, "prometheus_build_info"), "otel_metrics_gauge");
    assert_eq!(kind_of(d, "process_cpu_seconds_total"), "otel_metrics_sum");
    // A summary's quantiles are gauges; its _sum and _count are sums (quantile kept as attribute).
    assert_eq!(kind_of(d, "go_gc_duration_seconds"), "otel_metrics_gauge");
    assert_eq!(kind_of(d, "go_gc_duration_seconds_count"), "otel_metrics_sum");
    let sum = d.batch("otel_metrics_sum").unwrap();
    for i in 0..sum.num_rows() {
        assert_eq!(cell(sum, "IsMonotonic", i), true);
        assert_eq!(cell(sum, "AggregationTemporality", i), 2, "cumulative");
    }
    // Classic histogram series stay as they are, `le` an attribute.
    let buckets: Vec<_> =
        all_rows(d).into_iter().filter(|(_, b, i)| str_cell(b, "MetricName", *i).ends_with("_bucket")).collect();
    assert!(!buckets.is_empty());
    for (t, b, i) in buckets {
        assert_eq!(t, "otel_metrics_sum");
        assert!(cell(b, "Attributes", i).get("le").is_some());
    }
}

#[test]
fn k6_prometheus_rw_bodies_decode_with_counters_as_sums_and_stats_as_gauges() {
    let all = check_capture("k6/outputs-small/prw");
    let d = &all[1];
    assert_eq!(kind_of(d, "k6_http_reqs_total"), "otel_metrics_sum");
    assert_eq!(kind_of(d, "k6_gw_events_total_total"), "otel_metrics_sum");
    assert_eq!(kind_of(d, "k6_http_req_failed_rate"), "otel_metrics_gauge");
    assert_eq!(kind_of(d, "k6_http_req_duration_p99"), "otel_metrics_gauge");
    assert_eq!(kind_of(d, "k6_gw_queue_depth"), "otel_metrics_gauge");
    // No job label: no service.
    assert!(all_rows(d).iter().all(|(_, b, i)| str_cell(b, "ServiceName", *i).is_empty()));
}

fn label(name: &str, value: &str) -> Label {
    Label { name: name.into(), value: value.into() }
}

fn snappy(req: &WriteRequest) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
}

#[test]
fn native_histograms_exemplars_metadata_and_stale_markers() {
    let stale = f64::from_bits(chute_promrw::STALE_NAN_BITS);
    let req = WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![label("__name__", "latency_seconds"), label("job", "api"), label("route", "/a")],
                histograms: vec![Histogram {
                    count: Some(proto::histogram::Count::CountInt(7)),
                    sum: 1.5,
                    schema: 3,
                    zero_threshold: 1e-128,
                    zero_count: Some(proto::histogram::ZeroCount::ZeroCountInt(1)),
                    positive_spans: vec![BucketSpan { offset: 5, length: 2 }, BucketSpan { offset: 1, length: 1 }],
                    positive_deltas: vec![2, 1, -2],
                    negative_spans: vec![BucketSpan { offset: -2, length: 1 }],
                    negative_deltas: vec![1],
                    timestamp: 1_795_432_751_327,
                    ..Default::default()
                }],
                ..Default::default()
            },
            // Samples, then (as Prometheus sends them) the exemplars in their own entry.
            TimeSeries {
                labels: vec![label("__name__", "requests"), label("job", "api"), label("instance", "h:1")],
                samples: vec![
                    Sample { value: 10.0, timestamp: 1_795_432_751_000 },
                    Sample { value: stale, timestamp: 1_795_432_756_000 },
                ],
                ..Default::default()
            },
            TimeSeries {
                labels: vec![label("__name__", "requests"), label("instance", "h:1"), label("job", "api")],
                exemplars: vec![Exemplar {
                    labels: vec![
                        label("trace_id", "5b8efff798038103d269b633813fc60c"),
                        label("span_id", "eee19b7ec3c1b174"),
                        label("user", "u1"),
                    ],
                    value: 0.25,
                    timestamp: 1_795_432_750_500,
                }],
                ..Default::default()
            },
        ],
        metadata: vec![proto::MetricMetadata {
            r#type: proto::MetricType::Counter as i32,
            metric_family_name: "requests".into(),
            help: "requests served".into(),
            unit: "1".into(),
        }],
    };
    let d = decode(&snappy(&req), &Limits::default()).unwrap();
    assert_eq!((d.series, d.samples, d.histograms, d.exemplars, d.stale_markers, d.metadata), (3, 2, 1, 1, 1, 1));

    let h = d.batch("otel_metrics_exponential_histogram").unwrap();
    assert_eq!(h.num_rows(), 1);
    assert_eq!(str_cell(h, "MetricName", 0), "latency_seconds");
    assert_eq!(str_cell(h, "ServiceName", 0), "api");
    assert_eq!(cell(h, "Attributes", 0), serde_json::json!({"route": "/a"}));
    assert_eq!((cell(h, "Count", 0), cell(h, "Sum", 0), cell(h, "Scale", 0)), (7.into(), 1.5.into(), 3.into()));
    assert_eq!(cell(h, "ZeroCount", 0), 1);
    // Prometheus buckets 5, 6 and 8 are OTel buckets 4, 5 and 7.
    assert_eq!(cell(h, "PositiveOffset", 0), 4);
    assert_eq!(cell(h, "PositiveBucketCounts", 0), serde_json::json!([2, 3, 0, 1]));
    assert_eq!(cell(h, "NegativeOffset", 0), -3);
    assert_eq!(cell(h, "NegativeBucketCounts", 0), serde_json::json!([1]));
    assert_eq!(cell(h, "AggregationTemporality", 0), 2);

    // "requests" is a counter by its metadata although its name has no _total.
    let s = d.batch("otel_metrics_sum").unwrap();
    assert_eq!(s.num_rows(), 2);
    assert!(d.batch("otel_metrics_gauge").is_none());
    assert_eq!(str_cell(s, "MetricDescription", 0), "requests served");
    assert_eq!(str_cell(s, "MetricUnit", 0), "1");
    assert_eq!((cell(s, "Value", 0), cell(s, "Flags", 0)), (10.0.into(), 0.into()));
    assert_eq!(cell(s, "Flags", 1), 1, "the stale marker records no value");
    assert_eq!(cell(s, "Exemplars.Value", 0), serde_json::json!([]));
    assert_eq!(cell(s, "Exemplars.Value", 1), serde_json::json!([0.25]), "exemplars go with the last sample");
    assert_eq!(cell(s, "Exemplars.TraceId", 1), serde_json::json!(["5b8efff798038103d269b633813fc60c"]));
    assert_eq!(cell(s, "Exemplars.SpanId", 1), serde_json::json!(["eee19b7ec3c1b174"]));
    assert_eq!(cell(s, "Exemplars.FilteredAttributes", 1), serde_json::json!([{"user": "u1"}]));
    assert_eq!(
        cell(s, "ResourceAttributes", 0),
        serde_json::json!({"service.name": "api", "service.instance.id": "h:1"})
    );
}

#[test]
fn exemplars_without_a_sample_are_kept_on_a_row_that_records_no_value() {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![label("__name__", "jobs_total")],
            exemplars: vec![
                Exemplar { labels: vec![label("trace_id", "ab")], value: 1.0, timestamp: 1_795_432_750_000 },
                Exemplar { labels: vec![], value: 2.0, timestamp: 1_795_432_752_000 },
            ],
            ..Default::default()
        }],
        metadata: vec![],
    };
    let d = decode_protobuf(&req.encode_to_vec(), &Limits::default()).unwrap();
    let s = d.batch("otel_metrics_sum").unwrap();
    assert_eq!(s.num_rows(), 1);
    assert_eq!(cell(s, "Flags", 0), 1);
    assert_eq!(cell(s, "Exemplars.Value", 0), serde_json::json!([1.0, 2.0]));
    assert!(str_cell(s, "TimeUnix", 0).starts_with(&time_prefix(1_795_432_752)));
}

#[test]
fn limits_drop_and_cut_labels_and_count_them() {
    let long = "x".repeat(100);
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                label("__name__", "g"),
                label("a", &long),
                label("b", "1"),
                label("c", "2"),
                label("instance", &long),
                label("job", &long),
            ],
            samples: vec![Sample { value: 1.0, timestamp: 1_795_432_750_000 }],
            ..Default::default()
        }],
        metadata: vec![],
    };
    let limits = Limits { max_attributes: 2, max_attribute_value_len: 10, ..Limits::default() };
    let d = decode_protobuf(&req.encode_to_vec(), &limits).unwrap();
    assert_eq!((d.dropped_attributes, d.truncated_attributes), (1, 3));
    let g = d.batch("otel_metrics_gauge").unwrap();
    assert_eq!(cell(g, "Attributes", 0), serde_json::json!({"a": "xxxxxxxxxx", "b": "1"}));
    assert_eq!(cell(g, "ServiceName", 0), serde_json::json!("xxxxxxxxxx"));
    assert_eq!(
        cell(g, "ResourceAttributes", 0),
        serde_json::json!({"service.name": "xxxxxxxxxx", "service.instance.id": "xxxxxxxxxx"})
    );
}

#[test]
fn bad_bodies_are_errors_that_say_what_and_where() {
    let limits = Limits::default();
    let good = fixture("k6/outputs-small/prw/body-001.bin");
    // Not snappy.
    let e = decode(b"\xff\xff\xff\xff\xff\xff", &limits).unwrap_err();
    assert!(matches!(e, PromRwError::Snappy(_)), "{e}");
    // Snappy that expands past the limit.
    let e = decode(&good, &Limits { max_decoded_bytes: 100, ..limits }).unwrap_err();
    assert!(matches!(e, PromRwError::TooLarge { size: 2759, limit: 100 }), "{e}");
    // Snappy around bytes that are not a WriteRequest.
    let junk = snap::raw::Encoder::new().compress_vec(&[0x0a, 0xff, 0xff, 0xff, 0x0f, 1]).unwrap();
    let e = decode(&junk, &limits).unwrap_err();
    assert!(e.to_string().starts_with("invalid protobuf WriteRequest"), "{e}");
    // Labels: no name, duplicates.
    let series = |labels: Vec<Label>| WriteRequest {
        timeseries: vec![
            TimeSeries {
                labels: vec![label("__name__", "ok")],
                samples: vec![Sample { value: 1.0, timestamp: 1 }],
                ..Default::default()
            },
            TimeSeries { labels, samples: vec![Sample { value: 1.0, timestamp: 1 }], ..Default::default() },
        ],
        metadata: vec![],
    };
    let e = decode(&snappy(&series(vec![label("job", "x")])), &limits).unwrap_err();
    assert_eq!(e.to_string(), "time series 1: has no metric name (label __name__)");
    let e =
        decode(&snappy(&series(vec![label("__name__", "m"), label("a", "1"), label("a", "2")])), &limits).unwrap_err();
    assert_eq!(e.to_string(), "time series 1 (m): label \"a\" appears twice");
    // Out of order (as the specification does not allow, but some clients send), the same.
    let e =
        decode(&snappy(&series(vec![label("b", "1"), label("__name__", "m"), label("b", "2")])), &limits).unwrap_err();
    assert_eq!(e.to_string(), "time series 1 (m): label \"b\" appears twice");
    for labels in [vec![label("", "x"), label("__name__", "m")], vec![label("__name__", "m"), label("", "x")]] {
        let e = decode(&snappy(&series(labels)), &limits).unwrap_err();
        assert_eq!(e.to_string(), "time series 1 (m): has a label with an empty name");
    }
    // A native histogram whose spans and deltas disagree.
    let mut req = series(vec![label("__name__", "h")]);
    req.timeseries[1].samples.clear();
    req.timeseries[1].histograms.push(Histogram {
        schema: 0,
        positive_spans: vec![BucketSpan { offset: 0, length: 3 }],
        positive_deltas: vec![1],
        ..Default::default()
    });
    let e = decode(&snappy(&req), &limits).unwrap_err();
    assert!(e.to_string().contains("time series 1 (h): native histogram spans hold 3 buckets but 1 deltas"), "{e}");
    req.timeseries[1].histograms[0].schema = 20;
    assert!(decode(&snappy(&req), &limits).unwrap_err().to_string().contains("schema 20"));
}
