//! `chute loadgen` and `chute bench` through the real binary against a real chute (embedded
//! engine): what the generator reports as acknowledged is what lands, the open model counts
//! every intended request and measures from the schedule, thresholds set the exit code, and
//! the engine benchmark runs. No timing is asserted as a performance figure. NATS: a real
//! `nats-server -js` (tests/common/nats.rs) and a chute consuming its stream.

mod common;
#[path = "common/nats.rs"]
mod nats_server;

use common::*;
use nats_server::NatsServer;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// Runs `chute loadgen ARGS --json`; returns (exit code, report).
fn loadgen(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = vec!["loadgen"];
    all.extend_from_slice(args);
    all.push("--json");
    let (code, out, err) = run(dir, &all);
    let report = serde_json::from_str(&out).unwrap_or_else(|e| panic!("loadgen JSON ({e}): {out}\nstderr: {err}"));
    (code, report)
}

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn run_samples(url: &str, run: &str) -> u64 {
    ureq_get(&format!("{url}/api/v1/k6/runs/{run}"))
        .ok()
        .filter(|(s, _)| *s == 200)
        .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|v| v["samples"].as_u64())
        .unwrap_or(0)
}

/// Samples of the runs `<prefix>-NNNNNNNN` (k6-json: one run per request; markers excluded).
fn prefixed_samples(url: &str, prefix: &str) -> (u64, usize) {
    let Ok((200, body)) = ureq_get(&format!("{url}/api/v1/k6/runs?limit=1000")) else { return (0, 0) };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut samples = 0;
    let mut runs = 0;
    for r in v["runs"].as_array().unwrap() {
        let id = r["run_id"].as_str().unwrap();
        if let Some(rest) = id.strip_prefix(&format!("{prefix}-"))
            && rest.len() == 8
            && rest.bytes().all(|b| b.is_ascii_digit())
        {
            samples += r["samples"].as_u64().unwrap();
            runs += 1;
        }
    }
    (samples, runs)
}

fn spool_empty(url: &str) -> bool {
    ureq_get(&format!("{url}/health/ready"))
        .ok()
        .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
        .is_some_and(|h| h["spool"]["bytes"].as_u64() == Some(0))
}

fn assert_clean_closed_run(report: &serde_json::Value, rows_per_request: u64) -> u64 {
    let req = &report["requests"];
    let rows = &report["rows"];
    assert_eq!(u(&req["errors"]), 0, "{report}");
    assert_eq!(u(&req["rejected"]), 0, "{report}");
    assert!(u(&req["acked"]) > 0, "{report}");
    assert_eq!(u(&req["acked"]), u(&req["sent"]), "every request answered: {report}");
    assert_eq!(u(&rows["acked"]), u(&req["acked"]) * rows_per_request);
    assert_eq!(report["model"], "closed");
    assert!(report["ack_latency"]["p99_ms"].as_f64().unwrap() > 0.0);
    // Markers: one row each, under their own run ids, polled until queryable.
    let vis = &report["visibility"];
    assert!(u(&vis["markers"]) >= 1, "{vis}");
    assert_eq!(u(&vis["visible"]), u(&vis["acked"]), "every acknowledged marker became visible: {vis}");
    assert!(vis["latency"]["p99_ms"].as_f64().unwrap() > 0.0, "{vis}");
    u(&rows["acked"])
}

#[test]
fn influx_closed_model_acknowledged_rows_are_the_rows_that_land() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["batch.max_age=100ms"]);
    let (code, report) = loadgen(
        dir.path(),
        &[
            "--target",
            &chute.url,
            "--protocol",
            "influx",
            "--connections",
            "2",
            "--duration",
            "2s",
            "--rows-per-request",
            "500",
            "--run-id",
            "lg-test-influx",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["payload"]["protocol"], "influx");
    let acked = assert_clean_closed_run(&report, 500);
    wait_for("the spool to empty", Duration::from_secs(60), || spool_empty(&chute.url).then_some(()));
    let landed = wait_for("the acknowledged rows to be queryable", Duration::from_secs(60), || {
        let n = run_samples(&chute.url, "lg-test-influx");
        (n >= acked).then_some(n)
    });
    assert_eq!(landed, acked, "rows landed in run lg-test-influx vs rows acknowledged");
}

