//! The explorer's catalogs (migrations 0005 and 0007) on the real engine: the attribute catalog
//! fed at ingest keeps exact distinct counts, retried inserts and values sent again do not count
//! twice, log patterns sum, and the queries bind every value.

use chute_patterns::catalog::{SeenValues, attribute_feed};
use chute_store::embedded::{EmbeddedOptions, EmbeddedStore};
use chute_store::queries::explorer::{self, Filters, Page};
use chute_store::{Store, migrations};
use chute_tables::otel::{LogRow, LogsBuilder, SpanRow, TracesBuilder};

fn open(dir: &std::path::Path) -> EmbeddedStore {
    EmbeddedStore::open(&EmbeddedOptions {
        path: dir.join("engine"),
        ingest_connections: 1,
        query_connections: 2,
        ..Default::default()
    })
    .expect("engine opens (run `make setup` first)")
}

const T0: i64 = 1_795_433_093_000_000_000;
const PAGE: Page = Page { limit: 100, offset: 0 };

/// `n` logs of `service`: user.id = u{i % users}, route = one of 3, plus a resource host.
fn logs(service: &str, n: usize, users: usize, start: usize) -> arrow_array::RecordBatch {
    let mut b = LogsBuilder::new();
    for j in 0..n {
        let i = start + j;
        b.resource_attributes.insert("host.name", "h1");
        b.log_attributes.insert("user.id", &format!("u{}", i % users));
        b.log_attributes.insert("route", ["/a", "/b", "/c"][i % 3]);
        let body = format!("user u{} fetched /items/{} in {}ms", i % users, i, i % 50);
        b.end_row(&LogRow {
            timestamp_ns: T0 + i as i64 * 1_000_000,
            severity_text: if i.is_multiple_of(10) { "ERROR" } else { "INFO" },
            severity_number: if i.is_multiple_of(10) { 17 } else { 9 },
            service_name: service,
            body: &body,
            scope_name: "app.logger",
            ..Default::default()
        });
    }
    b.finish()
}

fn get<'a>(v: &'a serde_json::Value, k: &str) -> &'a serde_json::Value {
    v.get(k).unwrap_or_else(|| panic!("no {k} in {v}"))
}

fn attr<'a>(rows: &'a [serde_json::Value], key: &str, signal: &str, scope: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["key"] == key && r["signal"] == signal && r["scope"] == scope)
        .unwrap_or_else(|| panic!("no {signal}/{scope} {key} in {rows:?}"))
}

