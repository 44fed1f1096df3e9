//! The telemetry explorer end to end: generated OTLP/HTTP traffic with known cardinalities (1,000
//! users, 3 routes, 17 status codes across 2 services) and known log templates is posted to a
//! running chute, and `/api/v1` answers with those exact numbers, before and after a restart and
//! after more data; every endpoint's filters, pages, empty answers and bad parameters; SQL
//! injection strings through every filter; the OpenAPI document against the real responses; the
//! golden log patterns of the OpenTelemetry SDK fixture; and the CLI.

mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// 2026-11-23T11:24:53Z in Unix nanoseconds.
const T0: u64 = 1_795_433_093_000_000_000;
const N: usize = 4080;
const SERVICES: [&str; 2] = ["shop", "auth"];
const ROUTES: [&str; 3] = ["/cart", "/login", "/search"];

fn service(i: usize) -> &'static str {
    SERVICES[i % 2]
}
fn user(i: usize) -> String {
    format!("user-{}", i % 1000)
}
fn status(i: usize) -> u64 {
    200 + (i % 17) as u64
}
fn trace_id(i: usize) -> String {
    format!("{:032x}", 0xabc0_0000u64 + i as u64)
}
fn span_id(i: usize) -> String {
    format!("{:016x}", 0x5000_0000u64 + i as u64)
}

/// The templates the generated logs come from, as chute must report them.
const TEMPLATES: [&str; 5] = [
    "user <*> logged in from <*>",
    "GET /items/<*> returned <*> in <*>",
    "payment <*> declined: insufficient funds",
    "cache warmed",
    "inventory sync finished for warehouse \"<*>\"",
];

/// (template index, body, severity) of generated log `i`.
fn log_of(i: usize) -> (usize, String, &'static str) {
    if i % 10 == 9 {
        return (4, format!("inventory sync finished for warehouse \"north {}\"", i % 3), "INFO");
    }
    match [0, 0, 1, 2, 3][i % 5] {
        0 => (0, format!("user {} logged in from 10.0.{}.{}", user(i), i % 256, i % 7), "INFO"),
        1 => (1, format!("GET /items/{i} returned {} in {}ms", status(i), i % 90), "INFO"),
        2 => (2, format!("payment {:08x}-1b4d-4e8f-9a6b-{:012x} declined: insufficient funds", i, i * 7), "ERROR"),
        _ => (3, "cache warmed".to_string(), "INFO"),
    }
}

fn kv(k: &str, v: Value) -> Value {
    json!({ "key": k, "value": v })
}
fn sv(s: &str) -> Value {
    json!({ "stringValue": s })
}
fn iv(n: u64) -> Value {
    json!({ "intValue": n.to_string() })
}
fn resource(svc: &str) -> Value {
    json!({ "attributes": [kv("service.name", sv(svc)), kv("host.name", sv(&format!("{svc}-host")))] })
}

/// OTLP/JSON logs of records `range`, grouped per service.
fn logs_body(range: std::ops::Range<usize>) -> Vec<u8> {
    let mut per: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for i in range {
        let (_, body, sev) = log_of(i);
        per.entry(service(i)).or_default().push(json!({
            "timeUnixNano": (T0 + i as u64 * 1_000_000).to_string(),
            "severityText": sev,
            "severityNumber": if sev == "ERROR" { 17 } else { 9 },
            "body": sv(&body),
            "attributes": [kv("user.id", sv(&user(i))), kv("http.route", sv(ROUTES[i % 3]))],
        }));
    }
    let rl: Vec<Value> = per
        .into_iter()
        .map(|(s, recs)| json!({ "resource": resource(s), "scopeLogs": [{ "scope": { "name": "gen" }, "logRecords": recs }] }))
        .collect();
    serde_json::to_vec(&json!({ "resourceLogs": rl })).unwrap()
}

/// OTLP/JSON spans of requests `range` (span `i`: trace `i`, duration `i % 100` ms, status
/// Error when `i % 17 == 16`), plus a child `db.query` span for the first ten traces.
fn spans_body(range: std::ops::Range<usize>) -> Vec<u8> {
    let mut per: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for i in range {
        let start = T0 + i as u64 * 1_000_000;
        per.entry(service(i)).or_default().push(json!({
            "traceId": trace_id(i), "spanId": span_id(i), "name": "HTTP GET", "kind": 2,
            "startTimeUnixNano": start.to_string(),
            "endTimeUnixNano": (start + (i % 100) as u64 * 1_000_000).to_string(),
            "attributes": [kv("user.id", sv(&user(i))), kv("http.route", sv(ROUTES[i % 3])), kv("http.status_code", iv(status(i)))],
            "status": { "code": if i % 17 == 16 { 2 } else { 1 } },
        }));
        if i < 10 {
            per.entry(service(i)).or_default().push(json!({
                "traceId": trace_id(i), "spanId": format!("{:016x}", 0x7000_0000u64 + i as u64),
                "parentSpanId": span_id(i), "name": "db.query", "kind": 3,
                "startTimeUnixNano": (start + 1000).to_string(), "endTimeUnixNano": (start + 2000).to_string(),
            }));
        }
    }
    let rs: Vec<Value> = per
        .into_iter()
        .map(|(s, spans)| json!({ "resource": resource(s), "scopeSpans": [{ "scope": { "name": "gen" }, "spans": spans }] }))
        .collect();
    serde_json::to_vec(&json!({ "resourceSpans": rs })).unwrap()
}