#[test]
fn k6_json_closed_model_acknowledged_rows_are_the_rows_that_land() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["batch.max_age=100ms"]);
    let (code, report) = loadgen(
        dir.path(),
        &[
            "--target",
            &chute.url,
            "--protocol",
            "k6-json",
            "--connections",
            "1",
            "--duration",
            "2s",
            "--rows-per-request",
            "1000",
            "--run-id",
            "lg-test-json",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["payload"]["protocol"], "k6-json");
    let acked = assert_clean_closed_run(&report, 1000);
    let requests = u(&report["requests"]["acked"]) as usize;
    assert!(requests < 1000, "the run list below covers every run ({requests} runs)");
    wait_for("the spool to empty", Duration::from_secs(60), || spool_empty(&chute.url).then_some(()));
    let (landed, runs) = wait_for("the acknowledged rows to be queryable", Duration::from_secs(60), || {
        let (n, runs) = prefixed_samples(&chute.url, "lg-test-json");
        (n >= acked).then_some((n, runs))
    });
    assert_eq!(landed, acked, "rows landed in runs lg-test-json-* vs rows acknowledged");
    assert_eq!(runs, requests, "one run per k6 JSON request");
}

#[test]
fn open_model_against_a_full_spool_counts_every_intended_request_and_the_429s() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(
        dir.path(),
        &[
            "debug.fault_injection=true",
            "spool.max_bytes=512KiB",
            "limits.max_unflushed_bytes=8MiB",
            "batch.max_age=100ms",
        ],
    );
    let (s, _, _) = http_post(&format!("{}/debug/store-fault?mode=down", chute.url), &[], b"").unwrap();
    assert_eq!(s, 204);
    let (code, report) = loadgen(
        dir.path(),
        &[
            "--target",
            &chute.url,
            "--model",
            "open",
            "--rate",
            "40",
            "--duration",
            "3s",
            "--rows-per-request",
            "500",
            "--max-in-flight",
            "8",
            "--no-visibility",
        ],
    );
    assert_eq!(code, 0, "{report}");
    let req = &report["requests"];
    assert_eq!(report["intended_rate"].as_f64(), Some(40.0), "{report}");
    assert_eq!(u(&req["intended"]), 120, "40 requests/s for 3 s: {report}");
    assert_eq!(u(&req["sent"]) + u(&req["overflow"]), u(&req["intended"]), "no intended request unaccounted: {report}");
    assert_eq!(
        u(&req["acked"]) + u(&req["rejected"]) + u(&req["errors"]),
        u(&req["sent"]),
        "every request sent has an outcome: {report}"
    );
    assert!(u(&req["rejected"]) > 0, "a full spool answers 429: {report}");
    assert_eq!(u(&req["retry_after_seen"]), u(&req["rejected"]), "every 429 carries Retry-After: {report}");
    assert_eq!(u(&report["rows"]["rejected"]), u(&req["rejected"]) * 500);
    assert_eq!(report["requests"]["statuses"]["429"], req["rejected"]);
}

