//! k6 results through the real binary over the real protocols: the captured InfluxDB requests of
//! a k6 run, its JSON and CSV files, and k6's own summary of that run as the expected answer.

mod common;

use common::*;
use std::time::Duration;

async fn summary(url: &str, run: &str, samples: u64) -> serde_json::Value {
    summary_when(url, run, samples, Duration::from_secs(30)).await
}

fn assert_checks_equal_k6s(summary: &serde_json::Value) {
    let checks = summary["checks"].as_array().unwrap();
    let find = |name: &str| checks.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("check {name}"));
    // From basic.summary.json's root_group.
    for (name, passes) in [("order accepted", 51), ("home is 200", 120), ("missing is 404", 120)] {
        assert_eq!(find(name)["passes"].as_u64(), Some(passes), "{name}");
        assert_eq!(find(name)["fails"].as_u64(), Some(0), "{name}");
    }
}

#[test]
fn serve_prints_where_it_listens_and_the_k6_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let banner = chute.banner.join("\n");
    assert!(banner.contains(&format!("listening on {}", chute.url)), "{banner}");
    assert!(banner.contains(&format!("k6 run --out influxdb={}/k6", chute.url)), "{banner}");
    assert!(banner.contains("chute import"), "{banner}");
}

#[tokio::test]
async fn the_influxdb_requests_of_a_k6_run_give_k6s_own_summary() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    for r in captured(&fixtures().join("k6/basic-run/influx")) {
        let resp = replay(&client, &chute.url, &r).await;
        let status = resp.status().as_u16();
        if r.path.starts_with("/query") {
            assert_eq!(status, 200);
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["results"][0]["statement_id"], 0, "{body}");
            assert!(body["results"][0].get("error").is_none(), "{body}");
        } else {
            assert_eq!(status, 204, "{} answered {status}", r.path);
        }
    }
    let s = summary(&chute.url, "fixture-basic-001", 4123).await;
    let diffs = compare_with_k6(&s, &k6_summary());
    assert!(diffs.is_empty(), "differences from k6's summary:\n{}", diffs.join("\n"));
    assert_checks_equal_k6s(&s);
    assert_eq!(s["thresholds"].as_array().unwrap().len(), 5);
    assert_eq!(s["run"]["sources"], serde_json::json!(["influxdb:k6"]));
}