/// Per service: `http.server.requests` (a sum) with all 51 route × status series, and
/// `queue.depth` (a gauge) with 2 series.
fn metrics_body() -> Vec<u8> {
    let rm: Vec<Value> = SERVICES
        .iter()
        .map(|s| {
            let points: Vec<Value> = (0..51)
                .map(|i| {
                    json!({
                        "timeUnixNano": T0.to_string(), "startTimeUnixNano": T0.to_string(), "asInt": "1",
                        "attributes": [kv("http.route", sv(ROUTES[i % 3])), kv("http.status_code", iv(status(i)))],
                    })
                })
                .collect();
            let gauge: Vec<Value> = ["a", "b"]
                .iter()
                .map(|q| json!({ "timeUnixNano": T0.to_string(), "asDouble": 3.0, "attributes": [kv("queue", sv(q))] }))
                .collect();
            json!({ "resource": resource(s), "scopeMetrics": [{ "scope": { "name": "gen" }, "metrics": [
                { "name": "http.server.requests", "unit": "1", "description": "requests",
                  "sum": { "dataPoints": points, "aggregationTemporality": 2, "isMonotonic": true } },
                { "name": "queue.depth", "unit": "{item}", "gauge": { "dataPoints": gauge } },
            ] }] })
        })
        .collect();
    serde_json::to_vec(&json!({ "resourceMetrics": rm })).unwrap()
}

fn otlp_http(chute: &Chute) -> String {
    let line = chute.banner.iter().find(|l| l.starts_with("OTLP/gRPC on ")).expect("banner names the OTLP listeners");
    line.split("OTLP/HTTP on ").nth(1).unwrap().trim().to_string()
}

fn post_otlp(base: &str, signal: &str, body: &[u8]) {
    let (status, _, text) =
        http_post(&format!("{base}/v1/{signal}"), &[("Content-Type", "application/json")], body).unwrap();
    assert_eq!(status, 200, "{signal}: {text}");
    assert!(!text.contains("partialSuccess"), "{signal}: {text}");
}

fn wait_delivered(url: &str) {
    wait_for("the spool to empty", Duration::from_secs(60), || {
        let (_, b) = ureq_get(&format!("{url}/health/ready")).ok()?;
        let h: Value = serde_json::from_str(&b).ok()?;
        (h["spool"]["bytes"].as_u64() == Some(0)).then_some(())
    });
}

/// Posts the generated data (users `start..end`) in requests of 510 items, then waits until it
/// is stored.
fn ingest(chute: &Chute, range: std::ops::Range<usize>, with_metrics: bool) {
    let base = otlp_http(chute);
    let mut i = range.start;
    while i < range.end {
        let j = (i + 510).min(range.end);
        post_otlp(&base, "logs", &logs_body(i..j));
        post_otlp(&base, "traces", &spans_body(i..j));
        i = j;
    }
    if with_metrics {
        post_otlp(&base, "metrics", &metrics_body());
    }
    wait_delivered(&chute.url);
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn api(chute: &Chute, path: &str) -> (u16, Value) {
    let (status, body) = ureq_get(&format!("{}{path}", chute.url)).unwrap();
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, v)
}

fn ok(chute: &Chute, path: &str) -> Value {
    let (status, v) = api(chute, path);
    assert_eq!(status, 200, "{path}: {v}");
    v
}

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap_or_else(|| panic!("no items in {v}"))
}

fn find<'a>(rows: &'a [Value], pairs: &[(&str, &str)]) -> &'a Value {
    rows.iter()
        .find(|r| pairs.iter().all(|(k, v)| r[*k] == *v))
        .unwrap_or_else(|| panic!("no row with {pairs:?} in {rows:#?}"))
}

/// Every row of a list endpoint, page by page (`limit` per page).
fn all_pages(chute: &Chute, path: &str, limit: u64) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let v = ok(chute, &format!("{path}{sep}limit={limit}&offset={offset}"));
        out.extend(items(&v).iter().cloned());
        match v["next_offset"].as_u64() {
            Some(n) => offset = n,
            None => return out,
        }
    }
}

fn count_where(pred: impl Fn(usize) -> bool) -> u64 {
    (0..N).filter(|i| pred(*i)).count() as u64
}

