//! `store.target = "clickhouse"` end to end: chute B writes to a ClickHouse server over HTTP, and
//! that server is chute A's ClickHouse HTTP interface over its embedded engine. The k6 fixture sent
//! to B lands in A with k6's own summary; while A is down, B's spool keeps what it acknowledged and
//! delivers it exactly once when A is back.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

async fn summary(url: &str, run: &str, samples: u64) -> serde_json::Value {
    summary_when(url, run, samples, Duration::from_secs(60)).await
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Chute A: embedded engine, ClickHouse HTTP interface on `port` with a password.
fn start_a(dir: &Path, port: u16) -> Chute {
    let listen = format!("clickhouse_http.listen=127.0.0.1:{port}");
    Chute::start(
        dir,
        &["clickhouse_http.enabled=true", &listen, "clickhouse_http.users=[{name = \"default\", password = \"pw\"}]"],
    )
}

/// A number from A's interface (`SELECT ...` answered in TabSeparated).
fn count_in_a(port: u16, sql: &str) -> Option<u64> {
    let r = http_post(
        &format!("http://127.0.0.1:{port}/"),
        &[("X-ClickHouse-User", "default"), ("X-ClickHouse-Key", "pw")],
        sql.as_bytes(),
    )
    .ok()?;
    (r.0 == 200).then(|| r.2.trim().parse().ok()).flatten()
}

fn spool_bytes(url: &str) -> Option<u64> {
    let (_, b) = ureq_get(&format!("{url}/health/ready")).ok()?;
    let h: serde_json::Value = serde_json::from_str(&b).ok()?;
    h["spool"]["bytes"].as_u64()
}

#[tokio::test]
async fn k6_results_sent_to_a_remote_target_land_once_with_k6s_summary_even_across_an_outage() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port = free_port();
    let a = start_a(dir_a.path(), port);
    let endpoint = format!("store.clickhouse.endpoints=http://127.0.0.1:{port}");
    let b = Chute::start(
        dir_b.path(),
        &[
            "store.target=clickhouse",
            &endpoint,
            "store.clickhouse.password=pw",
            "store.clickhouse.health_check_interval=200ms",
            "delivery.retry_cap=500ms",
            "delivery.breaker_open_for=500ms",
        ],
    );
    assert!(b.banner.join("\n").contains(&format!("ClickHouse at http://127.0.0.1:{port}")), "{:?}", b.banner);

    // The k6 run's InfluxDB requests, as k6 sent them, to B.
    let client = reqwest::Client::new();
    for r in captured(&fixtures().join("k6/basic-run/influx")) {
        let resp = replay(&client, &b.url, &r).await;
        let status = resp.status().as_u16();
        assert!(status == 204 || (r.path.starts_with("/query") && status == 200), "{} answered {status}", r.path);
    }
    // B's summary is read from A through the interface; A's own summary is the same.
    let via_b = summary(&b.url, "fixture-basic-001", 4123).await;
    let in_a = summary(&a.url, "fixture-basic-001", 4123).await;
    assert_eq!(via_b["metrics"], in_a["metrics"]);
    assert_eq!(via_b["checks"], in_a["checks"]);
    assert_eq!(via_b["thresholds"], in_a["thresholds"]);
    let diffs = compare_with_k6(&in_a, &k6_summary());
    assert!(diffs.is_empty(), "differences from k6's summary:\n{}", diffs.join("\n"));
    assert_eq!(count_in_a(port, "SELECT count() FROM k6_samples"), Some(4123));

    // A goes away. B keeps acknowledging writes: they wait in its spool.
    let (status, _) = a.term(Duration::from_secs(30));
    assert!(status.success());
    let mut acked = 0u64;
    for w in 0..20u64 {
        let body: String = (0..50u64)
            .map(|i| {
                let id = w * 50 + i;
                format!("outage,testid=during-outage value=1,iter={id}i {}\n", 1_795_433_093_000_000_000i64 + id as i64)
            })
            .collect();
        let r = http_post(&format!("{}/write?db=k6&precision=ns", b.url), &[], body.as_bytes()).unwrap();
        assert_eq!(r.0, 204, "B acknowledges while A is down: {r:?}");
        acked += 50;
    }
    wait_for("B's spool to hold the writes", Duration::from_secs(10), || {
        (spool_bytes(&b.url).unwrap_or(0) > 0).then_some(())
    });
    // Still there after a while of failing deliveries.
    wait_for("B to try delivering (and fail)", Duration::from_secs(20), || {
        (metric(&b.url, "chute_insert_errors_total") > 0.0).then_some(())
    });
    assert!(spool_bytes(&b.url).unwrap_or(0) > 0, "B kept the data while A was down");

    // A returns on the same address: everything arrives, once.
    let a = start_a(dir_a.path(), port);
    wait_for("B's spool to drain into A", Duration::from_secs(60), || (spool_bytes(&b.url) == Some(0)).then_some(()));
    let rows = count_in_a(port, "SELECT count() FROM k6_samples WHERE run_id = 'during-outage'");
    let distinct = count_in_a(port, "SELECT uniqExact(iter) FROM k6_samples WHERE run_id = 'during-outage'");
    assert_eq!((rows, distinct), (Some(acked), Some(acked)), "every acknowledged sample exactly once");
    assert_eq!(count_in_a(port, "SELECT count() FROM k6_samples WHERE run_id = 'fixture-basic-001'"), Some(4123));
    drop(b);
    drop(a);
}

#[test]
fn a_remote_target_with_a_wrong_password_or_no_server_is_reported_at_start() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port = free_port();
    let _a = start_a(dir_a.path(), port);
    let endpoint = format!("store.clickhouse.endpoints=http://127.0.0.1:{port}");
    let (code, out, err) = run(
        dir_b.path(),
        &[
            "--set",
            "store.target=clickhouse",
            "--set",
            &endpoint,
            "--set",
            "store.clickhouse.password=nope",
            "sql",
            "SELECT 1",
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("516") && err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let (code, out, err) = run(
        dir_b.path(),
        &[
            "--set",
            "store.target=clickhouse",
            "--set",
            &endpoint,
            "--set",
            "store.clickhouse.password=pw",
            "sql",
            "SELECT 40 + 2 AS answer",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["answer", "------", "    42"], "{out}");
    // The interface needs the embedded engine: asking for both is refused at start, naming the key.
    let (code, _, err) = run(
        dir_b.path(),
        &[
            "--set",
            "store.target=clickhouse",
            "--set",
            &endpoint,
            "--set",
            "clickhouse_http.enabled=true",
            "--set",
            "otlp.enabled=false",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("clickhouse_http.enabled"), "{err}");
}
