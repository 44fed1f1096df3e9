//! OpenTelemetry over the real protocols: the real OpenTelemetry Python SDK against a running
//! chute over OTLP/HTTP and OTLP/gRPC, replays of captured SDK and k6 payloads, and the answers
//! the OTLP specification asks for on bad input and backpressure.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

/// (OTLP/gRPC host:port, OTLP/HTTP base URL) from chute's banner.
fn otlp_addrs(chute: &Chute) -> (String, String) {
    let line = chute.banner.iter().find(|l| l.starts_with("OTLP/gRPC on ")).expect("banner names the OTLP listeners");
    let grpc = line.trim_start_matches("OTLP/gRPC on ").split(',').next().unwrap().trim().to_string();
    let http = line.split("OTLP/HTTP on ").nth(1).unwrap().trim().to_string();
    (grpc, http)
}

fn wait_delivered(url: &str) {
    wait_for("the spool to empty", Duration::from_secs(60), || {
        let (_, b) = ureq_get(&format!("{url}/health/ready")).ok()?;
        let h: serde_json::Value = serde_json::from_str(&b).ok()?;
        (h["spool"]["bytes"].as_u64() == Some(0)).then_some(())
    });
}

fn stop_and_open(chute: Chute) -> OpenStore {
    let dir = chute.dir.clone();
    wait_delivered(&chute.url);
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success());
    open_store(&dir)
}

fn post(url: &str, content_type: &str, extra: &[(&str, &str)], body: &[u8]) -> Response {
    let mut h = vec![("Content-Type", content_type)];
    h.extend_from_slice(extra);
    http_post(url, &h, body).unwrap()
}

#[test]
fn the_opentelemetry_python_sdk_lands_every_span_log_and_metric_over_http_and_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let (grpc, http) = otlp_addrs(&chute);
    let app = fixtures().join("otel-python-sdk/app.py");
    for (mode, endpoint, service) in [("http", http.as_str(), "checkout"), ("grpc", grpc.as_str(), "payments")] {
        let out = Command::new(venv_python()).arg(&app).args([mode, endpoint, service]).output().unwrap();
        assert!(out.status.success(), "{mode}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("sent"));
    }
    let store = stop_and_open(chute);
    for service in ["checkout", "payments"] {
        let q = |sql: &str| scalar(&store, &sql.replace("$S", service));
        assert_eq!(q("SELECT count() FROM otel_traces WHERE ServiceName = '$S'"), 80, "{service} spans");
        assert_eq!(q("SELECT count() FROM otel_traces WHERE ServiceName = '$S' AND SpanName = 'db.query'"), 40);
        assert_eq!(
            q("SELECT count() FROM otel_traces AS c JOIN otel_traces AS p ON c.ParentSpanId = p.SpanId \
               WHERE c.ServiceName = '$S' AND p.ServiceName = '$S' AND c.SpanName = 'db.query'"),
            40,
            "every db.query span has its server span as parent"
        );
        assert!(q("SELECT count() FROM otel_traces WHERE ServiceName = '$S' AND StatusCode = 'Error'") > 0);
        assert_eq!(
            q(
                "SELECT countIf(has(`Events.Name`, 'exception')) FROM otel_traces WHERE ServiceName = '$S' AND StatusCode = 'Error'"
            ),
            q("SELECT count() FROM otel_traces WHERE ServiceName = '$S' AND StatusCode = 'Error'"),
            "error spans carry their exception event"
        );
        assert_eq!(q("SELECT count() FROM otel_logs WHERE ServiceName = '$S'"), 40, "{service} logs");
        assert!(q("SELECT count() FROM otel_logs WHERE ServiceName = '$S' AND SeverityText = 'ERROR'") > 0);
        assert!(
            q("SELECT count() FROM otel_metrics_sum WHERE ServiceName = '$S' AND MetricName = 'http.server.requests'")
                > 0
        );
        assert!(
            q(
                "SELECT count() FROM otel_metrics_histogram WHERE ServiceName = '$S' AND MetricName = 'http.server.duration'"
            ) > 0
        );
        assert!(
            q(
                "SELECT count() FROM otel_metrics_sum WHERE ServiceName = '$S' AND MetricName = 'http.server.active_requests' AND IsMonotonic = false"
            ) > 0,
            "the up-down counter is a non-monotonic sum"
        );
    }
    assert!(scalar(&store, "SELECT count() FROM otel_traces_trace_id_ts") > 0, "trace-id lookup filled");
}