#[test]
fn generated_telemetry_gives_exact_cardinalities_counts_and_patterns_before_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    ingest(&chute, 0..N, true);

    // The attribute catalog: exact distinct counts across both services and per service.
    let spans = items(&ok(&chute, "/api/v1/attributes?signal=span&scope=item")).clone();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    for (key, card) in [("user.id", 1000), ("http.route", 3), ("http.status_code", 17)] {
        let r = find(&spans, &[("key", key)]);
        assert_eq!(r["cardinality"], card, "{key}");
        assert_eq!(r["services"], json!(["auth", "shop"]));
        assert_eq!(r["names"], json!(["HTTP GET"]));
        assert_eq!(r["occurrences"], N as u64);
    }
    assert_eq!(find(&spans, &[("key", "http.status_code")])["types"], json!(["int"]));
    let shop = items(&ok(&chute, "/api/v1/attributes?signal=span&scope=item&service=shop")).clone();
    assert_eq!(find(&shop, &[("key", "user.id")])["cardinality"], 500, "shop has the even users");
    assert_eq!(find(&shop, &[("key", "http.status_code")])["cardinality"], 17);
    let res = items(&ok(&chute, "/api/v1/attributes?scope=resource&signal=log")).clone();
    assert_eq!(find(&res, &[("key", "host.name")])["cardinality"], 2);
    assert_eq!(find(&res, &[("key", "service.name")])["cardinality"], 2);

    let user_id = ok(&chute, "/api/v1/attributes/user.id");
    assert_eq!(
        user_id["signals"],
        json!([{ "signal": "log", "cardinality": 1000 }, { "signal": "span", "cardinality": 1000 }])
    );
    let per = items(&user_id);
    assert_eq!(find(per, &[("signal", "span"), ("service", "auth")])["cardinality"], 500);
    assert_eq!(find(per, &[("signal", "log"), ("service", "shop")])["samples"].as_array().unwrap().len(), 5);

    // Services.
    let services = items(&ok(&chute, "/api/v1/services")).clone();
    assert_eq!(services.len(), 2);
    let shop = find(&services, &[("service", "shop")]);
    let shop_errors = count_where(|i| i % 2 == 0 && i % 17 == 16);
    assert_eq!(shop["spans"], N as u64 / 2 + 5, "{shop}");
    assert_eq!(shop["span_errors"], shop_errors);
    let rate = shop["span_error_rate"].as_f64().unwrap();
    assert!((rate - shop_errors as f64 / (N as f64 / 2.0 + 5.0)).abs() < 1e-12);
    assert_eq!(shop["logs"], N as u64 / 2);
    assert_eq!(shop["log_errors"], count_where(|i| i % 2 == 0 && log_of(i).2 == "ERROR"));
    assert_eq!((shop["metrics"].as_u64(), shop["metric_points"].as_u64()), (Some(2), Some(53)));
    assert_eq!(shop["first_seen"], "2026-11-23T11:24:53Z");

    // Metrics: series, attribute cardinality and the complexity score.
    let metrics = items(&ok(&chute, "/api/v1/metrics")).clone();
    let req = find(&metrics, &[("name", "http.server.requests")]);
    assert_eq!(
        (&req["type"], &req["unit"], &req["series"], &req["points"]),
        (&json!("sum"), &json!("1"), &json!(102), &json!(102))
    );
    assert_eq!(
        (&req["attribute_count"], &req["max_cardinality"], &req["complexity"]),
        (&json!(2), &json!(17), &json!(34))
    );
    assert_eq!(find(&metrics, &[("name", "queue.depth")])["complexity"], 2);
    let one = ok(&chute, "/api/v1/metrics/http.server.requests?service=auth");
    assert_eq!(one["types"][0]["series"], 51);
    assert_eq!(
        (&one["types"][0]["attribute_count"], &one["types"][0]["max_cardinality"], &one["types"][0]["complexity"]),
        (&json!(2), &json!(17), &json!(34))
    );
    assert_eq!(
        find(one["attributes"].as_array().unwrap(), &[("key", "http.status_code"), ("scope", "item")])["cardinality"],
        17
    );

    // High cardinality: keys at or above 17 distinct values, per signal.
    let high = ok(&chute, "/api/v1/cardinality/high?threshold=17");
    let got: Vec<(String, String, u64)> = items(&high)
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().into(),
                r["signal"].as_str().unwrap().into(),
                r["cardinality"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = [
        ("user.id", "log", 1000),
        ("user.id", "span", 1000),
        ("http.status_code", "metric", 17),
        ("http.status_code", "span", 17),
    ]
    .iter()
    .map(|(k, s, c)| (k.to_string(), s.to_string(), *c))
    .collect();
    assert_eq!(got, want);
    assert_eq!(high["metrics"][0]["name"], "http.server.requests");

    // Log patterns: exactly the generated templates with exact counts.
    let expected = expected_patterns(0..N);
    let patterns = patterns_by_template(&ok(&chute, "/api/v1/logs/patterns"));
    assert_eq!(patterns, expected);

    // More data: 200 new users (1000..1199) and 100 more logs; the catalog and the counts follow.
    let base = otlp_http(&chute);
    let more: Vec<Value> = (0..200)
        .map(|u| {
            json!({
                "traceId": format!("{:032x}", 0xdddd_0000u64 + u), "spanId": format!("{:016x}", 0xeeee_0000u64 + u),
                "name": "HTTP GET", "kind": 2, "startTimeUnixNano": T0.to_string(), "endTimeUnixNano": T0.to_string(),
                "attributes": [kv("user.id", sv(&format!("user-{}", 1000 + u)))],
            })
        })
        .collect();
    let body = json!({ "resourceSpans": [{ "resource": resource("shop"), "scopeSpans": [{ "spans": more }] }] });
    post_otlp(&base, "traces", &serde_json::to_vec(&body).unwrap());
    post_otlp(&base, "logs", &logs_body(N..N + 100));
    wait_delivered(&chute.url);
    let traces = items(&ok(&chute, "/api/v1/stats/tables?table=otel_traces")).clone();
    assert_eq!(traces[0]["rows"], N as u64 + 10 + 200);
    let spans = items(&ok(&chute, "/api/v1/attributes?signal=span&scope=item")).clone();
    assert_eq!(find(&spans, &[("key", "user.id")])["cardinality"], 1200);
    let shop = items(&ok(&chute, "/api/v1/attributes?signal=span&scope=item&service=shop")).clone();
    assert_eq!(find(&shop, &[("key", "user.id")])["cardinality"], 700);
    let expected = expected_patterns(0..N + 100);
    assert_eq!(patterns_by_template(&ok(&chute, "/api/v1/logs/patterns")), expected);

    // Restart: the catalog, the patterns and their ids still agree.
    let before_attrs = ok(&chute, "/api/v1/attributes");
    let before_patterns = ok(&chute, "/api/v1/logs/patterns");
    let before_services = ok(&chute, "/api/v1/services");
    let dir_path = chute.dir.clone();
    let (st, _) = chute.term(Duration::from_secs(30));
    assert!(st.success());
    let chute = Chute::start(&dir_path, &[]);
    assert_eq!(ok(&chute, "/api/v1/attributes"), before_attrs);
    assert_eq!(ok(&chute, "/api/v1/logs/patterns"), before_patterns);
    assert_eq!(ok(&chute, "/api/v1/services"), before_services);

    // The CLI, through the running chute.
    let (code, out, err) = run(&chute.dir, &["services", "--server", &chute.url]);
    assert_eq!(code, 0, "{err}");
    let shop_line = out.lines().find(|l| l.starts_with("shop")).unwrap_or_else(|| panic!("{out}"));
    assert!(shop_line.contains("2,245"), "shop spans 2,040 + 5 + 200: {out}");
    let (code, out, err) = run(&chute.dir, &["attributes", "--min-cardinality", "1000", "--server", &chute.url]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "header, rule, user.id span and log: {out}");
    assert!(lines[0].starts_with("key") && lines[2].starts_with("user.id") && lines[2].contains("1,200"), "{out}");
    let (code, out, err) = run(&chute.dir, &["logs", "patterns", "--severity", "ERROR", "--server", &chute.url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().nth(2).unwrap().contains("payment <*> declined: insufficient funds"), "{out}");

    // And without a server: the CLI opens the store itself.
    let (st, _) = chute.term(Duration::from_secs(30));
    assert!(st.success());
    let (code, out, err) =
        run(&dir_path, &["--set", "server.listen=127.0.0.1:1", "attributes", "--min-cardinality", "1100"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.lines().nth(2).unwrap().starts_with("user.id"), "{out}");
    let (code, out, _) = run(&dir_path, &["--set", "server.listen=127.0.0.1:1", "logs", "patterns", "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(patterns_by_template(&v), expected_patterns(0..N + 100));
}

/// chute is killed with SIGKILL right after the store confirmed a chunk of `otel_logs` (inside
/// `debug.pause_after_insert`, before its spool segments are removed), so every restart replays
/// the chunk, and derives its pattern and catalog rows again: they are stored once, and the
/// counts stay exact.
#[test]
fn kill_9_after_a_stored_chunk_replays_it_and_the_catalog_and_patterns_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let sets = ["batch.max_age=100ms", "debug.pause_after_insert=500ms"];
    let mut chute = Chute::start(dir.path(), &sets);
    let (rounds, per) = (6, 400);
    for k in 0..rounds {
        let before = metric(&chute.url, "chute_rows_written_total");
        post_otlp(&otlp_http(&chute), "logs", &logs_body(k * per..(k + 1) * per));
        wait_for("an insert to be confirmed", Duration::from_secs(30), || {
            (metric(&chute.url, "chute_rows_written_total") > before).then_some(())
        });
        chute.kill9();
        chute = Chute::start(dir.path(), &sets);
    }
    let total = rounds * per;
    wait_delivered(&chute.url);
    wait_for("the replays to be stored", Duration::from_secs(30), || {
        let v = ok(&chute, "/api/v1/services");
        (items(&v).iter().map(|s| s["logs"].as_u64().unwrap_or(0)).sum::<u64>() == total as u64).then_some(())
    });
    assert_eq!(patterns_by_template(&ok(&chute, "/api/v1/logs/patterns")), expected_patterns(0..total));
    let logs = items(&ok(&chute, "/api/v1/attributes?signal=log&scope=item")).clone();
    for (key, card) in [("user.id", 1000), ("http.route", 3)] {
        let r = find(&logs, &[("key", key)]);
        assert_eq!((&r["cardinality"], &r["occurrences"]), (&json!(card), &json!(total)), "{key}: {r}");
    }
    let res = items(&ok(&chute, "/api/v1/attributes?signal=log&scope=resource")).clone();
    assert_eq!(find(&res, &[("key", "host.name")])["occurrences"], total as u64);
    // The last start replayed the chunk the last kill interrupted.
    assert!(metric(&chute.url, "chute_dedup_replays_total") >= 1.0, "a replay happened");
}

/// template → (count, services, severities) of generated logs `range`.
fn expected_patterns(range: std::ops::Range<usize>) -> BTreeMap<String, (u64, Vec<String>, Vec<String>)> {
    let mut m: BTreeMap<String, (u64, Vec<String>, Vec<String>)> = BTreeMap::new();
    for i in range {
        let (t, _, sev) = log_of(i);
        let e = m.entry(TEMPLATES[t].to_string()).or_default();
        e.0 += 1;
        if !e.1.contains(&service(i).to_string()) {
            e.1.push(service(i).to_string());
            e.1.sort();
        }
        if !e.2.contains(&sev.to_string()) {
            e.2.push(sev.to_string());
        }
    }
    m
}

fn patterns_by_template(v: &Value) -> BTreeMap<String, (u64, Vec<String>, Vec<String>)> {
    items(v)
        .iter()
        .map(|p| {
            let strs = |k: &str| p[k].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
            (
                p["template"].as_str().unwrap().to_string(),
                (p["count"].as_u64().unwrap(), strs("services"), strs("severities")),
            )
        })
        .collect()
}

#[test]
fn every_endpoint_filters_pages_answers_empty_and_refuses_bad_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);

    // Before any telemetry: every list is empty, every item is 404.
    for path in [
        "/api/v1/services",
        "/api/v1/metrics",
        "/api/v1/spans",
        "/api/v1/logs",
        "/api/v1/logs/patterns",
        "/api/v1/attributes",
        "/api/v1/cardinality/high",
    ] {
        let v = ok(&chute, path);
        assert!(items(&v).is_empty(), "{path}: {v}");
        assert_eq!(v["next_offset"], Value::Null);
    }
    for path in ["/api/v1/metrics/nope", "/api/v1/attributes/nope", &format!("/api/v1/traces/{}", trace_id(1))] {
        let (status, v) = api(&chute, path);
        assert_eq!(status, 404, "{path}: {v}");
    }

    ingest(&chute, 0..N, true);

    // Spans: status, service, duration, trace id, name and time filters, and paging.
    let errors = all_pages(&chute, "/api/v1/spans?status=Error", 1000);
    assert_eq!(errors.len() as u64, count_where(|i| i % 17 == 16));
    assert!(errors.iter().all(|s| s["status"] == "Error"));
    let shop_errors = all_pages(&chute, "/api/v1/spans?status=error&service=shop", 1000);
    assert_eq!(shop_errors.len() as u64, count_where(|i| i % 2 == 0 && i % 17 == 16));
    let slow = all_pages(&chute, "/api/v1/spans?min_duration_ms=95&max_duration_ms=97.5", 1000);
    assert_eq!(slow.len() as u64, count_where(|i| (95..=97).contains(&(i % 100))));
    let one =
        items(&ok(&chute, &format!("/api/v1/spans?trace_id={}&name=HTTP+GET", trace_id(7).to_uppercase()))).clone();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["span_id"], span_id(7));
    assert_eq!(one[0]["attributes"]["http.status_code"], "207");
    assert_eq!(one[0]["duration_ns"], 7_000_000);
    assert_eq!(one[0]["start"], "2026-11-23T11:24:53.007000000Z");
    // from is inclusive, to exclusive: spans 100..200 (start = T0 + i ms).
    let window = all_pages(&chute, "/api/v1/spans?from=2026-11-23T11:24:53.100Z&to=1795433093.2&name=HTTP%20GET", 1000);
    assert_eq!(window.len(), 100);
    let page1 = ok(&chute, "/api/v1/spans?limit=3");
    assert_eq!((items(&page1).len(), &page1["next_offset"]), (3, &json!(3)));
    let page2 = ok(&chute, "/api/v1/spans?limit=3&offset=3");
    assert_ne!(items(&page1)[0], items(&page2)[0]);
    assert!(items(&ok(&chute, "/api/v1/spans?service=nobody")).is_empty());

    // A trace as a tree.
    let t = ok(&chute, &format!("/api/v1/traces/{}", trace_id(3)));
    assert_eq!((&t["span_count"], &t["services"]), (&json!(2), &json!(["auth"])));
    assert_eq!(t["roots"][0]["name"], "HTTP GET");
    assert_eq!(t["roots"][0]["children"][0]["name"], "db.query");

    // Logs.
    let declined = all_pages(&chute, "/api/v1/logs?text=DECLINED&service=auth", 1000);
    assert_eq!(declined.len() as u64, count_where(|i| i % 2 == 1 && log_of(i).0 == 2));
    let err = all_pages(&chute, "/api/v1/logs?severity=ERROR", 1000);
    assert_eq!(err.len() as u64, count_where(|i| log_of(i).2 == "ERROR"));
    let by_trace = items(&ok(&chute, &format!("/api/v1/logs?trace_id={}", trace_id(0)))).clone();
    assert!(by_trace.is_empty(), "generated logs carry no trace id");
    let first = items(&ok(&chute, "/api/v1/logs?limit=1&to=2026-11-23T11:24:53.001Z")).clone();
    assert_eq!(first[0]["body"], log_of(0).1);
    assert_eq!(first[0]["attributes"]["user.id"], "user-0");

    // Log patterns: min_count, min_services, severity, service, time, paging.
    let expected = expected_patterns(0..N);
    let big = patterns_by_template(&ok(&chute, "/api/v1/logs/patterns?min_count=1000"));
    assert_eq!(
        big.keys().cloned().collect::<Vec<_>>(),
        expected.iter().filter(|(_, v)| v.0 >= 1000).map(|(k, _)| k.clone()).collect::<Vec<_>>()
    );
    let both = patterns_by_template(&ok(&chute, "/api/v1/logs/patterns?min_services=2"));
    assert_eq!(both.len(), expected.iter().filter(|(_, v)| v.1.len() >= 2).count());
    assert!(!both.contains_key(TEMPLATES[4]), "only odd records (auth) have the warehouse template");
    let errs = patterns_by_template(&ok(&chute, "/api/v1/logs/patterns?severity=ERROR"));
    assert_eq!(errs.keys().collect::<Vec<_>>(), vec![TEMPLATES[2]]);
    let auth = patterns_by_template(&ok(&chute, "/api/v1/logs/patterns?service=auth"));
    assert_eq!(auth[TEMPLATES[4]].0, count_where(|i| i % 10 == 9));
    assert!(items(&ok(&chute, "/api/v1/logs/patterns?from=2026-11-23T12:00:00Z")).is_empty());
    assert_eq!(all_pages(&chute, "/api/v1/logs/patterns", 2).len(), TEMPLATES.len());
    let pats = items(&ok(&chute, "/api/v1/logs/patterns")).clone();
    assert!(pats.windows(2).all(|w| w[0]["count"].as_u64() >= w[1]["count"].as_u64()), "most frequent first");
    assert!(pats.iter().all(|p| p["example"].as_str().is_some_and(|e| !e.is_empty())));

    // Attributes: signal, service, min_cardinality, paging.
    let all = items(&ok(&chute, "/api/v1/attributes")).clone();
    assert_eq!(all_pages(&chute, "/api/v1/attributes", 2), all);
    let min = items(&ok(&chute, "/api/v1/attributes?min_cardinality=17&signal=metric")).clone();
    assert_eq!(min.len(), 1);
    assert_eq!(min[0]["key"], "http.status_code");
    assert!(items(&ok(&chute, "/api/v1/attributes?service=nobody")).is_empty());
    let q = ok(&chute, "/api/v1/attributes/queue?signal=metric");
    assert_eq!(q["signals"], json!([{ "signal": "metric", "cardinality": 2 }]));
    assert_eq!(api(&chute, "/api/v1/attributes/user.id?signal=metric").0, 404);

    // Metrics filters.
    assert_eq!(items(&ok(&chute, "/api/v1/metrics?type=gauge")).len(), 1);
    assert_eq!(items(&ok(&chute, "/api/v1/metrics?name=SERVER")).len(), 1);
    assert!(items(&ok(&chute, "/api/v1/metrics?service=nobody")).is_empty());
    assert_eq!(api(&chute, "/api/v1/metrics/queue.depth?service=nobody").0, 404);

    // Stats.
    let t = items(&ok(&chute, "/api/v1/stats/tables?table=otel_logs")).clone();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["rows"], N as u64);
    assert!(t[0]["compression_ratio"].as_f64().unwrap() > 1.0);
    let all_tables = items(&ok(&chute, "/api/v1/stats/tables?limit=1000")).clone();
    assert!(all_tables.iter().any(|r| r["table"] == "otel_attribute_catalog"));
    let q = ok(&chute, "/api/v1/stats/queries?limit=5");
    assert!(q["source"] == "engine" || q["source"] == "chute");
    assert!(!items(&q).is_empty());

    // Bad parameters: 400, and the message names the parameter.
    let bad = [
        ("/api/v1/services?limit=0", "limit"),
        ("/api/v1/services?limit=1001", "limit"),
        ("/api/v1/services?offset=-1", "offset"),
        ("/api/v1/services?servce=x", "servce"),
        ("/api/v1/metrics?type=counter", "type"),
        ("/api/v1/metrics/x?limit=1", "limit"),
        ("/api/v1/spans?status=failed", "status"),
        ("/api/v1/spans?min_duration_ms=fast", "min_duration_ms"),
        ("/api/v1/spans?max_duration_ms=-3", "max_duration_ms"),
        ("/api/v1/spans?from=yesterday", "from"),
        ("/api/v1/spans?to=2026-13-01T00:00:00Z", "to"),
        ("/api/v1/spans?trace_id=xyz", "trace_id"),
        ("/api/v1/traces/not-a-trace", "trace_id"),
        ("/api/v1/logs?trace_id=123", "trace_id"),
        ("/api/v1/logs?from=1.5.2026", "from"),
        ("/api/v1/logs?service=a&service=b", "service"),
        ("/api/v1/logs/patterns?min_count=many", "min_count"),
        ("/api/v1/logs/patterns?min_services=-1", "min_services"),
        ("/api/v1/attributes?signal=event", "signal"),
        ("/api/v1/attributes?scope=scope", "scope"),
        ("/api/v1/attributes?min_cardinality=1e3", "min_cardinality"),
        ("/api/v1/attributes/user.id?min_cardinality=3", "min_cardinality"),
        ("/api/v1/cardinality/high?threshold=high", "threshold"),
        ("/api/v1/stats/tables?offset=99999999999", "offset"),
        ("/api/v1/stats/queries?table=x", "table"),
    ];
    for (path, param) in bad {
        let (status, v) = api(&chute, path);
        assert_eq!(status, 400, "{path}: {v}");
        let msg = v["error"].as_str().unwrap();
        assert!(msg.starts_with(&format!("parameter {param}:")), "{path}: {msg}");
    }
}