#[tokio::test]
async fn a_json_import_gives_k6s_summary_and_importing_it_again_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let file = fixtures().join("k6/basic-run/basic.k6.json.gz");
    let (code, out, err) = run(dir.path(), &["import", "--server", &chute.url, file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4,123 samples into run fixture-basic-001"), "{out}");
    let s = summary(&chute.url, "fixture-basic-001", 4123).await;
    let diffs = compare_with_k6(&s, &k6_summary());
    assert!(diffs.is_empty(), "differences from k6's summary:\n{}", diffs.join("\n"));
    assert_checks_equal_k6s(&s);

    // The same file again: detected, reported, not counted twice.
    let (code, _, err) = run(dir.path(), &["import", "--server", &chute.url, file.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("already imported") && err.contains("fixture-basic-001") && err.contains("--replace"),
        "{err}"
    );
    // --replace is explicit, and leaves one copy.
    let (code, out, err) = run(dir.path(), &["import", "--replace", "--server", &chute.url, file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let s = summary(&chute.url, "fixture-basic-001", 4123).await;
    assert!(compare_with_k6(&s, &k6_summary()).is_empty());
}

#[tokio::test]
async fn a_csv_import_has_the_same_sample_counts_as_k6s_summary() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let file = fixtures().join("k6/basic-run/basic.k6.csv.gz");
    let (code, out, err) = run(dir.path(), &["import", "--server", &chute.url, file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let s = summary(&chute.url, "fixture-basic-001", 4123).await;
    let k6 = k6_summary();
    let ours =
        |name: &str| s["metrics"].as_array().unwrap().iter().find(|m| m["name"] == name).unwrap()["values"].clone();
    // Counts (CSV timestamps are whole seconds, values are exact).
    for counter in ["http_reqs", "iterations", "data_received", "data_sent", "orders_placed"] {
        assert_eq!(ours(counter)["count"].as_f64(), k6["metrics"][counter]["count"].as_f64(), "{counter}");
    }
    for rate in ["checks", "http_req_failed", "order_ok"] {
        assert_eq!(ours(rate)["passes"].as_f64(), k6["metrics"][rate]["passes"].as_f64(), "{rate}");
        assert_eq!(ours(rate)["fails"].as_f64(), k6["metrics"][rate]["fails"].as_f64(), "{rate}");
    }
    assert_eq!(ours("http_req_duration")["count"].as_f64(), Some(291.0));
}

#[tokio::test]
async fn malformed_line_protocol_is_refused_naming_the_line_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let body =
        "http_reqs,testid=bad value=1 1795433093000000000\nhttp_reqs,testid=bad value=oops 1795433093000000000\n";
    let r = reqwest::Client::new()
        .post(format!("{}/write?db=k6&precision=ns", chute.url))
        .header("User-Agent", "k6")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    let msg = e["error"].as_str().unwrap();
    assert!(msg.contains("line 2") && msg.contains("value"), "{msg}");
    let (s, _) = ureq_get(&format!("{}/api/v1/k6/runs/bad", chute.url)).unwrap();
    assert_eq!(s, 404, "the first, good line was not stored either");
}

#[tokio::test]
async fn an_unknown_precision_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let r = reqwest::Client::new()
        .post(format!("{}/write?db=k6&precision=fortnights", chute.url))
        .body("m value=1 1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().contains("unknown precision \"fortnights\""), "{e}");
}

#[tokio::test]
async fn a_truncated_gzip_body_is_refused() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let plain = std::fs::read(fixtures().join("k6/basic-run/influx/body-002.bin")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/write?db=k6&precision=ns", chute.url))
        .header("Content-Encoding", "gzip")
        .header("User-Agent", "k6")
        .body(gz[..gz.len() / 2].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert!(e["error"].as_str().unwrap().starts_with("invalid gzip body"), "{e}");
    // The whole body is accepted.
    let r = reqwest::Client::new()
        .post(format!("{}/write?db=k6&precision=ns", chute.url))
        .header("Content-Encoding", "gzip")
        .header("User-Agent", "k6")
        .body(gz)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn an_oversized_body_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["limits.max_body_bytes=16KiB"]);
    let body = std::fs::read(fixtures().join("k6/basic-run/influx/body-002.bin")).unwrap();
    assert!(body.len() > 16 * 1024);
    let r = reqwest::Client::new()
        .post(format!("{}/write?db=k6&precision=ns", chute.url))
        .header("User-Agent", "k6")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: serde_json::Value = r.json().await.unwrap();
    let msg = e["error"].as_str().unwrap();
    assert!(msg.contains("16384 bytes") && msg.contains("limits.max_body_bytes"), "{msg}");
}

#[test]
fn importing_a_file_that_is_not_k6_output_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let not_k6 = dir.path().join("notes.txt");
    std::fs::write(&not_k6, "just some notes\nnothing to see\n").unwrap();
    let data = dir.path().join("data");
    // Without a server: the command opens the store itself.
    let (code, _, err) = run(&data, &["import", not_k6.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("notes.txt is not k6 output"), "{err}");
    // Through a server: the same message.
    let chute = Chute::start(&data, &[]);
    let (code, _, err) = run(&data, &["import", "--server", &chute.url, not_k6.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("notes.txt is not k6 output"), "{err}");
}

#[test]
fn an_import_without_a_server_stores_the_run_and_cli_commands_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = fixtures().join("k6/basic-run/basic.k6.json.gz");
    let (code, out, err) = run(dir.path(), &["import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = run(dir.path(), &["k6", "runs"]);
    assert_eq!(code, 0);
    assert!(out.contains("fixture-basic-001") && out.contains("4,123"), "{out}");
    let (code, out, err) = run(dir.path(), &["k6", "summary", "fixture-basic-001"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("http_req_duration") && out.contains("p(95)=3.86ms"), "{out}");
    // A failed threshold makes the exit code 99, as k6's does.
    let (code, out, _) =
        run(dir.path(), &["k6", "summary", "fixture-basic-001", "--threshold", "http_req_duration:p(95)<1"]);
    assert_eq!(code, 99, "{out}");
}

#[tokio::test]
async fn killed_and_restarted_chute_keeps_every_flushed_batch_and_the_same_summary() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    for r in captured(&fixtures().join("k6/basic-run/influx")) {
        replay(&client, &chute.url, &r).await;
    }
    let before = summary(&chute.url, "fixture-basic-001", 4123).await;
    chute.kill9();
    let chute = Chute::start(dir.path(), &[]);
    let after = summary(&chute.url, "fixture-basic-001", 4123).await;
    assert_eq!(before["metrics"], after["metrics"]);
    assert_eq!(before["checks"], after["checks"]);
}
