//! Acknowledged means durable, and retries never duplicate: the real binary is killed with
//! SIGKILL under load, stopped with SIGTERM, and cut off from its store, while a load loop writes
//! numbered samples and records which writes were acknowledged.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

/// Kills in the CI-sized crash test; `make soak` raises it with SOAK_KILLS.
fn kills() -> usize {
    std::env::var("SOAK_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(20)
}

fn ready_json(url: &str) -> serde_json::Value {
    ureq_get(&format!("{url}/health/ready")).ok().and_then(|(_, b)| serde_json::from_str(&b).ok()).unwrap_or_default()
}

/// Waits until everything acknowledged has left the spool for the store.
fn wait_delivered(url: &str) {
    wait_for("the spool to empty", Duration::from_secs(120), || {
        let h = ready_json(url);
        (h["spool"]["bytes"].as_u64() == Some(0)).then_some(())
    });
}

/// Runs the load while killing chute `kills` times. Half of the kills land right after an
/// insert was confirmed (inside `debug.pause_after_insert`, before its spool segments are
/// removed), where a replay is certain; the others land after a random amount of traffic.
fn crash_scenario(dir: &Path, kills: usize, dedup_tokens: bool) -> Vec<u64> {
    let dedup = format!("debug.dedup_tokens={dedup_tokens}");
    let sets = ["batch.max_age=100ms", "debug.pause_after_insert=200ms", dedup.as_str()];
    let mut chute = Chute::start(dir, &sets);
    let load = Load::start(&chute.url, "crash", 100);
    for k in 0..kills {
        let url = chute.url.clone();
        if k % 2 == 0 {
            let before = metric(&url, "chute_rows_written_total");
            wait_for("an insert to be confirmed", Duration::from_secs(30), || {
                (metric(&url, "chute_rows_written_total") > before).then_some(())
            });
        } else {
            let target = load.acked_count() + 100 * (1 + rand_below(8));
            wait_for("more acknowledged writes", Duration::from_secs(30), || {
                (load.acked_count() >= target).then_some(())
            });
        }
        chute.kill9();
        chute = Chute::start(dir, &sets);
        load.point_at(&chute.url);
    }
    let target = load.acked_count() + 500;
    wait_for("writes after the last restart", Duration::from_secs(30), || (load.acked_count() >= target).then_some(()));
    let acked = load.stop();
    wait_delivered(&chute.url);
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success(), "clean exit after the run: {status:?}");
    acked
}

fn rand_below(n: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(n);
    (h.finish() as usize) % n
}

#[test]
fn every_acknowledged_sample_is_stored_exactly_once_across_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let n = kills();
    assert!(n >= 20, "the CI-sized run kills at least 20 times");
    let acked = crash_scenario(dir.path(), n, true);
    let store = open_store(dir.path());
    let (rows, distinct, ids) = stored_ids(&store, "crash");
    let missing: Vec<&u64> = acked.iter().filter(|id| !ids.contains(id)).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged ids missing, e.g. {missing:?}",
        acked.iter().filter(|i| !ids.contains(i)).count()
    );
    assert_eq!(rows, distinct, "{} duplicate rows after {n} kills", rows - distinct);
    assert!(acked.len() >= 1000, "the load was real: {} acknowledged samples", acked.len());
    // Delivered segments' files were kept and written over by new segments across the kills
    // (the spool keeps up to 4 per table, and a new segment takes one when there is one).
    let free = spool_files(&dir.path().join("spool"), "free");
    assert!((1..=4).contains(&free), "{free} delivered segment files kept for reuse");
}

/// Files ending in `.ext` in the table directories of a spool.
fn spool_files(spool: &Path, ext: &str) -> usize {
    let tables = std::fs::read_dir(spool).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir());
    tables
        .flat_map(|t| std::fs::read_dir(t).unwrap().map(|e| e.unwrap().path()))
        .filter(|f| f.extension().is_some_and(|e| e == ext))
        .count()
}

#[test]
fn without_dedup_tokens_the_same_crashes_do_duplicate_rows() {
    // The negative control: it proves the test above would see duplicates if they happened.
    let dir = tempfile::tempdir().unwrap();
    let acked = crash_scenario(dir.path(), 6, false);
    let store = open_store(dir.path());
    let (rows, distinct, ids) = stored_ids(&store, "crash");
    assert!(acked.iter().all(|id| ids.contains(id)), "nothing acknowledged is lost even so");
    assert!(rows > distinct, "expected duplicates without dedup tokens: {rows} rows, {distinct} distinct");
}

/// Everything delivered (the spool is empty), a clean restart, new writes: the new rows are
/// stored too. (Dedup tokens are made of spool segment numbers; were a number reused after the
/// restart, the store would drop the new rows as a retry of the old ones.)
#[test]
fn writes_after_a_restart_with_an_empty_spool_are_stored_too() {
    let dir = tempfile::tempdir().unwrap();
    let lines = |from: u64| -> String {
        (from..from + 500)
            .map(|i| format!("crash,testid=restart value=1,iter={i}i {}\n", 1_795_433_093_000_000_000u64 + i * 1000))
            .collect()
    };
    for round in 0..3u64 {
        let chute = Chute::start(dir.path(), &["batch.max_age=100ms"]);
        let (s, _, body) =
            http_post(&format!("{}/write?db=k6&precision=ns", chute.url), &[], lines(round * 500).as_bytes()).unwrap();
        assert_eq!(s, 204, "{body}");
        wait_delivered(&chute.url);
        let (status, _) = chute.term(Duration::from_secs(30));
        assert!(status.success());
    }
    let store = open_store(dir.path());
    let (rows, distinct, _) = stored_ids(&store, "restart");
    assert_eq!((rows, distinct), (1500, 1500), "every round's rows are stored, once");
}