/// Strings that would change the SQL if they were spliced into it.
const EVIL: [&str; 4] = ["x' OR '1'='1", "'; DROP TABLE otel_logs; --", "\\' OR 1=1 --", "{service:String}"];

#[test]
fn sql_injection_strings_through_every_filter_are_treated_as_plain_values() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    ingest(&chute, 0..1020, true);
    // A service whose name is one of them, so a filter on it must find exactly it.
    let base = otlp_http(&chute);
    let body = json!({ "resourceLogs": [{ "resource": { "attributes": [kv("service.name", sv(EVIL[0]))] },
        "scopeLogs": [{ "logRecords": [{ "timeUnixNano": T0.to_string(), "body": sv(EVIL[1]), "severityText": EVIL[2],
            "attributes": [kv(EVIL[3], sv(EVIL[0]))] }] }] }] });
    post_otlp(&base, "logs", &serde_json::to_vec(&body).unwrap());
    // And a gauge named by each, with one point attribute of two values: the metric listing
    // looks their attribute counts up by name.
    let gauges: Vec<Value> = EVIL
        .iter()
        .map(|name| {
            let points: Vec<Value> = ["a", "b"]
                .iter()
                .map(|v| json!({ "timeUnixNano": T0.to_string(), "asDouble": 1.0, "attributes": [kv("k", sv(v))] }))
                .collect();
            json!({ "name": name, "gauge": { "dataPoints": points } })
        })
        .collect();
    let body = json!({ "resourceMetrics": [{ "resource": resource("evil-metrics"),
        "scopeMetrics": [{ "scope": { "name": "gen" }, "metrics": gauges }] }] });
    post_otlp(&base, "metrics", &serde_json::to_vec(&body).unwrap());
    wait_delivered(&chute.url);

    let text_filters: [(&str, &[&str]); 8] = [
        ("/api/v1/services", &["service"]),
        ("/api/v1/metrics", &["service", "name"]),
        ("/api/v1/spans", &["service", "name"]),
        ("/api/v1/logs", &["service", "severity", "text"]),
        ("/api/v1/logs/patterns", &["service", "severity"]),
        ("/api/v1/attributes", &["service"]),
        ("/api/v1/cardinality/high", &["service"]),
        ("/api/v1/stats/tables", &["table"]),
    ];
    for (path, params) in text_filters {
        for p in params {
            for evil in EVIL {
                let (status, v) = api(&chute, &format!("{path}?{p}={}", enc(evil)));
                assert_eq!(status, 200, "{path}?{p}={evil}: {v}");
                let n = items(&v).len();
                // Only the values that exist match, and only themselves.
                let expected = match (path, *p, evil) {
                    ("/api/v1/services" | "/api/v1/logs" | "/api/v1/logs/patterns", "service", e) if e == EVIL[0] => 1,
                    // service.name (resource) and the key named like a parameter (item).
                    ("/api/v1/attributes", "service", e) if e == EVIL[0] => 2,
                    ("/api/v1/logs" | "/api/v1/logs/patterns", "severity", e) if e == EVIL[2] => 1,
                    ("/api/v1/logs", "text", e) if e == EVIL[1] => 1,
                    ("/api/v1/metrics", "name", _) => 1,
                    _ => 0,
                };
                assert_eq!(n, expected, "{path}?{p}={evil}: {v}");
                if (path, *p) == ("/api/v1/metrics", "name") {
                    let m = &items(&v)[0];
                    assert_eq!(m["name"], *evil, "{v}");
                    assert_eq!((&m["attribute_count"], &m["max_cardinality"]), (&json!(1), &json!(2)), "{v}");
                }
            }
        }
    }
    // Path parameters and validated parameters.
    for evil in EVIL {
        let (status, one) = api(&chute, &format!("/api/v1/metrics/{}", enc(evil)));
        assert_eq!(status, 200, "{evil}: {one}");
        assert_eq!((&one["name"], &one["types"][0]["attribute_count"]), (&json!(evil), &json!(1)), "{one}");
        assert_eq!(api(&chute, &format!("/api/v1/metrics/{}", enc(&format!("{evil}x")))).0, 404, "{evil}");
        assert_eq!(api(&chute, &format!("/api/v1/traces/{}", enc(evil))).0, 400, "{evil}");
        for p in ["signal", "scope", "min_cardinality"] {
            assert_eq!(api(&chute, &format!("/api/v1/attributes?{p}={}", enc(evil))).0, 400, "{p}={evil}");
        }
        for p in ["status", "from", "to", "trace_id", "min_duration_ms"] {
            assert_eq!(api(&chute, &format!("/api/v1/spans?{p}={}", enc(evil))).0, 400, "{p}={evil}");
        }
    }
    let key = ok(&chute, &format!("/api/v1/attributes/{}", enc(EVIL[3])));
    assert_eq!(key["items"][0]["samples"], json!([EVIL[0]]));
    assert_eq!(key["items"][0]["service"], EVIL[0]);
    // Nothing was dropped or changed.
    let t = items(&ok(&chute, "/api/v1/stats/tables?table=otel_logs")).clone();
    assert_eq!(t[0]["rows"], 1021);
}

