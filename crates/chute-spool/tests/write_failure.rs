//! A write that fails halfway (here: the file size limit, `RLIMIT_FSIZE`) is cut off at once, so
//! the appends after it are not written behind a torn record, and the request it belonged to is
//! stored in none of its tables. Its own test binary: the limit
//! applies to the whole process.

mod common;

use chute_spool::{Spool, SpoolOptions};
use common::{batch, ids};
use std::time::Duration;

/// A spool whose files cannot grow past 64 KiB.
fn spool_with_small_files(dir: &std::path::Path) -> Spool {
    let (spool, _) = Spool::open(SpoolOptions {
        dir: dir.to_path_buf(),
        fsync_interval: Duration::from_millis(1),
        max_bytes: 1 << 30,
        seal_rows: 1_000_000,
        seal_bytes: 1 << 30,
        seal_age: Duration::from_secs(3600),
    })
    .unwrap();
    // SAFETY: process-wide settings of this test's own process (cargo-nextest runs each test in
    // its own); the signal would otherwise kill it when a write crosses the limit (the write
    // fails with EFBIG instead).
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit { rlim_cur: 64 * 1024, rlim_max: libc::RLIM_INFINITY };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    spool
}

#[tokio::test]
async fn appends_after_a_failed_write_are_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool_with_small_files(dir.path());
    spool.append("t", "test", batch(0, 10)).unwrap().await.unwrap().unwrap();
    // ~120 KiB encoded: crosses the limit partway through.
    let big = spool.append("t", "test", batch(1_000, 10_000)).unwrap().await.unwrap();
    assert!(big.is_err(), "a write over the file size limit fails");
    spool.append("t", "test", batch(10, 10)).unwrap().await.unwrap().unwrap();
    spool.seal_all().unwrap();
    let sealed = spool.sealed("t");
    assert_eq!(sealed.len(), 1);
    let records = spool.read_segment("t", sealed[0].seq).expect("no torn record in the segment");
    assert_eq!(ids(&records), (0..20).collect::<Vec<_>>(), "both acknowledged appends, nothing of the failed one");
}

#[tokio::test]
async fn a_request_whose_write_fails_in_one_table_is_stored_in_none() {
    let dir = tempfile::tempdir().unwrap();
    let spool = spool_with_small_files(dir.path());
    // One request with rows for two tables; the second table's write crosses the limit.
    let tickets =
        spool.append_all("test", vec![("a".into(), batch(0, 10)), ("b".into(), batch(1_000, 10_000))]).unwrap();
    for t in tickets {
        assert!(t.await.unwrap().is_err(), "every table of the request is refused");
    }
    let fill_rows =
        |table: &str| spool.open_fill().into_iter().find(|(t, ..)| t == table).map_or(0, |(_, rows, _)| rows);
    assert_eq!(fill_rows("a"), 0, "the open segment's fill no longer counts the refused rows");
    // The next request is stored as usual.
    spool.append("a", "test", batch(10, 10)).unwrap().await.unwrap().unwrap();
    spool.seal_all().unwrap();
    let sealed = spool.sealed("a");
    assert_eq!(sealed.len(), 1);
    let records = spool.read_segment("a", sealed[0].seq).unwrap();
    assert_eq!(ids(&records), (10..20).collect::<Vec<_>>(), "nothing of the refused request in table a");
    assert!(spool.sealed("b").is_empty(), "nothing of it in table b");
}