#[test]
fn open_model_measures_from_the_intended_time_and_counts_overflow_while_chute_stalls() {
    // Spool off and the store down: writes wait for the store, so the in-flight cap fills and
    // later arrivals overflow. When the store is back, the stalled requests are answered; their
    // latency counts from when they were meant to be sent.
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(
        dir.path(),
        &[
            "debug.fault_injection=true",
            "spool.enabled=false",
            "batch.max_age=50ms",
            "delivery.retry_cap=100ms",
            "delivery.breaker_failures=100000",
        ],
    );
    http_post(&format!("{}/debug/store-fault?mode=down", chute.url), &[], b"").unwrap();
    let child = command(dir.path())
        .args([
            "loadgen",
            "--target",
            &chute.url,
            "--model",
            "open",
            "--rate",
            "20",
            "--duration",
            "3s",
            "--rows-per-request",
            "200",
            "--max-in-flight",
            "4",
            "--no-visibility",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The cap is full once chute holds 4 stalled requests (4 x 200 rows); from then on arrivals
    // overflow. The outage then lasts 1.2 s more, so the first request waits at least that long.
    wait_for("4 stalled requests at chute", Duration::from_secs(30), || {
        (metric(&chute.url, "chute_rows_received_total") >= 800.0).then_some(())
    });
    // This is the outage's length (what the test is about), not a wait for an event.
    std::thread::sleep(Duration::from_millis(1200));
    http_post(&format!("{}/debug/store-fault?mode=up", chute.url), &[], b"").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text} {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "{report}");
    let req = &report["requests"];
    assert_eq!(u(&req["intended"]), 60, "{report}");
    assert_eq!(u(&req["sent"]) + u(&req["overflow"]), 60, "{report}");
    assert!(u(&req["overflow"]) > 0, "arrivals beyond the in-flight cap are counted: {report}");
    assert_eq!(u(&report["rows"]["overflow"]), u(&req["overflow"]) * 200);
    assert_eq!(u(&req["errors"]), 0, "{report}");
    assert_eq!(u(&req["acked"]), u(&req["sent"]), "the stalled requests were answered: {report}");
    // The first request was meant for t=0 and could not be answered before the store came
    // back, at least 1.2 s after it arrived: its latency is at least that long.
    let max = report["ack_latency"]["max_ms"].as_f64().unwrap();
    assert!(max >= 1000.0, "latency counts from the intended send time: max {max} ms; {report}");
}

#[test]
fn a_violated_threshold_exits_99_and_a_met_one_0() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["batch.max_age=100ms"]);
    let base = ["--target", &chute.url, "--duration", "1s", "--connections", "1", "--rows-per-request", "100"];
    let mut failing = base.to_vec();
    failing.extend(["--no-visibility", "--threshold", "ack_p99<0.001ms", "--threshold", "error_rate<0.01"]);
    let (code, report) = loadgen(dir.path(), &failing);
    assert_eq!(code, 99, "{report}");
    assert_eq!(report["thresholds_ok"], false);
    let t = report["thresholds"].as_array().unwrap();
    assert_eq!((t[0]["expression"].as_str(), t[0]["ok"].as_bool()), (Some("ack_p99<0.001ms"), Some(false)));
    assert_eq!((t[1]["expression"].as_str(), t[1]["ok"].as_bool()), (Some("error_rate<0.01"), Some(true)));

    let mut passing = base.to_vec();
    passing.extend(["--threshold", "ack_p99<60s", "--threshold", "rows_per_s>1", "--threshold", "visibility_p99<60s"]);
    let (code, report) = loadgen(dir.path(), &passing);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["thresholds_ok"], true);

    // The text report marks which passed.
    let (code, out, _) = run(
        dir.path(),
        &["loadgen", "--target", &chute.url, "--duration", "1s", "--no-visibility", "--threshold", "ack_p99<0.001ms"],
    );
    assert_eq!(code, 99);
    assert!(out.contains("✗ ack_p99<0.001ms"), "{out}");
}

