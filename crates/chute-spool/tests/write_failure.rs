//! A write that fails halfway (here: the file size limit, `RLIMIT_FSIZE`) is cut off at once, so
//! the appends after it are not written behind a torn record. Its own test binary: the limit
//! applies to the whole process.

mod common;

use chute_spool::{Spool, SpoolOptions};
use common::{batch, ids};
use std::time::Duration;

#[tokio::test]
async fn appends_after_a_failed_write_are_kept_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(SpoolOptions {
        dir: dir.path().to_path_buf(),
        fsync_interval: Duration::from_millis(1),
        max_bytes: 1 << 30,
        seal_rows: 1_000_000,
        seal_bytes: 1 << 30,
        seal_age: Duration::from_secs(3600),
    })
    .unwrap();
    // SAFETY: process-wide settings of this test's own process; the signal would otherwise
    // kill it when a write crosses the limit (the write fails with EFBIG instead).
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit { rlim_cur: 64 * 1024, rlim_max: libc::RLIM_INFINITY };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
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
