//! k6's aggregated outputs as k6 runs: the captured opentelemetry (OTLP/HTTP) and
//! experimental-prometheus-rw pushes of `fixtures/k6/outputs-small/script.js` replayed to a
//! running chute appear in the run list and the summary API, with exact counts and rates and
//! approximate percentiles marked as such.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

fn otlp_http(chute: &Chute) -> String {
    let line = chute.banner.iter().find(|l| l.starts_with("OTLP/gRPC on ")).expect("banner names the OTLP listeners");
    line.split("OTLP/HTTP on ").nth(1).unwrap().trim().to_string()
}

fn get_json(url: &str) -> Value {
    let (status, body) = ureq_get(url).unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn metric<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no metric {name} in {summary}"))
}

fn value(m: &Value, stat: &str) -> f64 {
    m["values"][stat].as_f64().unwrap_or_else(|| panic!("no {stat} in {m}"))
}

#[test]
fn k6_opentelemetry_and_prometheus_rw_outputs_appear_as_k6_runs_with_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let http = otlp_http(&chute);
    for c in captured(&fixtures().join("k6/outputs-small/otlp-http")).iter().filter(|c| !c.body.is_empty()) {
        let (s, _, body) =
            http_post(&format!("{http}/v1/metrics"), &[("Content-Type", "application/x-protobuf")], &c.body).unwrap();
        assert_eq!(s, 200, "{body}");
    }
    for c in captured(&fixtures().join("k6/outputs-small/prw")).iter().filter(|c| !c.body.is_empty()) {
        let (s, _, body) = http_post(
            &format!("{}/api/v1/write", chute.url),
            &[("Content-Encoding", "snappy"), ("Content-Type", "application/x-protobuf")],
            &c.body,
        )
        .unwrap();
        assert_eq!(s, 204, "{body}");
    }
    // Wait (bounded) until everything is stored: delivery to the store is asynchronous, and a
    // run's counters, trends and gauges are in three tables delivered one by one.
    wait_for("every accepted row stored", Duration::from_secs(60), || {
        all_accepted_rows_stored(&chute.url).then_some(())
    });
    let runs = wait_for("both output runs", Duration::from_secs(60), || {
        let runs = get_json(&format!("{}/api/v1/k6/runs", chute.url));
        let list = runs["runs"].as_array()?.clone();
        let has = |s: &str| list.iter().any(|r| r["sources"][0] == s);
        (has("otlp") && has("prometheus-rw")).then_some(list)
    });
    let otlp = runs.iter().find(|r| r["sources"][0] == "otlp").unwrap();
    let prw = runs.iter().find(|r| r["sources"][0] == "prometheus-rw").unwrap();
    let otlp_id = otlp["run_id"].as_str().unwrap();
    let prw_id = prw["run_id"].as_str().unwrap();
    assert!(otlp_id.starts_with("k6-otlp-"), "{otlp_id}");
    assert!(prw_id.starts_with("k6-prw-"), "{prw_id}");
    // The prometheus-rw run started first, so it is listed after (newest first).
    assert!(runs.iter().position(|r| r == otlp) < runs.iter().position(|r| r == prw));
    let one = get_json(&format!("{}/api/v1/k6/runs/{otlp_id}", chute.url));
    assert_eq!(one["sources"][0], "otlp");

    // opentelemetry: counters and rates exact, trends' percentiles from buckets (approximate).
    let s = get_json(&format!("{}/api/v1/k6/runs/{otlp_id}/summary", chute.url));
    let iterations = value(metric(&s, "iterations"), "count");
    let requests = value(metric(&s, "http_reqs"), "count");
    assert!(iterations >= 10.0, "two VUs for 5 s at 2 iterations/s: {iterations}");
    // Each iteration makes one request first: at a push, each VU may be one request ahead.
    assert!(requests >= iterations && requests <= iterations + 2.0, "{requests} requests, {iterations} iterations");
    let ok = metric(&s, "gw_ok_rate");
    assert_eq!(ok["type"], "rate");
    assert_eq!((value(ok, "rate"), value(ok, "fails")), (1.0, 0.0));
    assert_eq!(value(ok, "passes").fract(), 0.0);
    // A request's samples (http_reqs, http_req_failed, http_req_duration) are pushed together.
    let failed = metric(&s, "http_req_failed");
    assert_eq!((value(failed, "rate"), value(failed, "passes"), value(failed, "fails")), (0.0, 0.0, requests));
    let duration = metric(&s, "http_req_duration");
    assert_eq!(duration["type"], "trend");
    assert_eq!(value(duration, "count"), requests);
    assert!(value(duration, "min") <= value(duration, "p(95)") && value(duration, "p(95)") <= value(duration, "max"));
    let approx: Vec<&str> = duration["approximate"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(approx.contains(&"p(95)") && !approx.contains(&"count") && !approx.contains(&"avg"), "{approx:?}");
    assert_eq!(metric(&s, "gw_queue_depth")["type"], "gauge");

    // prometheus-rw: the newest cumulative counter values, k6's own trend stats and rates.
    let s = get_json(&format!("{}/api/v1/k6/runs/{prw_id}/summary", chute.url));
    assert_eq!(value(metric(&s, "iterations"), "count"), 18.0, "k6_iterations_total of the last kept push");
    assert_eq!(value(metric(&s, "gw_ok_rate"), "rate"), 1.0);
    assert_eq!(value(metric(&s, "http_req_failed"), "rate"), 0.0);
    let p99 = value(metric(&s, "gw_latency_ms"), "p(99)");
    assert!(p99 > 0.0 && p99 < 0.05, "k6 sends time stats in seconds: {p99}");
    let (status, text) = ureq_get(&format!("{}/api/v1/k6/runs/{prw_id}/summary?format=text", chute.url)).unwrap();
    assert_eq!(status, 200);
    assert!(text.contains("iterations (counter): count=18"), "{text}");

    // `chute k6 runs` and `chute k6 summary` without a running chute read the store
    // themselves and answer as the server does.
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success());
    let (code, out, err) = run(dir.path(), &["k6", "runs"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(otlp_id) && out.contains(prw_id), "{out}");
    let (code, out, err) = run(dir.path(), &["k6", "summary", prw_id]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, text, "the same text as the server's");
    let (code, out, err) = run(dir.path(), &["k6", "summary", otlp_id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let local: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value(metric(&local, "http_reqs"), "count"), requests);
}