/// `bench e2e` of a replayed OTLP kind: the load goes to chute's OTLP/HTTP listener, the
/// markers of the open-model phase are found through its API, and the row is OTLP logs'
/// (judged against their own ceiling).
#[test]
fn bench_e2e_of_otlp_logs_reports_a_sustained_rate_and_visibility() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = fixtures();
    let (code, out, err) = run(
        dir.path(),
        &[
            "bench",
            "e2e",
            "--protocol",
            "otlp-logs",
            "--variants",
            "spool",
            "--connections",
            "2",
            "--peak-duration",
            "3s",
            "--duration",
            "3s",
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--dir",
            dir.path().to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    let step: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let row = &step["rows"][0];
    assert_eq!(row["scenario"], "e2e otlp-logs (spool on)", "{row}");
    assert_eq!(row["input"], "otlp-logs");
    assert!(row["rows_per_s"].as_f64().unwrap_or(0.0) > 0.0, "{row}");
    assert!(row["visibility_p99_ms"].as_f64().is_some_and(|v| v > 0.0), "{row}\n{err}");
    let open = &step["details"][0]["open"];
    assert_eq!(u(&open["requests"]["errors"]), 0, "{open}");
    // The open model sends captured bodies of 40 records at 70% of the sustained rate.
    assert_eq!(u(&open["payload"]["rows_per_request"]), 40);
}

#[test]
fn bench_ceiling_runs_and_prints_rows_per_second() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) =
        run(dir.path(), &["bench", "ceiling", "--rows", "200000", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    // One warm-up round and three measured ones, each checked against what the table holds,
    // then their median.
    let rounds: Vec<&str> = out.lines().filter(|l| l.contains("round") && l.contains(" rows in ")).collect();
    assert_eq!(rounds.len(), 4, "{out}");
    assert!(rounds[0].contains("warm-up round 1/1"), "{out}");
    for (i, line) in rounds[1..].iter().enumerate() {
        assert!(line.contains(&format!("round {}/3: 200,000 rows", i + 1)), "{line}");
        assert!(line.contains("200,000 rows stored"), "{line}");
    }
    let median = out.lines().find(|l| l.contains("median of 3 rounds")).unwrap_or_else(|| panic!("no median: {out}"));
    assert!(median.contains("rows/s (lowest "), "{median}");
}

#[test]
fn bench_ceiling_inserts_each_inputs_own_rows() {
    // Remote write's rows go to two tables; the events rows come from the server's own decoder
    // of the built-in table. Each round's rows are counted back from the tables.
    let dir = tempfile::tempdir().unwrap();
    let fixtures = fixtures();
    for (shape, tables, per_round) in
        [("remote-write", "otel_metrics_gauge, otel_metrics_sum", "99,682 rows"), ("events", "events", "100,000 rows")]
    {
        let (code, out, err) = run(
            dir.path(),
            &[
                "bench",
                "ceiling",
                "--shape",
                shape,
                "--rows",
                "50000",
                "--rounds",
                "1",
                "--fixtures",
                fixtures.to_str().unwrap(),
                "--dir",
                dir.path().to_str().unwrap(),
                "--json",
            ],
        );
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        let round = err.lines().find(|l| l.contains("round 1/1:")).unwrap_or_else(|| panic!("{err}"));
        assert!(round.contains(&format!("({shape} rows into {tables})")), "{round}");
        // Whole inserts of one body's rows repeated to about 100,000: 253 bodies of 394 samples.
        assert!(round.contains(&format!("{per_round} in 1 inserts")), "{round}");
        assert!(round.contains(&format!("{per_round} stored")), "{round}");
        let step: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(step["kind"], "ceiling");
        assert_eq!(step["rows"][0]["input"], shape);
        assert!(step["rows"][0]["rows_per_s"].as_f64().unwrap() > 0.0, "{out}");
    }
}

#[test]
fn bench_nats_counts_every_message_through_chute_and_through_the_noop_consumer() {
    // Both end only when the consumer's ack floor reaches the last message.
    let dir = tempfile::tempdir().unwrap();
    for (extra, who) in [
        (&["--server-set", "spool.fsync_interval=5ms"][..], "committed rows"),
        (&["--noop-consumer"][..], "a no-op consumer (nats-server alone)"),
    ] {
        let mut args = vec!["bench", "nats", "--messages", "3000", "--batch-size", "500", "--dir"];
        args.push(dir.path().to_str().unwrap());
        args.extend_from_slice(extra);
        let (code, out, err) = run(dir.path(), &args);
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        let line = out.lines().find(|l| l.starts_with("nats -> ")).unwrap_or_else(|| panic!("{out}"));
        assert!(line.starts_with(&format!("nats -> {who}: 3000 messages in ")), "{line}");
    }
}

/// The OTLP/HTTP address from the banner line "OTLP/gRPC on A, OTLP/HTTP on http://B".
fn otlp_http_url(chute: &Chute) -> String {
    chute
        .banner
        .iter()
        .find_map(|l| l.split("OTLP/HTTP on ").nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no OTLP/HTTP line in the banner: {:?}", chute.banner))
}

/// Replayed OTLP bodies: the rows loadgen reports as acknowledged are the rows in the tables
/// (`tables`: each table and the rows one body puts there). With `--api` (chute's main address),
/// visibility markers of the same signal are sent to the OTLP listener and found through the API.
fn otlp_replay_lands(protocol: &str, tables: &[(&str, u64)]) {
    let rows_per_body: u64 = tables.iter().map(|t| t.1).sum();
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["batch.max_age=100ms"]);
    let fixtures = fixtures();
    let (code, report) = loadgen(
        dir.path(),
        &[
            "--target",
            &otlp_http_url(&chute),
            "--protocol",
            protocol,
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--api",
            &chute.url,
            "--visibility-interval",
            "200ms",
            "--connections",
            "2",
            "--duration",
            "2s",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["payload"]["protocol"], protocol);
    let vis = &report["visibility"];
    assert!(u(&vis["markers"]) >= 5, "{vis}");
    assert_eq!(u(&vis["visible"]), u(&vis["markers"]), "every marker found through the API: {vis}");
    assert_eq!(u(&report["payload"]["rows_per_request"]), rows_per_body, "{report}");
    let req = &report["requests"];
    assert_eq!(u(&req["errors"]) + u(&req["rejected"]), 0, "{report}");
    assert!(u(&req["acked"]) > 0, "{report}");
    let acked = u(&report["rows"]["acked"]);
    assert_eq!(acked, u(&req["acked"]) * rows_per_body);
    // Stopping delivers what the spool holds; then the store is ours to count.
    let (status, _) = chute.term(Duration::from_secs(60));
    assert!(status.success());
    let store = open_store(dir.path());
    let mut landed = 0;
    for (table, per_body) in tables {
        let n = scalar(&store, &format!("SELECT count() FROM {table} WHERE ServiceName != 'loadgen-marker'"));
        assert_eq!(n, u(&req["acked"]) * per_body, "rows in {table}");
        landed += n;
    }
    assert_eq!(landed, acked, "rows landed in {tables:?} vs rows acknowledged");
}

/// Sent to the OTLP listener without `--api`, a replay sends no markers, and the report says
/// how to get them.
#[test]
fn otlp_replay_without_the_api_address_says_how_to_measure_visibility() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let fixtures = fixtures();
    let target = otlp_http_url(&chute);
    let args = ["loadgen", "--target", &target, "--protocol", "otlp-logs", "--fixtures", fixtures.to_str().unwrap()];
    let (code, out, err) = run(dir.path(), &[&args[..], &["--connections", "1", "--duration", "1s"]].concat());
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("visibility   not measured (pass --api with chute's main address)"), "{out}");
}

