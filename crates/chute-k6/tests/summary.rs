//! `run_summary` and `render_text` on the real engine: thresholds beyond the fixture's,
//! errors users see, and the text and JSON shapes.
//! Each test runs in its own process (cargo-nextest): one engine per process.

mod common;

use chute_k6::K6Error;
use chute_k6::summary::{SummaryRequest, render_text, run_summary};
use common::*;
use std::collections::BTreeMap;

fn request(thresholds: &[(&str, &[&str])]) -> SummaryRequest {
    SummaryRequest {
        thresholds: thresholds
            .iter()
            .map(|(m, list)| (m.to_string(), list.iter().map(|s| s.to_string()).collect()))
            .collect(),
        metric_types: BTreeMap::new(),
    }
}

/// k6's percentile of the fixture's samples of `metric` with tag `tag` (if given).
fn k6_percentile(metric: &str, tag: Option<(&str, &str)>, p: f64) -> f64 {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&read("basic.k6.json.gz")[..]), &mut text).unwrap();
    let mut values: Vec<f64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "Point" && v["metric"] == metric)
        .filter(|v| tag.is_none_or(|(k, val)| v["data"]["tags"][k] == val))
        .map(|v| v["data"]["value"].as_f64().unwrap())
        .collect();
    values.sort_by(f64::total_cmp);
    let i = p * (values.len() as f64 - 1.0);
    let (lo, hi) = (values[i.floor() as usize], values[i.ceil() as usize]);
    lo + (hi - lo) * (i - i.floor())
}

#[test]
fn any_percentile_threshold_is_evaluated_exactly_on_metrics_and_submetrics() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    import_json(&store, 4096);
    let req = request(&[
        ("http_req_duration", &["p(99.9)<5", "p(99)<400", "p(0)>0", "p(100)<=9.891632", "med<1"]),
        ("http_req_duration{scenario:buy}", &["p(97.5) < 3", "avg>=1.5"]),
        ("http_reqs", &["count==291", "rate>30"]),
        ("vus", &["value===3", "value!=3"]),
    ]);
    let s = run_summary(&store, RUN, &req).unwrap();
    let get = |m: &str, e: &str| s.thresholds.iter().find(|t| t.metric == m && t.expression == e).unwrap();

    let p999 = get("http_req_duration", "p(99.9)<5");
    let expected = k6_percentile("http_req_duration", None, 0.999);
    assert!((p999.actual.unwrap() - expected).abs() <= 1e-9 * expected, "{p999:?} vs {expected}");
    assert!(!p999.ok, "p(99.9) is {expected}ms: over 5 fails");
    assert!(get("http_req_duration", "p(99)<400").ok);
    assert_eq!(get("http_req_duration", "p(0)>0").actual, Some(0.283636));
    assert!(get("http_req_duration", "p(100)<=9.891632").ok, "p(100) is the max");
    assert!(!get("http_req_duration", "med<1").ok, "med is 1.25ms");

    let p975 = get("http_req_duration{scenario:buy}", "p(97.5) < 3");
    let expected = k6_percentile("http_req_duration", Some(("scenario", "buy")), 0.975);
    assert!((p975.actual.unwrap() - expected).abs() <= 1e-9 * expected, "{p975:?} vs {expected}");
    assert!(get("http_req_duration{scenario:buy}", "avg>=1.5").ok, "avg is 1.515ms");

    assert!(get("http_reqs", "count==291").ok);
    assert!(get("http_reqs", "rate>30").ok);
    assert!(get("vus", "value===3").ok);
    assert!(!get("vus", "value!=3").ok);
    assert!(!s.thresholds_ok());
    // The request replaced the declared thresholds of http_req_duration, kept the others.
    assert!(
        s.thresholds
            .iter()
            .all(|t| t.metric != "http_req_duration" || t.from == chute_k6::summary::ThresholdFrom::Request)
    );
    assert!(s.thresholds.iter().any(|t| t.metric == "checks" && t.from == chute_k6::summary::ThresholdFrom::Declared));
}

#[test]
fn bad_requests_and_unknown_runs_are_errors_users_can_act_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    import_json(&store, 4096);

    let err = run_summary(&store, "no-such-run", &SummaryRequest::default()).err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("run \"no-such-run\" not found (no samples are stored for it)"));

    let err = run_summary(&store, RUN, &request(&[("http_req_duration", &["p95<200"])])).err();
    assert!(matches!(err, Some(K6Error::Threshold { .. })), "{err:?}");
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(
            "invalid threshold \"p95<200\" on http_req_duration: unknown aggregation \"p95\" \
             (expected count, rate, value, avg, min, max, med or p(N))"
        )
    );
    let err = run_summary(&store, RUN, &request(&[("checks", &["avg>0.5"])])).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("invalid threshold \"avg>0.5\" on checks: avg is not an aggregation of a rate metric (a rate has rate)")
    );
    let err =
        run_summary(&store, RUN, &request(&[("http_req_duration{scenario}", &["max<1"])])).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("invalid metric name \"http_req_duration{scenario}\": tag expression \"scenario\" is not key:value")
    );
}