#[test]
fn captured_sdk_and_k6_payloads_replayed_over_otlp_http_and_grpc_land_in_the_tables() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let (grpc, http) = otlp_addrs(&chute);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = reqwest::Client::new();
    for folder in ["otel-python-sdk/http", "k6/outputs-small/otlp-http"] {
        for r in captured(&fixtures().join(folder)).into_iter().filter(|r| !r.body.is_empty()) {
            let status = rt.block_on(replay(&client, &http, &r)).status();
            assert_eq!(status, 200, "{folder} {}", r.path);
        }
    }
    // gRPC: the captured messages, through a real gRPC client (grpcio) with raw bytes.
    let methods = [
        ("otel-python-sdk/grpc/grpc-001.bin", "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"),
        ("otel-python-sdk/grpc/grpc-002.bin", "/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
        ("otel-python-sdk/grpc/grpc-003.bin", "/opentelemetry.proto.collector.logs.v1.LogsService/Export"),
    ];
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/grpc_replay.py");
    for (file, method) in methods {
        let out =
            Command::new(venv_python()).arg(&script).args([&grpc, method]).arg(fixtures().join(file)).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("OK"), "{file}: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let k6_grpc: Vec<PathBuf> =
        (1..=5).map(|i| fixtures().join(format!("k6/outputs-small/otlp-grpc/grpc-{i:03}.bin"))).collect();
    let out = Command::new(venv_python())
        .arg(&script)
        .args([&grpc, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"])
        .args(&k6_grpc)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("OK")).count(), 5);

    let store = stop_and_open(chute);
    assert_eq!(scalar(&store, "SELECT count() FROM otel_traces"), 160, "80 spans over HTTP + 80 over gRPC");
    assert_eq!(scalar(&store, "SELECT count() FROM otel_logs"), 80);
    assert_eq!(scalar(&store, "SELECT uniqExact(ServiceName) FROM otel_logs"), 2);
    assert!(scalar(&store, "SELECT count() FROM otel_metrics_sum WHERE ServiceName = 'k6'") > 0, "k6's counters");
    assert!(scalar(&store, "SELECT count() FROM otel_metrics_histogram WHERE ServiceName = 'k6'") > 0, "k6's trends");
}

#[test]
fn bad_otlp_input_gets_the_status_the_specification_asks_for() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["limits.max_body_bytes=64KiB"]);
    let (_, http) = otlp_addrs(&chute);
    let logs = std::fs::read(fixtures().join("otel-python-sdk/http/body-003.bin")).unwrap();

    // Corrupt protobuf: 400 with a google.rpc.Status body in protobuf.
    let mut corrupt = logs.clone();
    corrupt.truncate(logs.len() / 2);
    corrupt.extend_from_slice(&[0xff; 7]);
    let (s, h, body) = post(&format!("{http}/v1/logs"), "application/x-protobuf", &[], &corrupt);
    assert_eq!(s, 400, "{body}");
    assert!(h.iter().any(|(k, v)| k == "content-type" && v == "application/x-protobuf"));
    assert!(body.contains("invalid protobuf"), "{body}");

    // Wrong content type: 415.
    let (s, _, body) = post(&format!("{http}/v1/logs"), "text/plain", &[], &logs);
    assert_eq!(s, 415, "{body}");

    // Bad gzip: 400.
    let (s, _, body) =
        post(&format!("{http}/v1/logs"), "application/x-protobuf", &[("Content-Encoding", "gzip")], &logs);
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("gzip"), "{body}");

    // Oversized: 413 naming the limit.
    let big = vec![b'x'; 100 * 1024];
    let (s, _, body) = post(&format!("{http}/v1/logs"), "application/x-protobuf", &[], &big);
    assert_eq!(s, 413, "{body}");

    // Invalid JSON: 400 with a JSON Status.
    let (s, h, body) = post(&format!("{http}/v1/traces"), "application/json", &[], b"{\"resourceSpans\": [");
    assert_eq!(s, 400);
    assert!(h.iter().any(|(k, v)| k == "content-type" && v == "application/json"));
    assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["message"].is_string(), "{body}");

    // A span with an invalid trace id is refused alone: 200 with partial_success.
    let spans = serde_json::json!({"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "json-svc"}}]},
      "scopeSpans": [{"spans": [
        {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174", "name": "good",
         "startTimeUnixNano": "1795433093000000000", "endTimeUnixNano": "1795433093500000000"},
        {"traceId": "not-hex", "spanId": "eee19b7ec3c1b175", "name": "bad",
         "startTimeUnixNano": "1795433093000000000", "endTimeUnixNano": "1795433093500000000"}]}]}]});
    let (s, _, body) = post(&format!("{http}/v1/traces"), "application/json", &[], spans.to_string().as_bytes());
    assert_eq!(s, 200, "{body}");
    let resp: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        resp["partialSuccess"]["rejectedSpans"]
            .as_str()
            .map(|s| s.parse::<u64>().unwrap())
            .or(resp["partialSuccess"]["rejectedSpans"].as_u64()),
        Some(1),
        "{body}"
    );
    assert!(resp["partialSuccess"]["errorMessage"].as_str().unwrap().contains("trace"), "{body}");

    let store = stop_and_open(chute);
    assert_eq!(scalar(&store, "SELECT count() FROM otel_traces"), 1, "only the good span");
    assert_eq!(scalar(&store, "SELECT count() FROM otel_logs"), 0, "nothing of the refused bodies");
}