#[test]
fn otlp_logs_replay_acknowledged_rows_are_the_rows_that_land() {
    otlp_replay_lands("otlp-logs", &[("otel_logs", 40)]);
}

#[test]
fn otlp_traces_replay_acknowledged_rows_are_the_rows_that_land() {
    otlp_replay_lands("otlp-traces", &[("otel_traces", 80)]);
}

/// Replayed remote-write bodies: the rows loadgen reports as acknowledged (a sample per time
/// series) are the rows in the gauge and sum tables. The fixtures keep 5 of the capture's 11
/// bodies (353 and 4 x 394 series); loadgen replays the ones kept.
#[test]
fn remote_write_replay_acknowledged_rows_are_the_samples_that_land() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["batch.max_age=100ms"]);
    let fixtures = fixtures();
    let (code, report) = loadgen(
        dir.path(),
        &[
            "--target",
            &chute.url,
            "--protocol",
            "remote-write",
            "--fixtures",
            fixtures.to_str().unwrap(),
            "--connections",
            "2",
            "--duration",
            "2s",
        ],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(u(&report["payload"]["distinct_bodies"]), 5, "{report}");
    // Markers (a series each, job="loadgen-marker") go to the same address and are found
    // through its API.
    let vis = &report["visibility"];
    assert!(u(&vis["markers"]) >= 1, "{vis}");
    assert_eq!(u(&vis["visible"]), u(&vis["markers"]), "{vis}");
    let req = &report["requests"];
    assert_eq!(u(&req["errors"]) + u(&req["rejected"]), 0, "{report}");
    assert!(u(&req["acked"]) > 0, "{report}");
    let acked = u(&report["rows"]["acked"]);
    let (status, _) = chute.term(Duration::from_secs(60));
    assert!(status.success());
    let store = open_store(dir.path());
    let landed = scalar(
        &store,
        "SELECT (SELECT count() FROM otel_metrics_gauge WHERE ServiceName != 'loadgen-marker') \
           + (SELECT count() FROM otel_metrics_sum WHERE ServiceName != 'loadgen-marker')",
    );
    assert_eq!(landed, acked, "samples landed vs rows acknowledged");
}

