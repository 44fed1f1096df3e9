//! Every captured request decoded (protobuf), checked against what the senders sent: row counts
//! per table, and values that show the exporter's mapping (service names, parent links, events,
//! status, severities, bodies, metric kinds, histogram buckets, k6's `.total` counters).

mod common;

use chute_otlp::{Encoding, Limits, Signal, decode};
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

/// The `summary` of request `n` (1-based) of a capture folder.
fn summary(folder: &str, n: usize) -> Value {
    let text = String::from_utf8(fixture(&format!("{folder}/requests.jsonl"))).unwrap();
    let line = text.lines().nth(n - 1).unwrap();
    serde_json::from_str::<Value>(line).unwrap()["summary"].clone()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn rows(d: &chute_otlp::Decoded, table: &str) -> usize {
    d.batch(table).map_or(0, |b| b.num_rows())
}

fn metric_names(d: &chute_otlp::Decoded) -> BTreeSet<String> {
    d.batches.iter().flat_map(|(_, b)| column(b, "MetricName")).map(|v| v.as_str().unwrap().to_string()).collect()
}

fn python_metrics(path: &str, service: &str) {
    let d = decode_pb(Signal::Metrics, path);
    assert_eq!((d.accepted, d.rejected), (15, 0));
    // http.server.active_requests (up-down counter: 3 routes) and http.server.requests (route x
    // status: 9 series) are sums; http.server.duration is a histogram per route.
    assert_eq!(rows(&d, "otel_metrics_sum"), 12);
    assert_eq!(rows(&d, "otel_metrics_histogram"), 3);
    assert_eq!(rows(&d, "otel_metrics_gauge"), 0);
    assert_eq!(d.batches.len(), 2, "no empty batches");
    let folder = path.rsplit_once('/').unwrap().0;
    let expected: BTreeSet<String> = strings(&summary(folder, 1)["metric_names"]).into_iter().collect();
    assert_eq!(metric_names(&d), expected);

    let sum = d.batch("otel_metrics_sum").unwrap();
    for i in 0..sum.num_rows() {
        assert_eq!(cell_str(sum, "ServiceName", i), service);
        assert_eq!(cell_str(sum, "ScopeName", i), "shop");
        assert_eq!(cell(sum, "ResourceAttributes", i)["service.name"], service);
        assert_eq!(cell(sum, "ResourceAttributes", i)["host.name"], "node-7");
        assert_eq!(cell(sum, "AggregationTemporality", i), 2, "cumulative");
        let monotonic = cell(sum, "IsMonotonic", i);
        match cell_str(sum, "MetricName", i).as_str() {
            "http.server.requests" => {
                assert_eq!(monotonic, true);
                assert_eq!(cell_str(sum, "MetricUnit", i), "1");
                // Integer attributes are text, as the exporter writes them.
                let status = cell(sum, "Attributes", i)["http.response.status_code"].clone();
                assert!(["200", "404", "500"].contains(&status.as_str().unwrap()), "{status}");
            }
            "http.server.active_requests" => assert_eq!(monotonic, false),
            other => panic!("unexpected sum {other}"),
        }
    }
    // Requests counted per series add up to the 40 requests the app made.
    let total: f64 = (0..sum.num_rows())
        .filter(|i| cell_str(sum, "MetricName", *i) == "http.server.requests")
        .map(|i| cell(sum, "Value", i).as_f64().unwrap())
        .sum();
    assert_eq!(total, 40.0);

    let h = d.batch("otel_metrics_histogram").unwrap();
    let counts: u64 = column(h, "Count").iter().map(|c| c.as_u64().unwrap()).sum();
    assert_eq!(counts, 40, "one duration per request");
    for i in 0..h.num_rows() {
        assert_eq!(cell_str(h, "MetricName", i), "http.server.duration");
        assert_eq!(cell_str(h, "MetricUnit", i), "ms");
        assert_eq!(
            cell(h, "ExplicitBounds", i),
            json!([
                0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0, 10000.0
            ])
        );
        let buckets: Vec<u64> =
            cell(h, "BucketCounts", i).as_array().unwrap().iter().map(|b| b.as_u64().unwrap()).collect();
        assert_eq!(buckets.len(), 16);
        assert_eq!(buckets.iter().sum::<u64>(), cell(h, "Count", i).as_u64().unwrap());
        let (min, max) = (cell(h, "Min", i).as_f64().unwrap(), cell(h, "Max", i).as_f64().unwrap());
        assert!(0.0 <= min && min <= max && max <= 120.0, "{min} {max}");
        // Exemplars carry the span that recorded them, in hex like the spans' own ids.
        let ex_trace = cell(h, "Exemplars.TraceId", i);
        let ex_trace = ex_trace.as_array().unwrap();
        assert!(!ex_trace.is_empty());
        assert_eq!(cell(h, "Exemplars.SpanId", i).as_array().unwrap().len(), ex_trace.len());
        assert_eq!(cell(h, "Exemplars.Value", i).as_array().unwrap().len(), ex_trace.len());
        assert_eq!(cell(h, "Exemplars.TimeUnix", i).as_array().unwrap().len(), ex_trace.len());
        assert!(ex_trace.iter().all(|t| t.as_str().unwrap().len() == 32));
        assert_eq!(cell(h, "AggregationTemporality", i), 2);
    }
    let checkout = (0..h.num_rows()).find(|i| cell(h, "Attributes", *i)["http.route"] == "/checkout").unwrap();
    if service == "checkout" {
        assert_eq!(cell(h, "Count", checkout), 14);
        assert_eq!(cell(h, "BucketCounts", checkout), json!([0, 0, 0, 2, 4, 1, 4, 3, 0, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(cell(h, "Sum", checkout), 868.3975299939304);
        assert_eq!(cell(h, "Min", checkout), 10.087352036444184);
        assert_eq!(cell(h, "Max", checkout), 104.73667184125622);
        // DateTime columns: the second of the point (the exporter's tables keep seconds).
        assert_eq!(cell_str(h, "TimeUnix", checkout), "2026-11-23T11:31:38Z");
    }
}

#[test]
fn python_sdk_metrics_over_http_and_grpc() {
    python_metrics("otel-python-sdk/http/body-001.bin", "checkout");
    python_metrics("otel-python-sdk/grpc/grpc-001.bin", "payments");
}

fn python_traces(path: &str, service: &str) {
    let d = decode_pb(Signal::Traces, path);
    assert_eq!((d.accepted, d.rejected, d.rejection_message.as_deref()), (80, 0, None));
    let b = d.batch("otel_traces").unwrap();
    assert_eq!(b.num_rows(), 80);
    let folder = path.rsplit_once('/').unwrap().0;
    let names: Vec<String> = column(b, "SpanName").iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(names, strings(&summary(folder, 2)["span_names"]), "every span, in order");

    let kinds = column(b, "SpanKind");
    assert_eq!(kinds.iter().filter(|k| *k == "Server").count(), 40);
    assert_eq!(kinds.iter().filter(|k| *k == "Client").count(), 40);
    assert!(column(b, "ServiceName").iter().all(|s| s == service));
    assert!(column(b, "ScopeName").iter().all(|s| s == "shop"));

    // Every db.query is the child of the request span of its trace.
    let mut server_by_trace: HashMap<String, (String, usize)> = HashMap::new();
    for i in 0..b.num_rows() {
        assert_eq!(cell_str(b, "TraceId", i).len(), 32);
        assert_eq!(cell_str(b, "SpanId", i).len(), 16);
        if cell(b, "SpanKind", i) == "Server" {
            assert_eq!(cell_str(b, "ParentSpanId", i), "", "request spans are roots");
            server_by_trace.insert(cell_str(b, "TraceId", i), (cell_str(b, "SpanId", i), i));
        }
    }
    assert_eq!(server_by_trace.len(), 40, "40 traces");
    for i in (0..b.num_rows()).filter(|i| cell(b, "SpanName", *i) == "db.query") {
        let (parent, server) = &server_by_trace[&cell_str(b, "TraceId", i)];
        assert_eq!(&cell_str(b, "ParentSpanId", i), parent);
        assert_eq!(cell(b, "SpanAttributes", i)["db.system"], "postgresql");
        // The child runs inside its parent.
        let (start, pstart) = (cell_str(b, "Timestamp", i), cell_str(b, "Timestamp", *server));
        assert!(start >= pstart, "{start} < {pstart}");
    }

    // Errors: status Error with the message, and the exception event with its attributes.
    let errors: Vec<usize> = (0..b.num_rows()).filter(|i| cell(b, "StatusCode", *i) == "Error").collect();
    assert_eq!(errors.len(), 6);
    for &i in &errors {
        assert_eq!(cell(b, "SpanKind", i), "Server");
        assert_eq!(cell_str(b, "StatusMessage", i), "timeout");
        assert_eq!(cell(b, "SpanAttributes", i)["http.response.status_code"], "500");
        assert_eq!(cell(b, "Events.Name", i), json!(["exception"]));
        let attrs = &cell(b, "Events.Attributes", i)[0];
        assert_eq!(attrs["exception.type"], "TimeoutError");
        assert!(attrs["exception.message"].as_str().unwrap().starts_with("upstream timed out after "));
        assert_eq!(cell(b, "Events.Timestamp", i).as_array().unwrap().len(), 1);
    }
    let others = (0..b.num_rows()).filter(|i| cell(b, "StatusCode", *i) == "Unset").count();
    assert_eq!(others, 74);
    assert!(column(b, "Links.TraceId").iter().all(|l| l == &json!([])));

    if service == "checkout" {
        // The first span of the capture: db.query, 22.453 µs.
        assert_eq!(cell_str(b, "TraceId", 0), "d23f0824128b2f330c5c7fd0a6a3a450");
        assert_eq!(cell_str(b, "ParentSpanId", 0), "1818e811892f902b");
        assert_eq!(cell(b, "Duration", 0), 1_795_433_498_794_348_158u64 - 1_795_433_498_794_325_705);
        assert_eq!(cell_str(b, "Timestamp", 0), "2026-11-23T11:31:38.794325705Z");
        assert_eq!(cell(b, "SpanAttributes", 0)["db.statement"], "SELECT * FROM items WHERE id = 375");
    }
}

#[test]
fn python_sdk_traces_over_http_and_grpc() {
    python_traces("otel-python-sdk/http/body-002.bin", "checkout");
    python_traces("otel-python-sdk/grpc/grpc-002.bin", "payments");
}

fn python_logs(path: &str, service: &str) {
    let d = decode_pb(Signal::Logs, path);
    assert_eq!((d.accepted, d.rejected), (40, 0));
    let b = d.batch("otel_logs").unwrap();
    assert_eq!(b.num_rows(), 40);
    let folder = path.rsplit_once('/').unwrap().0;
    let bodies: Vec<String> = column(b, "Body").iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert_eq!(bodies, strings(&summary(folder, 3)["log_bodies"]), "every body, in order");

    let mut errors = 0;
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(cell_str(b, "ServiceName", i), service);
        assert_eq!(cell(b, "ResourceAttributes", i)["deployment.environment"], "staging");
        assert_eq!(cell_str(b, "ScopeName", i), service, "the Python logger's name");
        let route = cell(b, "LogAttributes", i)["http.route"].clone();
        assert!(["/cart", "/checkout", "/items/{id}"].contains(&route.as_str().unwrap()));
        assert!(body.contains(route.as_str().unwrap()));
        // Logs are written inside the request span: they carry its ids.
        assert_eq!(cell_str(b, "TraceId", i).len(), 32);
        assert_eq!(cell_str(b, "SpanId", i).len(), 16);
        // TimestampTime is what its DEFAULT would compute: the second of Timestamp.
        let ts = cell_str(b, "Timestamp", i);
        let tt = cell_str(b, "TimestampTime", i);
        assert_eq!(&ts[..19], &tt[..19], "{ts} vs {tt}");
        match cell_str(b, "SeverityText", i).as_str() {
            "INFO" => {
                assert_eq!(cell(b, "SeverityNumber", i), 9);
                assert!(bodies[i].starts_with("served "));
            }
            "ERROR" => {
                errors += 1;
                assert_eq!(cell(b, "SeverityNumber", i), 17);
                assert!(bodies[i].starts_with("request to "));
            }
            other => panic!("severity {other}"),
        }
    }
    assert_eq!(errors, 6, "one error log per failed request");

    if service == "checkout" {
        assert_eq!(cell_str(b, "Body", 0), "served /checkout for user-3 in 65 ms");
        // The same trace as the first span of the traces capture.
        assert_eq!(cell_str(b, "TraceId", 0), "d23f0824128b2f330c5c7fd0a6a3a450");
        assert_eq!(cell_str(b, "SpanId", 0), "1818e811892f902b");
        assert_eq!(cell_str(b, "Timestamp", 0), "2026-11-23T11:31:38.794401792Z");
        assert_eq!(cell_str(b, "TimestampTime", 0), "2026-11-23T11:31:38Z");
        assert_eq!(cell(b, "TraceFlags", 0), 3);
    }
}

#[test]
fn python_sdk_logs_over_http_and_grpc() {
    python_logs("otel-python-sdk/http/body-003.bin", "checkout");
    python_logs("otel-python-sdk/grpc/grpc-003.bin", "payments");
}

fn k6_metrics(folder: &str, paths: &[&str], prefix: &str) {
    for (n, path) in paths.iter().enumerate() {
        let d = decode_pb(Signal::Metrics, path);
        assert_eq!(d.rejected, 0);
        let expected: BTreeSet<String> = strings(&summary(folder, n + 1)["metric_names"]).into_iter().collect();
        assert_eq!(metric_names(&d), expected, "{path}");
        assert_eq!(d.accepted as usize, d.rows(), "one row per data point");
        for (table, b) in &d.batches {
            for i in 0..b.num_rows() {
                assert_eq!(cell_str(b, "ServiceName", i), "k6", "{table}");
                assert_eq!(cell_str(b, "ScopeName", i), "k6");
            }
        }
        let sum = d.batch("otel_metrics_sum").unwrap();
        let find = |name: &str| (0..sum.num_rows()).find(|i| cell_str(sum, "MetricName", *i) == name);
        // k6's rates become monotonic `.total` counters, one series per condition.
        let failed = find(&format!("{prefix}http_req_failed.total")).expect("http_req_failed.total");
        assert_eq!(cell(sum, "Attributes", failed)["condition"], "zero");
        assert_eq!(cell(sum, "IsMonotonic", failed), true);
        assert_eq!(cell(sum, "AggregationTemporality", failed), 2);
        let ok = find(&format!("{prefix}gw_ok_rate.total")).expect("gw_ok_rate.total");
        assert_eq!(cell(sum, "Attributes", ok)["condition"], "nonzero");
        let reqs = find(&format!("{prefix}http_reqs")).unwrap();
        assert_eq!(cell(sum, "Attributes", reqs)["method"], "GET");
        assert_eq!(cell(sum, "Attributes", reqs)["status"], "200");
        assert_eq!(cell_str(sum, "MetricUnit", find(&format!("{prefix}data_sent")).unwrap()), "By");

        let gauge = d.batch("otel_metrics_gauge").unwrap();
        let depth =
            (0..gauge.num_rows()).find(|i| cell_str(gauge, "MetricName", *i) == format!("{prefix}gw_queue_depth"));
        assert!(depth.is_some());

        let h = d.batch("otel_metrics_histogram").unwrap();
        let dur =
            (0..h.num_rows()).find(|i| cell_str(h, "MetricName", *i) == format!("{prefix}http_req_duration")).unwrap();
        assert_eq!(cell_str(h, "MetricUnit", dur), "ms");
        assert_eq!(cell(h, "ExplicitBounds", dur).as_array().unwrap().len(), 15);
        let buckets = cell(h, "BucketCounts", dur);
        let total: u64 = buckets.as_array().unwrap().iter().map(|b| b.as_u64().unwrap()).sum();
        assert_eq!(total, cell(h, "Count", dur).as_u64().unwrap());
    }
}

#[test]
fn k6_opentelemetry_output_over_http() {
    k6_metrics("k6/outputs-small/otlp-http", &K6_HTTP, "");
    let d = decode_pb(Signal::Metrics, K6_HTTP[0]);
    // The first request: 17 metrics, each one series.
    assert_eq!(rows(&d, "otel_metrics_sum"), 7);
    assert_eq!(rows(&d, "otel_metrics_gauge"), 1);
    assert_eq!(rows(&d, "otel_metrics_histogram"), 9);
    let h = d.batch("otel_metrics_histogram").unwrap();
    let dur = (0..h.num_rows()).find(|i| cell_str(h, "MetricName", *i) == "http_req_duration").unwrap();
    assert_eq!(cell(h, "BucketCounts", dur), json!([0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    assert_eq!(cell(h, "Min", dur), 1.529683);
    assert_eq!(cell(h, "Max", dur), 3.614007);
}

#[test]
fn k6_opentelemetry_output_over_grpc() {
    k6_metrics("k6/outputs-small/otlp-grpc", &K6_GRPC, "k6_");
}

#[test]
fn every_fixture_decodes_without_rejections_and_batches_match_their_schemas() {
    for (path, signal) in all_fixtures() {
        let d = decode_pb(signal, path);
        assert!(d.accepted > 0 && d.rejected == 0, "{path}");
        assert_eq!((d.truncated_attributes, d.dropped_attributes), (0, 0));
        for (table, batch) in &d.batches {
            let def = chute_tables::by_name(table).unwrap();
            assert_eq!(batch.schema(), (def.schema)(), "{table}");
            assert!(signal.tables().contains(table));
        }
    }
    // The same bytes decode to the same batches every time (a retry rebuilds the same insert).
    let body = fixture("otel-python-sdk/http/body-002.bin");
    let a = decode(Signal::Traces, Encoding::Protobuf, &body, &Limits::default()).unwrap();
    let b = decode(Signal::Traces, Encoding::Protobuf, &body, &Limits::default()).unwrap();
    assert_eq!(a.batches, b.batches);
}
