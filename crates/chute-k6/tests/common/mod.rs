//! Shared by the integration tests: the fixture run, a real engine, and comparison with k6's
//! own `--summary-export` of that run.
#![allow(dead_code)]

use chute_k6::summary::{RunSummary, SummaryRequest};
use chute_k6::{ImportOptions, MetricType};
use chute_store::Store;
use chute_store::embedded::{EmbeddedOptions, EmbeddedStore};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const RUN: &str = "fixture-basic-001";

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/k6/basic-run").join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A migrated engine in `dir` (one per process: nextest runs each test in its own).
pub fn engine(dir: &Path) -> EmbeddedStore {
    let store = EmbeddedStore::open(&EmbeddedOptions {
        path: dir.join("engine"),
        ingest_connections: 1,
        query_connections: 2,
        ..Default::default()
    })
    .expect("engine opens (run `make setup` first)");
    chute_store::migrations::up(&store, None).expect("migrations apply");
    store
}

static TOKEN: AtomicUsize = AtomicUsize::new(0);

/// Inserts a batch with a fresh deduplication token.
pub fn insert(store: &dyn Store, table: &str, batch: &arrow_array::RecordBatch) {
    let token = format!("test-{}", TOKEN.fetch_add(1, Ordering::Relaxed));
    store.insert(table, batch, &token).unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

/// Imports the fixture's JSON file into the store; returns the import summary.
pub fn import_json(store: &dyn Store, max_rows: usize) -> chute_k6::ImportSummary {
    let file = std::fs::File::open(fixture("basic.k6.json.gz")).expect("fixture opens");
    let import = chute_k6::json::JsonImport::new(ImportOptions { max_rows, ..Default::default() });
    let summary = import
        .run(file, |batch| {
            insert(store, "k6_samples", &batch);
            Ok::<(), chute_store::StoreError>(())
        })
        .expect("the fixture imports");
    insert(store, "k6_metrics", &chute_tables::k6::metrics_batch(&summary.metrics));
    summary
}

/// The thresholds of basic.js.
pub fn script_thresholds() -> BTreeMap<String, Vec<String>> {
    [
        ("http_req_duration", vec!["p(95)<200", "p(99)<400"]),
        ("http_req_duration{scenario:buy}", vec!["max<1000"]),
        ("order_ok", vec!["rate>0.9"]),
        ("checks", vec!["rate>0.95"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect()
}

/// What an InfluxDB replay needs to be told: the custom metrics' types and the thresholds.
pub fn influx_request() -> SummaryRequest {
    SummaryRequest {
        thresholds: script_thresholds(),
        metric_types: [
            ("orders_placed", MetricType::Counter),
            ("queue_depth", MetricType::Gauge),
            ("order_ok", MetricType::Rate),
            ("think_time", MetricType::Trend),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    }
}

fn close(ours: f64, k6: f64) -> bool {
    ours == k6 || (ours - k6).abs() <= 1e-9 * ours.abs().max(k6.abs())
}

/// Compares every stat of every metric, every threshold verdict and every check of k6's
/// summary export with ours; returns the differences (empty: all equal).
pub fn diff_with_k6(ours: &RunSummary, check_thresholds: bool) -> Vec<String> {
    let k6: serde_json::Value =
        serde_json::from_slice(&read("basic.summary.json")).expect("basic.summary.json is JSON");
    let mut diffs = Vec::new();
    let metrics = k6["metrics"].as_object().expect("metrics object");
    for (name, stats) in metrics {
        let Some(m) = ours.metric(name) else {
            diffs.push(format!("{name}: missing from our summary"));
            continue;
        };
        for stat in ["count", "avg", "min", "med", "max", "p(90)", "p(95)", "value", "passes", "fails"] {
            let Some(expected) = stats.get(stat).and_then(|v| v.as_f64()) else { continue };
            // k6's export calls a rate's rate "value".
            let key = if stat == "value" && m.metric_type == "rate" { "rate" } else { stat };
            match m.values.get(key) {
                Some(&got) if close(got, expected) => {}
                got => diffs.push(format!("{name} {stat}: ours {got:?}, k6 {expected}")),
            }
        }
        if m.metric_type == "counter" && m.values.get("rate").is_none_or(|r| *r <= 0.0) {
            diffs.push(format!("{name}: counter rate is not positive: {:?}", m.values.get("rate")));
        }
        if check_thresholds && let Some(th) = stats.get("thresholds").and_then(|t| t.as_object()) {
            for (expr, failed) in th {
                let failed = failed.as_bool().expect("threshold verdict is a bool");
                match ours.thresholds.iter().find(|t| &t.metric == name && &t.expression == expr) {
                    Some(t) if t.ok != failed && t.error.is_none() => {} // ok = passed = not failed
                    t => diffs.push(format!("threshold {name} {expr}: ours {t:?}, k6 failed={failed}")),
                }
            }
        }
    }
    if check_thresholds {
        let expected: usize =
            metrics.values().filter_map(|s| s.get("thresholds").and_then(|t| t.as_object()).map(|t| t.len())).sum();
        if ours.thresholds.len() != expected {
            diffs.push(format!(
                "{} thresholds evaluated, k6 has {expected}: {:?}",
                ours.thresholds.len(),
                ours.thresholds
            ));
        }
    }
    // Checks: walk k6's group tree.
    let mut k6_checks = Vec::new();
    let mut stack = vec![&k6["root_group"]];
    while let Some(g) = stack.pop() {
        if let Some(cs) = g["checks"].as_object() {
            for c in cs.values() {
                k6_checks.push((
                    c["path"].as_str().unwrap_or_default().to_owned(),
                    c["passes"].as_u64().unwrap_or(u64::MAX),
                    c["fails"].as_u64().unwrap_or(u64::MAX),
                ));
            }
        }
        if let Some(gs) = g["groups"].as_object() {
            stack.extend(gs.values());
        }
    }
    k6_checks.sort();
    let mut our_checks: Vec<(String, u64, u64)> =
        ours.checks.iter().map(|c| (c.path.clone(), c.passes, c.fails)).collect();
    our_checks.sort();
    if our_checks != k6_checks {
        diffs.push(format!("checks: ours {our_checks:?}, k6 {k6_checks:?}"));
    }
    diffs
}

/// One `k6_samples` row, for comparisons.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub run_id: String,
    pub timestamp_us: i64,
    pub metric: String,
    pub metric_type: String,
    pub value: f64,
    pub tags: Vec<(String, String)>,
    pub vu: Option<u32>,
    pub iter: Option<u64>,
    pub metadata: Vec<(String, String)>,
    pub source: String,
}

/// The rows of a `k6_samples` batch.
pub fn rows(b: &arrow_array::RecordBatch) -> Vec<Row> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Int32Type, TimestampMicrosecondType, UInt32Type, UInt64Type};
    use arrow_array::{Array, ArrayRef};
    let dict = |c: &ArrayRef, i: usize| -> String {
        let d = c.as_dictionary::<Int32Type>();
        let k = d.keys().value(i) as usize;
        d.values().as_string::<i32>().value(k).to_owned()
    };
    let map = |c: &ArrayRef, i: usize| -> Vec<(String, String)> {
        let m = c.as_map().value(i);
        let (k, v) = (m.column(0).as_string::<i32>(), m.column(1).as_string::<i32>());
        let mut out: Vec<(String, String)> =
            (0..m.len()).map(|j| (k.value(j).to_owned(), v.value(j).to_owned())).collect();
        out.sort();
        out
    };
    (0..b.num_rows())
        .map(|i| Row {
            run_id: dict(b.column(0), i),
            timestamp_us: b.column(1).as_primitive::<TimestampMicrosecondType>().value(i),
            metric: dict(b.column(2), i),
            metric_type: dict(b.column(3), i),
            value: b.column(4).as_primitive::<arrow_array::types::Float64Type>().value(i),
            tags: map(b.column(5), i),
            vu: (!b.column(6).is_null(i)).then(|| b.column(6).as_primitive::<UInt32Type>().value(i)),
            iter: (!b.column(7).is_null(i)).then(|| b.column(7).as_primitive::<UInt64Type>().value(i)),
            metadata: map(b.column(8), i),
            source: dict(b.column(9), i),
        })
        .collect()
}

pub fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    out.sort();
    out
}