#[test]
fn otlp_metrics_replay_acknowledged_rows_are_the_data_points_that_land() {
    // The Python SDK's metrics body: 12 sum points (http.server.requests per route and status,
    // http.server.active_requests per route) and 3 histogram points (http.server.duration per
    // route); nothing in the other metric tables.
    otlp_replay_lands(
        "otlp-metrics",
        &[
            ("otel_metrics_sum", 12),
            ("otel_metrics_histogram", 3),
            ("otel_metrics_gauge", 0),
            ("otel_metrics_exponential_histogram", 0),
            ("otel_metrics_summary", 0),
        ],
    );
}

#[test]
fn events_closed_model_acknowledged_rows_are_the_rows_that_land() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["batch.max_age=100ms"]);
    let (code, report) = loadgen(
        dir.path(),
        &["--target", &chute.url, "--protocol", "events", "--connections", "2", "--duration", "2s"],
    );
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["payload"]["protocol"], "events");
    assert_eq!(u(&report["payload"]["rows_per_request"]), 1000, "1,000 events per body by default");
    let req = &report["requests"];
    assert_eq!(u(&req["errors"]) + u(&req["rejected"]), 0, "{report}");
    assert!(u(&req["acked"]) > 0, "{report}");
    let acked = u(&report["rows"]["acked"]);
    assert_eq!(acked, u(&req["acked"]) * 1000);
    let run_id = report["payload"]["run_id"].as_str().unwrap().to_string();
    let (status, _) = chute.term(Duration::from_secs(60));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(scalar(&store, "SELECT count() FROM events"), acked);
    assert_eq!(
        scalar(&store, &format!("SELECT count() FROM events WHERE JSONExtractString(Event, 'run_id') = '{run_id}'")),
        acked
    );
}

/// The table the NATS test's consumer fills: the generated events' fields, typed, and the
/// stream position of each message.
const NATS_TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS loadgen_events (
    timestamp DateTime64(9, 'UTC'),
    name LowCardinality(String),
    type LowCardinality(String),
    service LowCardinality(String),
    run_id String,
    user_id String,
    session_id String,
    amount Float64,
    currency LowCardinality(String),
    items UInt32,
    attributes JSON,
    _nats_stream LowCardinality(String),
    _nats_seq UInt64,
    INDEX nats_seq _nats_seq TYPE minmax GRANULARITY 1
) ENGINE = MergeTree ORDER BY (run_id, timestamp)
SETTINGS non_replicated_deduplication_window = 1000;
";

