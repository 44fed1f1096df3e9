//! The `null` store target (the receive path measured alone): chute starts ready, acknowledges
//! writes and delivers them into the blackhole, with the spool and without it.

mod common;

use common::*;
use std::time::Duration;

fn writes_are_acknowledged_and_delivered(sets: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    // Chute::start returns only once /health/ready answers 200: the null target needs no schema.
    let chute = Chute::start(dir.path(), sets);
    let lines: String =
        (0..100).map(|i| format!("http_reqs,testid=null-run value=1 {}\n", 1_795_433_093_000_000_000i64 + i)).collect();
    let (status, _, body) =
        http_post(&format!("{}/write?db=k6&precision=ns", chute.url), &[], lines.as_bytes()).unwrap();
    assert_eq!(status, 204, "{body}");
    let written = wait_for("rows delivered into the null store", Duration::from_secs(30), || {
        let n = metric(&chute.url, "chute_rows_written_total");
        (n >= 100.0).then_some(n)
    });
    assert_eq!(written, 100.0);
    let (status, _) = chute.term(Duration::from_secs(30));
    assert!(status.success());
}

#[test]
fn null_store_with_spool_accepts_and_delivers() {
    writes_are_acknowledged_and_delivered(&["store.target=null"]);
}

#[test]
fn null_store_without_spool_accepts_and_delivers() {
    writes_are_acknowledged_and_delivered(&["store.target=null", "spool.enabled=false"]);
}