#[test]
fn sigterm_under_load_exits_zero_within_the_deadline_and_the_restart_delivers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let sets = ["server.shutdown_timeout=2s", "debug.fault_injection=true", "batch.max_age=100ms"];
    let chute = Chute::start(dir.path(), &sets);
    let load = Load::start(&chute.url, "crash", 200);
    wait_for("some writes", Duration::from_secs(30), || (load.acked_count() >= 2000).then_some(()));
    // The store stops answering: what arrives now stays in the spool.
    let (s, _, _) = http_post(&format!("{}/debug/store-fault?mode=down", chute.url), &[], b"").unwrap();
    assert_eq!(s, 204);
    let target = load.acked_count() + 2000;
    wait_for("writes during the outage", Duration::from_secs(30), || (load.acked_count() >= target).then_some(()));
    let (status, took) = chute.term(Duration::from_secs(20));
    let acked = load.stop();
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(2 + 3), "exited {took:?} after SIGTERM with a 2 s deadline");

    let chute = Chute::start(dir.path(), &["batch.max_age=100ms"]);
    wait_delivered(&chute.url);
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success());
    let store = open_store(dir.path());
    let (rows, distinct, ids) = stored_ids(&store, "crash");
    assert!(acked.iter().all(|id| ids.contains(id)), "an acknowledged sample is missing");
    assert_eq!(rows, distinct);
}

#[test]
fn during_a_store_outage_writes_are_acknowledged_readiness_says_why_and_all_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(
        dir.path(),
        &[
            "debug.fault_injection=true",
            "batch.max_age=100ms",
            "delivery.breaker_failures=3",
            "delivery.retry_cap=200ms",
        ],
    );
    let load = Load::start(&chute.url, "crash", 200);
    wait_for("some writes", Duration::from_secs(30), || (load.acked_count() >= 2000).then_some(()));
    http_post(&format!("{}/debug/store-fault?mode=down", chute.url), &[], b"").unwrap();
    let h = wait_for("store_unavailable", Duration::from_secs(30), || {
        let h = ready_json(&chute.url);
        (h["state"] == "store_unavailable").then_some(h)
    });
    assert!(h["reason"].as_str().unwrap().contains("injected outage"), "{h}");
    assert_eq!(h["accepting"], true);
    let (code, _) = ureq_get(&format!("{}/health/ready", chute.url)).unwrap();
    assert_eq!(code, 503);
    assert_eq!(metric(&chute.url, "chute_breaker_state"), 2.0, "breaker open");
    // Still acknowledging into the spool.
    let target = load.acked_count() + 2000;
    wait_for("writes during the outage", Duration::from_secs(30), || (load.acked_count() >= target).then_some(()));
    http_post(&format!("{}/debug/store-fault?mode=up", chute.url), &[], b"").unwrap();
    wait_for("healthy again", Duration::from_secs(30), || (ready_json(&chute.url)["state"] == "healthy").then_some(()));
    let acked = load.stop();
    wait_delivered(&chute.url);
    assert_eq!(metric(&chute.url, "chute_breaker_state"), 0.0, "breaker closed");
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success());
    let store = open_store(dir.path());
    let (rows, distinct, ids) = stored_ids(&store, "crash");
    assert!(acked.iter().all(|id| ids.contains(id)), "an acknowledged sample is missing");
    assert_eq!(rows, distinct);
}

#[test]
fn a_full_spool_answers_429_with_retry_after_keeps_memory_bounded_and_loses_nothing() {
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
    http_post(&format!("{}/debug/store-fault?mode=down", chute.url), &[], b"").unwrap();
    let load = Load::start(&chute.url, "crash", 500);
    wait_for("429 answers", Duration::from_secs(60), || {
        (load.refused.load(std::sync::atomic::Ordering::Relaxed) >= 5).then_some(())
    });
    assert!(load.retry_after_seen.load(std::sync::atomic::Ordering::Relaxed), "429 carries Retry-After");
    let unflushed = metric(&chute.url, "chute_unflushed_bytes");
    assert!(unflushed <= 8.0 * 1024.0 * 1024.0, "unflushed bytes {unflushed} within the bound");
    let rss_kib: u64 = std::fs::read_to_string(format!("/proc/{}/status", chute.child.id()))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap();
    assert!(rss_kib < 1_500_000, "chute's RSS {rss_kib} KiB stays bounded while refusing");
    http_post(&format!("{}/debug/store-fault?mode=up", chute.url), &[], b"").unwrap();
    let target = load.acked_count() + 1000;
    wait_for("writes accepted again", Duration::from_secs(60), || (load.acked_count() >= target).then_some(()));
    let acked = load.stop();
    wait_delivered(&chute.url);
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success());
    let store = open_store(dir.path());
    let (rows, distinct, ids) = stored_ids(&store, "crash");
    assert!(acked.iter().all(|id| ids.contains(id)), "an acknowledged sample is missing");
    assert_eq!(rows, distinct);
}