/// JetStream publishes: every message loadgen counts as acknowledged (JetStream's publish ack)
/// is stored by the stream and lands as one row in the consumer's table, under the run id.
fn nats_publishes_land(model_args: &[&str]) {
    let nats = NatsServer::start();
    nats.create_stream("LOADGEN", &["loadgen.>"]);
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("table.sql");
    std::fs::write(&sql, NATS_TABLE_SQL).unwrap();
    let consumer = format!(
        r#"nats.consumers=[{{servers = ["{}"], stream = "LOADGEN", durable = "chute", table = "loadgen_events", table_sql = "{}", max_wait = "100ms"}}]"#,
        nats.url,
        sql.display()
    );
    let chute = Chute::start(dir.path(), &[&consumer]);
    let mut args = vec!["--target", &nats.url, "--protocol", "nats", "--subject", "loadgen.events.checkout"];
    args.extend_from_slice(model_args);
    let (code, report) = loadgen(dir.path(), &args);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["payload"]["protocol"], "nats");
    assert_eq!(u(&report["payload"]["rows_per_request"]), 1, "one row per message");
    assert_eq!(report["target"], nats.url.as_str());
    let req = &report["requests"];
    assert_eq!(u(&req["errors"]) + u(&req["rejected"]), 0, "{report}");
    let acked = u(&req["acked"]);
    assert!(acked > 0, "{report}");
    assert_eq!(u(&report["rows"]["acked"]), acked);
    assert_eq!(u(&report["visibility"]["markers"]), 0, "no markers over NATS: {report}");
    let bytes = u(&report["payload"]["bytes_per_request"]);
    assert!((250..=350).contains(&bytes), "messages of about 300 bytes: {bytes}");
    // Every acknowledged message is in the stream (nothing else published to it) ...
    let info = nats.block_on(async { nats.js().get_stream("LOADGEN").await.unwrap().cached_info().clone() });
    assert_eq!(info.state.messages, acked, "messages in the stream vs publishes acknowledged");
    // ... and chute acks a message only after its row is stored: wait until it acked them all.
    nats.wait_acked("LOADGEN", "chute", info.state.last_sequence, Duration::from_secs(60));
    let run_id = report["payload"]["run_id"].as_str().unwrap().to_string();
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success());
    let store = open_store(dir.path());
    assert_eq!(
        scalar(&store, &format!("SELECT count() FROM loadgen_events WHERE run_id = '{run_id}'")),
        acked,
        "rows landed under run {run_id} vs messages acknowledged"
    );
    assert_eq!(scalar(&store, "SELECT count() FROM loadgen_events"), acked);
    assert_eq!(scalar(&store, "SELECT uniqExact(_nats_seq) FROM loadgen_events"), acked, "each message once");
    assert_eq!(scalar(&store, "SELECT count() FROM chute_dead_letters"), 0, "every message decoded");
}

#[test]
fn nats_closed_model_acknowledged_publishes_are_the_rows_that_land() {
    nats_publishes_land(&["--connections", "4", "--duration", "2s", "--run-id", "lg-test-nats"]);
}

#[test]
fn nats_open_model_acknowledged_publishes_are_the_rows_that_land() {
    nats_publishes_land(&["--model", "open", "--rate", "2000", "--duration", "2s", "--max-in-flight", "64"]);
}

#[test]
fn nats_publishes_to_a_subject_no_stream_captures_are_refused_before_the_run() {
    let nats = NatsServer::start();
    nats.create_stream("LOADGEN", &["loadgen.>"]);
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        dir.path(),
        &["loadgen", "--target", &nats.url, "--protocol", "nats", "--subject", "elsewhere.events", "--duration", "1s"],
    );
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("no JetStream stream captures subject \"elsewhere.events\""), "{err}");
}

#[test]
fn nats_publishes_a_full_stream_refuses_count_as_rejected_not_acknowledged() {
    // A stream that keeps 100 messages and refuses the rest (discard new): the publish ack of
    // every later message is an error.
    let nats = NatsServer::start();
    let js = nats.js();
    nats.block_on(js.create_stream(async_nats::jetstream::stream::Config {
        name: "SMALL".into(),
        subjects: vec!["small.>".into()],
        max_messages: 100,
        discard: async_nats::jetstream::stream::DiscardPolicy::New,
        ..Default::default()
    }))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = loadgen(
        dir.path(),
        &["--target", &nats.url, "--protocol", "nats", "--subject", "small.events", "--duration", "1s"],
    );
    assert_eq!(code, 0, "{report}");
    let req = &report["requests"];
    assert_eq!(u(&req["acked"]), 100, "the stream stored 100: {report}");
    assert!(u(&req["rejected"]) > 0, "{report}");
    assert_eq!(u(&req["errors"]), 0, "{report}");
    assert_eq!(u(&req["acked"]) + u(&req["rejected"]), u(&req["sent"]), "{report}");
    assert_eq!(u(&report["rows"]["rejected"]), u(&req["rejected"]));
    let examples = req["error_examples"].to_string();
    assert!(examples.contains("rejected: publish ack"), "{examples}");
    let info = nats.block_on(async { nats.js().get_stream("SMALL").await.unwrap().cached_info().clone() });
    assert_eq!(info.state.messages, 100);
}