#[test]
fn thresholds_on_untyped_or_empty_metrics_say_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    // CSV carries no types: custom metrics stay unknown unless the request names them.
    let file = std::fs::File::open(fixture("basic.k6.csv.gz")).unwrap();
    chute_k6::csv::CsvImport::new(Default::default())
        .run(file, |b| {
            insert(&store, "k6_samples", &b);
            Ok::<(), chute_store::StoreError>(())
        })
        .unwrap();
    let s = run_summary(&store, RUN, &request(&[("order_ok", &["rate>0.9"]), ("nothing_here", &["count<1"])])).unwrap();
    let order_ok = s.thresholds.iter().find(|t| t.metric == "order_ok").unwrap();
    assert!(!order_ok.ok);
    assert_eq!(
        order_ok.error.as_deref(),
        Some("the type of order_ok is unknown: give it in the request's metric_types")
    );
    let raw = s.metric("order_ok").unwrap();
    assert_eq!(
        (raw.metric_type.as_str(), raw.values.get("count"), raw.values.get("nonzero")),
        ("unknown", Some(&51.0), Some(&51.0))
    );

    let mut req = request(&[("order_ok", &["rate>0.9"])]);
    req.metric_types.insert("order_ok".into(), chute_k6::MetricType::Rate);
    req.metric_types.insert("nothing_here".into(), chute_k6::MetricType::Counter);
    req.thresholds.insert("nothing_here".into(), vec!["count<1".into()]);
    let s = run_summary(&store, RUN, &req).unwrap();
    assert!(s.thresholds.iter().all(|t| t.ok && t.error.is_none()), "{:?}", s.thresholds);
    assert_eq!(s.metric("nothing_here").and_then(|m| m.values.get("count")), Some(&0.0), "no samples: zeros, as k6");
}

#[test]
fn the_text_summary_reads_like_k6s_and_the_json_shape_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    import_json(&store, 4096);
    let mut req = SummaryRequest { thresholds: script_thresholds(), ..Default::default() };
    req.thresholds.insert("iteration_duration".into(), vec!["p(95)<100".into()]);
    let s = run_summary(&store, RUN, &req).unwrap();
    let text = render_text(&s);
    for want in [
        "run fixture-basic-001: 2026-11-23T11:24:53.125392Z",
        "█ THRESHOLDS",
        "✓ 'p(95)<200' p(95)=3.86ms",
        "✓ 'rate>0.95' rate=100.00%",
        "✗ 'p(95)<100' p(95)=206.19ms",
        "█ home",
        "✓ home is 200",
        "✓ order accepted",
        ": avg=1.54ms min=283.63µs med=1.25ms max=9.89ms p(90)=2.97ms p(95)=3.86ms",
        "{ scenario:buy }",
        ": 100.00% ✓ 291",
        ": 41.23%  ✓ 120",
        ": 873 kB",
        "value=3 min=3",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let line =
        |name: &str| text.lines().find(|l| l.trim_start().starts_with(&format!("{name}."))).unwrap_or("").to_owned();
    assert!(line("http_reqs").contains(": 291 "), "{}", line("http_reqs"));
    assert!(line("http_reqs").trim_end().ends_with("/s"), "{}", line("http_reqs"));
    assert!(text.find("THRESHOLDS") < text.find("http_req_blocked..."), "thresholds come first");

    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["run"]["run_id"], RUN);
    assert_eq!(v["run"]["samples"], 4123);
    let m = v["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "http_req_duration{scenario:buy}").unwrap();
    assert_eq!(m["metric"], "http_req_duration");
    assert_eq!(m["tags"]["scenario"], "buy");
    assert_eq!(m["type"], "trend");
    assert!(m["values"]["p(95)"].is_number());
    let t = v["thresholds"].as_array().unwrap().iter().find(|t| t["expression"] == "p(95)<100").unwrap();
    assert_eq!(
        (t["ok"].as_bool(), t["from"].as_str(), t["metric"].as_str()),
        (Some(false), Some("request"), Some("iteration_duration"))
    );
    assert_eq!(v["checks"][0]["path"], "::order accepted");
}
