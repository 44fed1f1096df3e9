//! The fixture run (`fixtures/k6/basic-run`), recorded by k6 three ways at once, lands in a real
//! engine and its summary equals k6's own end-of-test summary (`basic.summary.json`).
//! Each test runs in its own process (cargo-nextest): one engine per process.

mod common;

use chute_influx::Precision;
use chute_k6::influx::{InfluxWriteContext, decode_influx_write};
use chute_k6::runs::{NoLookup, RunAssigner};
use chute_k6::summary::{SummaryRequest, run_summary};
use common::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn json_import_summary_equals_k6s_summary() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let imported = import_json(&store, 1000);
    assert_eq!(imported.samples, 4123);
    assert_eq!(imported.lines, 4144);
    assert_eq!(imported.run_ids.iter().collect::<Vec<_>>(), vec![RUN]);
    assert_eq!(imported.metrics.len(), 21, "one declaration per Metric line");

    // With nothing but the file: every stat k6 reported, and the thresholds the file declares.
    let s = run_summary(&store, RUN, &SummaryRequest::default()).unwrap();
    let diffs = diff_with_k6(&s, false);
    assert!(diffs.is_empty(), "differences with k6:\n{}", diffs.join("\n"));
    assert_eq!(s.run.samples, 4123);
    assert_eq!(s.run.sources, vec!["json".to_owned()]);
    let declared: Vec<(&str, &str, bool)> =
        s.thresholds.iter().map(|t| (t.metric.as_str(), t.expression.as_str(), t.ok)).collect();
    assert_eq!(
        declared,
        vec![
            ("checks", "rate>0.95", true),
            ("http_req_duration", "p(95)<200", true),
            ("http_req_duration", "p(99)<400", true),
            ("order_ok", "rate>0.9", true),
        ],
        "k6's JSON output declares thresholds on metrics, not on sub-metrics"
    );
    assert_eq!(s.metric("http_req_duration").map(|m| m.type_from), Some(chute_k6::summary::TypeSource::Declared));
    assert_eq!(s.metric("think_time").map(|m| m.contains.as_str()), Some("time"));

    // With the script's thresholds (the sub-metric's is not in the file): k6's verdicts, all.
    let s =
        run_summary(&store, RUN, &SummaryRequest { thresholds: script_thresholds(), ..Default::default() }).unwrap();
    let diffs = diff_with_k6(&s, true);
    assert!(diffs.is_empty(), "differences with k6:\n{}", diffs.join("\n"));
    assert!(s.thresholds_ok());
}

#[test]
fn influx_replay_summary_equals_k6s_summary() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let runs = RunAssigner::new(Duration::from_secs(30), Arc::new(NoLookup));
    let ctx = InfluxWriteContext { database: "k6".into(), k6: true, received_at_ns: 0 };
    let mut samples = 0;
    for n in 2..=10 {
        let body = read(&format!("influx/body-{n:03}.bin"));
        let d = decode_influx_write(&body, Precision::Nanoseconds, &ctx, &runs).unwrap();
        assert_eq!(d.point_count, 0, "body {n}: every k6 point is a sample");
        samples += d.sample_count;
        if let Some(b) = &d.samples {
            insert(&store, "k6_samples", b);
        }
    }
    assert_eq!(samples, 4123);

    let runs_stored = chute_store::queries::k6::runs(&store, 10, 0).unwrap();
    assert_eq!(runs_stored.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), vec![RUN], "testid names the run");
    let s = run_summary(&store, RUN, &influx_request()).unwrap();
    assert_eq!(s.run.sources, vec!["influxdb:k6".to_owned()]);
    let diffs = diff_with_k6(&s, true);
    assert!(diffs.is_empty(), "differences with k6:\n{}", diffs.join("\n"));

    // Without the request, the custom metrics' types are unknown and thresholds are absent.
    let bare = run_summary(&store, RUN, &SummaryRequest::default()).unwrap();
    assert_eq!(bare.metric("orders_placed").map(|m| m.metric_type.as_str()), Some("unknown"));
    assert_eq!(bare.metric("http_reqs").map(|m| m.type_from), Some(chute_k6::summary::TypeSource::Samples));
    assert!(bare.thresholds.is_empty());
}

#[test]
fn csv_import_has_the_samples_of_the_json_import() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let json = import_json(&store, 4096);
    let csv_run = "fixture-basic-001-csv";
    let file = std::fs::File::open(fixture("basic.k6.csv.gz")).unwrap();
    let import = chute_k6::csv::CsvImport::new(chute_k6::ImportOptions {
        run_id_override: Some(csv_run.into()),
        ..Default::default()
    });
    let csv = import
        .run(file, |b| {
            insert(&store, "k6_samples", &b);
            Ok::<(), chute_store::StoreError>(())
        })
        .unwrap();
    assert_eq!(csv.samples, json.samples);
    assert!(csv.metrics.is_empty(), "CSV declares no metrics");

    let per_metric = |run: &str| -> BTreeMap<String, (u64, f64, f64, f64)> {
        chute_store::queries::k6::metric_aggregates(&store, run, None)
            .unwrap()
            .into_iter()
            .map(|a| (a.metric, (a.count, a.sum, a.min, a.max)))
            .collect()
    };
    let (j, c) = (per_metric(common::RUN), per_metric(csv_run));
    assert_eq!(j.keys().collect::<Vec<_>>(), c.keys().collect::<Vec<_>>());
    for (metric, (jn, jsum, jmin, jmax)) in &j {
        let (cn, csum, cmin, cmax) = c[metric];
        assert_eq!(*jn, cn, "{metric}: sample count");
        // CSV writes values with 6 decimals.
        let tol = 5e-7 * (*jn as f64);
        assert!((jsum - csum).abs() <= tol, "{metric}: sum {jsum} vs {csum}");
        assert!((jmin - cmin).abs() <= 5e-7 && (jmax - cmax).abs() <= 5e-7, "{metric}: min/max");
    }
    // Tags come through: the checks by group and name are the same.
    let checks = |run: &str| chute_store::queries::k6::checks(&store, run).unwrap();
    assert_eq!(checks(common::RUN), checks(csv_run));
    // Timestamps are whole seconds in CSV.
    let info = chute_store::queries::k6::run(&store, csv_run).unwrap().unwrap();
    assert_eq!(info.first_sample_us % 1_000_000, 0);
    assert_eq!(info.sources, vec!["csv".to_owned()]);
}