#[test]
fn the_catalog_counts_exact_distinct_values_and_a_retried_insert_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    migrations::up(&store, None).unwrap();
    // api: users 0..600 over two inserts; web: users 0..1000 (400 more).
    // Each insert with its catalog feed, as the receivers submit them; the values a feed was
    // acknowledged with are not sent again.
    let seen = SeenValues::new(1_000_000);
    let insert = |b: &arrow_array::RecordBatch, token: &str, retry: bool| {
        store.insert("otel_logs", b, token).unwrap();
        let f = attribute_feed("otel_logs", b, &seen).unwrap();
        store.insert("otel_attribute_catalog_feed", &f.batch, &format!("{token}-c")).unwrap();
        if retry {
            // a retry: the same rows under the same tokens are stored once, counted once
            store.insert("otel_logs", b, token).unwrap();
            store.insert("otel_attribute_catalog_feed", &f.batch, &format!("{token}-c")).unwrap();
        }
        seen.remember(&f.pending);
    };
    let a1 = logs("api", 3000, 600, 0);
    insert(&a1, "t-a1", true);
    insert(&logs("api", 3000, 600, 3000), "t-a2", false);
    // web's first 600 users are api's values too, but not of web's groups: they are sent again.
    insert(&logs("web", 5000, 1000, 0), "t-w1", false);
    // After a restart (nothing remembered) known values come again; the sets do not grow.
    let restarted = SeenValues::new(1_000_000);
    let again = logs("web", 10, 1000, 0);
    let f = attribute_feed("otel_logs", &again, &restarted).unwrap();
    assert_eq!(f.batch.num_rows(), 1 + 10 + 3, "host.name, 10 users, 3 routes: all sent again");
    store.insert("otel_logs", &again, "t-w2").unwrap();
    store.insert("otel_attribute_catalog_feed", &f.batch, "t-w2-c").unwrap();
    let p = chute_patterns::batch::log_patterns(&a1).unwrap();
    store.insert("otel_log_patterns", &p, "t-p1").unwrap();
    store.insert("otel_log_patterns", &p, "t-p1").unwrap();

    let all = explorer::attributes(&store, &Filters::default(), PAGE).unwrap();
    assert!(!all.more);
    let user = attr(&all.items, "user.id", "log", "item");
    assert_eq!(get(user, "cardinality"), 1000, "{user}");
    assert_eq!(get(user, "occurrences"), 11_010);
    assert_eq!(get(user, "services"), &serde_json::json!(["api", "web"]));
    assert_eq!(get(user, "names"), &serde_json::json!(["app.logger"]));
    assert_eq!(get(user, "types"), &serde_json::json!(["string"]));
    assert_eq!(get(user, "samples").as_array().unwrap().len(), 5);
    assert_eq!(get(attr(&all.items, "route", "log", "item"), "cardinality"), 3);
    assert_eq!(get(attr(&all.items, "host.name", "log", "resource"), "cardinality"), 1);
    assert_eq!(all.items[0]["key"], "user.id", "highest cardinality first");

    let api = Filters { service: Some("api".into()), ..Default::default() };
    let a = explorer::attributes(&store, &api, PAGE).unwrap();
    assert_eq!(get(attr(&a.items, "user.id", "log", "item"), "cardinality"), 600);
    let min = Filters { min_cardinality: Some(4), ..Default::default() };
    let m = explorer::attributes(&store, &min, PAGE).unwrap();
    assert_eq!(m.items.len(), 1, "{m:?}");

    let per = explorer::attribute(&store, "user.id", &Filters::default()).unwrap();
    let by_service: Vec<(String, u64)> =
        per.iter().map(|r| (r["service"].as_str().unwrap().to_string(), r["cardinality"].as_u64().unwrap())).collect();
    assert_eq!(by_service, vec![("api".into(), 600), ("web".into(), 1000)]);

    let services = explorer::services(&store, &Filters::default(), PAGE).unwrap();
    let api = &services.items[0];
    assert_eq!(
        (get(api, "service"), get(api, "logs"), get(api, "log_errors")),
        (&"api".into(), &6000.into(), &600.into())
    );
    assert_eq!(get(api, "first_seen"), "2026-11-23T11:24:53Z");

    let pats = explorer::log_patterns(&store, &Filters::default(), PAGE).unwrap();
    let total: u64 = pats.items.iter().map(|r| r["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 3000, "the retried pattern insert is not counted: {pats:?}");
    assert_eq!(pats.items[0]["template"], "user <*> fetched /items/<*> in <*>");
    assert_eq!(pats.items[0]["template_id"].as_str().unwrap().len(), 16);
    let err = Filters { severity: Some("ERROR".into()), ..Default::default() };
    assert_eq!(explorer::log_patterns(&store, &err, PAGE).unwrap().items[0]["count"], 300);

    // Paging.
    let one = explorer::attributes(&store, &Filters::default(), Page { limit: 1, offset: 1 }).unwrap();
    assert!(one.more);
    assert_eq!(one.items[0], all.items[1]);

    // Filters are values, never SQL.
    let evil = Filters { service: Some("api' OR '1'='1".into()), ..Default::default() };
    assert!(explorer::attributes(&store, &evil, PAGE).unwrap().items.is_empty());
    assert!(explorer::log_patterns(&store, &evil, PAGE).unwrap().items.is_empty());
    assert!(explorer::services(&store, &evil, PAGE).unwrap().items.is_empty());
}

#[test]
fn spans_traces_metrics_and_stats_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    migrations::up(&store, None).unwrap();
    let mut b = TracesBuilder::new();
    let trace = "0123456789abcdef0123456789abcdef";
    for (i, (id, parent, status)) in
        [("a000000000000001", "", "Ok"), ("a000000000000002", "a000000000000001", "Error")].iter().enumerate()
    {
        b.resource_attributes.insert("service.name", "api");
        b.span_attributes.insert("http.status_code", ["200", "500"][i]);
        b.end_row(&SpanRow {
            timestamp_ns: T0 + i as i64 * 1000,
            trace_id: trace,
            span_id: id,
            parent_span_id: parent,
            span_name: "GET /x",
            span_kind: "Server",
            service_name: "api",
            duration_ns: 1_000_000 * (i as u64 + 1),
            status_code: status,
            ..Default::default()
        });
    }
    let spans = b.finish();
    store.insert("otel_traces", &spans, "s1").unwrap();
    let feed = attribute_feed("otel_traces", &spans, &SeenValues::new(100)).unwrap();
    store.insert("otel_attribute_catalog_feed", &feed.batch, "s1-c").unwrap();
    let spans = explorer::spans(&store, &Filters { status: Some("Error".into()), ..Default::default() }, PAGE).unwrap();
    assert_eq!(spans.items.len(), 1);
    assert_eq!(spans.items[0]["duration_ns"], 2_000_000);
    assert_eq!(spans.items[0]["attributes"]["http.status_code"], "500");
    let slow = Filters { min_duration_ns: Some(1_500_000), ..Default::default() };
    assert_eq!(explorer::spans(&store, &slow, PAGE).unwrap().items.len(), 1);
    assert_eq!(explorer::trace_spans(&store, trace).unwrap().len(), 2);
    let s = explorer::services(&store, &Filters::default(), PAGE).unwrap();
    assert_eq!(s.items[0]["span_error_rate"], 0.5);
    let high =
        explorer::high_cardinality(&store, &Filters { min_cardinality: Some(2), ..Default::default() }, PAGE).unwrap();
    assert_eq!(high.items.len(), 1, "{high:?}");
    let t = explorer::table_stats(&store, &Filters { table: Some("otel_traces".into()), ..Default::default() }, PAGE)
        .unwrap();
    assert_eq!(t.items[0]["rows"], 2);
    assert!(explorer::metrics(&store, &Filters::default(), PAGE).unwrap().items.is_empty());
    assert!(explorer::metric(&store, "nope", &Filters::default()).unwrap().is_none());
    assert!(explorer::complex_metrics(&store, &Filters::default(), 10).unwrap().is_empty());
    let _ = explorer::recent_queries(&store, PAGE).unwrap();
}