/// Checks `v` against `schema` (resolving `$ref`s in `doc`): an object has exactly the
/// properties the schema lists (unless it allows any); arrays check every element.
fn check_schema(doc: &Value, schema: &Value, v: &Value, at: &str, problems: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(|r| r.as_str()) {
        let name = r.trim_start_matches("#/components/schemas/");
        return check_schema(doc, &doc["components"]["schemas"][name], v, at, problems);
    }
    if let Some(all) = schema.get("allOf").and_then(|a| a.as_array()) {
        // Merge the properties of every part.
        let mut props = serde_json::Map::new();
        for part in all {
            let part = match part.get("$ref").and_then(|r| r.as_str()) {
                Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
                None => part,
            };
            if let Some(p) = part["properties"].as_object() {
                props.extend(p.clone());
            }
        }
        let merged = json!({ "type": "object", "properties": props, "additionalProperties": false });
        return check_schema(doc, &merged, v, at, problems);
    }
    if v.is_null() {
        if schema["nullable"] != true {
            problems.push(format!("{at}: null, not nullable"));
        }
        return;
    }
    match schema["type"].as_str() {
        Some("object") => {
            let Some(o) = v.as_object() else { return problems.push(format!("{at}: not an object: {v}")) };
            if let Some(props) = schema["properties"].as_object() {
                if schema["additionalProperties"] == false {
                    for k in o.keys() {
                        if !props.contains_key(k) {
                            problems.push(format!("{at}: undocumented property {k}"));
                        }
                    }
                }
                for (k, s) in props {
                    match o.get(k) {
                        Some(x) => check_schema(doc, s, x, &format!("{at}.{k}"), problems),
                        None if k == "children" => {}
                        None => problems.push(format!("{at}: documented property {k} missing")),
                    }
                }
            }
        }
        Some("array") => match v.as_array() {
            Some(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| check_schema(doc, &schema["items"], x, &format!("{at}[{i}]"), problems)),
            None => problems.push(format!("{at}: not an array")),
        },
        Some("string") if !v.is_string() => problems.push(format!("{at}: not a string: {v}")),
        Some("integer") if !(v.is_u64() || v.is_i64()) => problems.push(format!("{at}: not an integer: {v}")),
        Some("number") if !v.is_number() => problems.push(format!("{at}: not a number: {v}")),
        _ => {}
    }
}