#[test]
fn a_full_chute_answers_otlp_http_429_with_retry_after_and_grpc_resource_exhausted() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["debug.fault_injection=true", "spool.max_bytes=64KiB"]);
    let (grpc, http) = otlp_addrs(&chute);
    http_post(&format!("{}/debug/store-fault?mode=down", chute.url), &[], b"").unwrap();
    let logs = std::fs::read(fixtures().join("otel-python-sdk/http/body-003.bin")).unwrap();
    let (status, headers) = wait_for("a 429", Duration::from_secs(30), || {
        let (s, h, _) = post(&format!("{http}/v1/logs"), "application/x-protobuf", &[], &logs);
        (s == 429).then_some((s, h))
    });
    assert_eq!(status, 429);
    assert!(headers.iter().any(|(k, v)| k == "retry-after" && v.parse::<u64>().is_ok()), "{headers:?}");
    // While full, a body is refused before it is decoded: one that cannot be decoded gets the
    // same 429 (with room, a 400), and no decoding was spent on it.
    let before = metric(&chute.url, "chute_requests_refused_undecoded_total");
    let (s, h, _) = post(&format!("{http}/v1/logs"), "application/x-protobuf", &[], b"\xff\xff not protobuf");
    assert_eq!(s, 429, "{h:?}");
    assert!(h.iter().any(|(k, _)| k == "retry-after"), "{h:?}");
    assert!(metric(&chute.url, "chute_requests_refused_undecoded_total") > before);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/grpc_replay.py");
    let out = Command::new(venv_python())
        .arg(&script)
        .args([&grpc, "/opentelemetry.proto.collector.logs.v1.LogsService/Export"])
        .arg(fixtures().join("otel-python-sdk/grpc/grpc-003.bin"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RESOURCE_EXHAUSTED"), "{text}");
}