#[test]
fn the_openapi_document_describes_every_real_response() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    ingest(&chute, 0..1020, true);
    let doc = ok(&chute, "/api/v1/openapi.json");
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, item) in paths {
        let real = path
            .replace("{name}", "http.server.requests")
            .replace("{trace_id}", &trace_id(3))
            .replace("{key}", "user.id");
        let op = &item["get"];
        let (status, v) = api(&chute, &real);
        assert_eq!(status, 200, "{real}: {v}");
        check_schema(&doc, &op["responses"]["200"]["content"]["application/json"]["schema"], &v, &real, &mut problems);
        // A bad value of each documented enum or integer parameter is a documented 400.
        for p in op["parameters"].as_array().unwrap() {
            let name = p["name"].as_str().unwrap();
            if p["in"] == "query" && (p["schema"].get("enum").is_some() || p["schema"]["type"] == "integer") {
                let (status, v) = api(&chute, &format!("{real}?{name}=not-valid"));
                assert_eq!(status, 400, "{real}?{name}: {v}");
                check_schema(
                    &doc,
                    &op["responses"]["400"]["content"]["application/json"]["schema"],
                    &v,
                    &real,
                    &mut problems,
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 12);
    // Every response property named in the document appears in a real response, and the other
    // way round.
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_sdk_fixture_logs_give_the_golden_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let base = otlp_http(&chute);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    for r in captured(&fixtures().join("otel-python-sdk/http")) {
        assert_eq!(rt.block_on(replay(&client, &base, &r)).status(), 200, "{}", r.path);
    }
    wait_delivered(&chute.url);
    let v = ok(&chute, "/api/v1/logs/patterns");
    let got: Vec<Value> = items(&v)
        .iter()
        .map(|p| {
            json!({ "template": p["template"], "template_id": p["template_id"], "count": p["count"],
            "services": p["services"], "severities": p["severities"] })
        })
        .collect();
    let got = serde_json::to_string_pretty(&got).unwrap() + "\n";
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/explorer_sdk_patterns.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(got, want, "log patterns of the SDK fixture changed (UPDATE_GOLDEN=1 rewrites the golden file)");
    // The fixture's 40 log records are all counted.
    let total: u64 = items(&v).iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 40);
}

#[test]
fn with_the_catalog_off_telemetry_lands_but_is_not_catalogued() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["otlp.catalog=false"]);
    ingest(&chute, 0..510, true);
    // The rows are there (the services view is the engine's, not the catalog's) ...
    let logs = all_pages(&chute, "/api/v1/logs", 1000);
    assert_eq!(logs.len(), 510);
    let services = items(&ok(&chute, "/api/v1/services")).clone();
    assert_eq!(services.len(), 2, "{services:?}");
    // ... and nothing was computed for the attribute catalog and the log patterns.
    assert!(items(&ok(&chute, "/api/v1/attributes")).is_empty());
    assert!(items(&ok(&chute, "/api/v1/logs/patterns")).is_empty());
}
