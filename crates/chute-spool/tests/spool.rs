//! The spool's promises: an acknowledged append survives, a torn tail is cut at the last whole
//! record, corruption is detected, limits are enforced, and sealing follows the batch limits.

mod common;

use arrow_array::{RecordBatch, StringArray};
use chute_spool::{Plan, Spool, SpoolError, SpoolOptions};
use common::{batch, ids, opts};
use std::io::Write;

use std::time::Duration;

async fn append(spool: &Spool, table: &str, b: RecordBatch) {
    spool.append(table, "test", b).unwrap().await.unwrap().unwrap();
}

#[tokio::test]
async fn acknowledged_batches_read_back_exactly_after_sealing() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, rec) = Spool::open(opts(dir.path())).unwrap();
    assert!(rec.pending.is_empty());
    append(&spool, "t", batch(0, 10)).await;
    append(&spool, "t", batch(10, 5)).await;
    assert!(spool.sealed("t").is_empty(), "not sealed before a limit");
    spool.seal_all().unwrap();
    let sealed = spool.sealed("t");
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].rows, 15);
    let records = spool.read_segment("t", sealed[0].seq).unwrap();
    assert_eq!(ids(&records), (0..15).collect::<Vec<_>>());
    assert_eq!(records[0].source, "test");
    assert_eq!(records[0].batch, batch(0, 10));
}

#[tokio::test]
async fn batches_read_from_a_segment_stay_whole_after_it_is_removed() {
    // Delivery reads a segment, inserts, and only then removes it; derived rows may be computed
    // from the batches after that. Read segments are memory-mapped: the rows must not depend
    // on the file still being there.
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(opts(dir.path())).unwrap();
    append(&spool, "t", batch(0, 1000)).await;
    append(&spool, "t", batch(1000, 3)).await;
    spool.seal_all().unwrap();
    let seq = spool.sealed("t")[0].seq;
    let records = spool.read_segment("t", seq).unwrap();
    spool.remove_segments("t", &[seq]).unwrap();
    assert!(spool.sealed("t").is_empty());
    let files = std::fs::read_dir(dir.path().join("t")).unwrap().filter_map(Result::ok);
    assert!(files.map(|e| e.file_name()).all(|n| !n.to_string_lossy().ends_with(".seg")), "the segment file is gone");
    assert_eq!(ids(&records), (0..1003).collect::<Vec<_>>());
    assert_eq!(records[1].batch, batch(1000, 3));
    let names = records[0].batch.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(names.value(999), "row-999");
}

#[tokio::test]
async fn segments_seal_at_the_row_limit_and_at_their_age() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.seal_rows = 100;
    o.seal_age = Duration::from_millis(50);
    let (spool, _) = Spool::open(o).unwrap();
    let sealed_rx = spool.subscribe();
    append(&spool, "t", batch(0, 100)).await;
    let (t, _) = sealed_rx.recv_timeout(Duration::from_secs(5)).expect("row limit seals");
    assert_eq!(t, "t");
    append(&spool, "t", batch(100, 1)).await;
    sealed_rx.recv_timeout(Duration::from_secs(5)).expect("age seals a segment that stays small");
    let rows: Vec<u64> = spool.sealed("t").iter().map(|s| s.rows).collect();
    assert_eq!(rows, vec![100, 1]);
}

#[tokio::test]
async fn a_torn_tail_is_cut_at_the_last_whole_record_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let seq;
    {
        let (spool, _) = Spool::open(opts(dir.path())).unwrap();
        append(&spool, "t", batch(0, 7)).await;
        append(&spool, "t", batch(7, 3)).await;
        spool.close().unwrap();
        seq = spool.sealed("t")[0].seq;
    }
    // Make it look like the process died mid-append: the segment is still open and ends in
    // half a record (the first half of a copy of its own last record) plus garbage.
    let tdir = dir.path().join("t");
    let sealed = tdir.join(format!("{seq:016x}.seg"));
    let open = tdir.join(format!("{seq:016x}.open"));
    let good = std::fs::read(&sealed).unwrap();
    std::fs::rename(&sealed, &open).unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&open).unwrap();
    f.write_all(&good[good.len() - 200..good.len() - 100]).unwrap();
    drop(f);

    let (spool, rec) = Spool::open(opts(dir.path())).unwrap();
    assert_eq!(rec.resealed, 1);
    assert_eq!(rec.truncated_bytes, 100);
    let s = spool.sealed("t");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].rows, 10);
    assert_eq!(ids(&spool.read_segment("t", s[0].seq).unwrap()), (0..10).collect::<Vec<_>>());
    // New segments continue the sequence instead of reusing it.
    append(&spool, "t", batch(10, 1)).await;
    spool.seal_all().unwrap();
    assert!(spool.sealed("t").iter().any(|m| m.seq > seq));
}

#[tokio::test]
async fn an_open_segment_without_a_complete_header_holds_nothing_and_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("t")).unwrap();
    std::fs::write(dir.path().join("t").join(format!("{:016x}.open", 4)), b"CHUTE").unwrap();
    let (spool, rec) = Spool::open(opts(dir.path())).unwrap();
    assert_eq!(rec.truncated_bytes, 5);
    assert!(spool.sealed("t").is_empty());
    assert_eq!(std::fs::read_dir(dir.path().join("t")).unwrap().count(), 0);
}

#[tokio::test]
async fn a_corrupt_sealed_segment_is_detected_and_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(opts(dir.path())).unwrap();
    append(&spool, "t", batch(0, 50)).await;
    spool.seal_all().unwrap();
    let seq = spool.sealed("t")[0].seq;
    let path = dir.path().join("t").join(format!("{seq:016x}.seg"));
    let mut data = std::fs::read(&path).unwrap();
    let mid = data.len() - 40;
    data[mid] ^= 0xff;
    std::fs::write(&path, data).unwrap();
    let err = spool.read_segment("t", seq).unwrap_err();
    assert!(matches!(err, SpoolError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("checksum"), "{err}");
    assert!(dir.path().join("t").join(format!("{seq:016x}.corrupt")).exists());
    assert!(spool.sealed("t").is_empty());
}

#[tokio::test]
async fn appends_are_refused_when_the_spool_is_full_and_accepted_after_removal() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.max_bytes = 4096;
    let (spool, _) = Spool::open(o).unwrap();
    append(&spool, "t", batch(0, 500)).await;
    spool.seal_all().unwrap();
    let err = spool.append("t", "test", batch(0, 1)).unwrap_err();
    assert!(matches!(err, SpoolError::Full { limit: 4096, .. }), "{err}");
    let seqs: Vec<u64> = spool.sealed("t").iter().map(|s| s.seq).collect();
    spool.remove_segments("t", &seqs).unwrap();
    assert_eq!(spool.stats().bytes, 0);
    append(&spool, "t", batch(0, 1)).await;
}

#[tokio::test]
async fn plans_survive_a_reopen_and_removed_segments_do_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let id;
    {
        let (spool, _) = Spool::open(opts(dir.path())).unwrap();
        id = spool.id().to_string();
        for i in 0..3 {
            append(&spool, "t", batch(i * 10, 10)).await;
            spool.seal_all().unwrap();
        }
        let seqs: Vec<u64> = spool.sealed("t").iter().map(|s| s.seq).collect();
        assert_eq!(seqs.len(), 3);
        spool.write_plan("t", Plan { first: seqs[0], last: seqs[1], count: 2 }).unwrap();
        spool.remove_segments("t", &seqs[..1]).unwrap();
        spool.close().unwrap();
    }
    let (spool, rec) = Spool::open(opts(dir.path())).unwrap();
    assert_eq!(spool.id(), id, "the spool id is stable");
    assert_eq!(rec.pending.get("t"), Some(&2));
    let plan = spool.read_plan("t").unwrap().unwrap();
    assert_eq!((plan.last - plan.first, plan.count), (1, 2));
    assert_eq!(spool.tables_with_work(), vec!["t".to_string()]);
    spool.clear_plan("t").unwrap();
    assert_eq!(spool.read_plan("t").unwrap(), None);
}

/// Insert tokens are made of the spool id and segment numbers: a number used once must never
/// come back, or the store would take new rows for a retry of old ones and drop them.
#[tokio::test]
async fn segment_numbers_are_never_reused_even_after_everything_was_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mut used = std::collections::BTreeSet::new();
    for round in 0..3 {
        let (spool, _) = Spool::open(opts(dir.path())).unwrap();
        for i in 0..2 {
            append(&spool, "t", batch(round * 100 + i * 10, 10)).await;
            spool.seal_all().unwrap();
        }
        let seqs: Vec<u64> = spool.sealed("t").iter().map(|s| s.seq).collect();
        assert_eq!(seqs.len(), 2);
        for s in &seqs {
            assert!(used.insert(*s), "segment number {s} used again in round {round} (used: {used:?})");
        }
        // Everything delivered: no segment file is left to remember the numbers by.
        spool.remove_segments("t", &seqs).unwrap();
        spool.close().unwrap();
    }
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_spool() {
    let dir = tempfile::tempdir().unwrap();
    let (_spool, _) = Spool::open(opts(dir.path())).unwrap();
    let err = Spool::open(opts(dir.path())).err().unwrap();
    assert!(matches!(err, SpoolError::Locked(_)), "{err}");
    assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
}

#[tokio::test]
async fn many_concurrent_appends_are_all_acknowledged_and_all_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(opts(dir.path())).unwrap();
    let mut tickets = Vec::new();
    for i in 0..200 {
        tickets.push(spool.append(if i % 2 == 0 { "a" } else { "b" }, "test", batch(i * 3, 3)).unwrap());
    }
    for t in tickets {
        t.await.unwrap().unwrap();
    }
    spool.seal_all().unwrap();
    let mut all = Vec::new();
    for table in ["a", "b"] {
        for s in spool.sealed(table) {
            all.extend(ids(&spool.read_segment(table, s.seq).unwrap()));
        }
    }
    all.sort();
    assert_eq!(all, (0..600).collect::<Vec<_>>());
    let st = spool.stats();
    assert_eq!((st.segments, st.rows), (2, 600));
}

#[test]
fn bad_table_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(opts(dir.path())).unwrap();
    assert!(matches!(spool.append("../etc", "x", batch(0, 1)), Err(SpoolError::BadTable(_))));
}

#[tokio::test]
async fn small_appends_of_one_group_share_a_record_per_source_and_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    // A long interval (and so a long pause before a group closes early), so the appends queued
    // together are one group.
    let (spool, _) = Spool::open(SpoolOptions { fsync_interval: Duration::from_secs(2), ..opts(dir.path()) }).unwrap();
    append(&spool, "t", batch(-1, 1)).await; // starts the interval
    let mut tickets = Vec::new();
    for i in 0..40 {
        let source = if i % 2 == 0 { "even" } else { "odd" };
        tickets.push(spool.append("t", source, batch(i * 10, 10)).unwrap());
    }
    // A batch of 2,000 rows is written as its own record, between the others.
    tickets.push(spool.append("t", "even", batch(1_000, 2_000)).unwrap());
    for t in tickets {
        t.await.unwrap().unwrap();
    }
    spool.seal_all().unwrap();
    let sealed = spool.sealed("t");
    let records = spool.read_segment("t", sealed[0].seq).unwrap();
    assert_eq!(sealed[0].rows, 1 + 400 + 2_000);
    assert!(records.len() < 10, "40 small appends merged into a few records, got {}", records.len());
    assert!(records.iter().any(|r| r.batch.num_rows() == 2_000), "the large batch kept whole");
    for source in ["even", "odd"] {
        let of_source: Vec<_> =
            records.iter().filter(|r| r.source == source && r.batch.num_rows() < 2_000).cloned().collect();
        let got = ids(&of_source);
        let want: Vec<i64> =
            (0..40).filter(|i| (i % 2 == 0) == (source == "even")).flat_map(|i| i * 10..i * 10 + 10).collect();
        assert_eq!(got, want, "rows of {source} in arrival order");
    }
}

#[tokio::test]
async fn an_append_is_answered_once_appends_stop_coming_not_at_the_end_of_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    // The group closes after a sixteenth of the interval without a new append (250 ms here),
    // between one and two of those after the last append.
    let (spool, _) = Spool::open(SpoolOptions { fsync_interval: Duration::from_secs(4), ..opts(dir.path()) }).unwrap();
    append(&spool, "t", batch(0, 1)).await;
    // The next append comes well within the interval of that sync, like a client that sends its
    // next request as soon as it has its answer, and nothing else comes.
    let sent = std::time::Instant::now();
    append(&spool, "t", batch(1, 1)).await;
    let waited = sent.elapsed();
    assert!(
        waited < Duration::from_secs(2),
        "answered after {waited:?}: the group waited out the 4 s interval though no other append came"
    );
    spool.seal_all().unwrap();
    assert_eq!(spool.sealed("t")[0].rows, 2);
}

#[tokio::test]
async fn every_batch_record_starts_its_arrow_stream_8_byte_aligned_in_the_file() {
    // Segments are read through a memory map: an aligned stream's buffers are used in place, a
    // misaligned one's are copied. Sources of every length shift the stream within its record.
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(opts(dir.path())).unwrap();
    let sources = ["a", "ab", "otlp-http", "abcd", "abcdefghijk", "abcdef", "abc", "abcdefg"];
    for (i, source) in sources.iter().enumerate() {
        spool.append("t", source, batch(i as i64 * 10, 10)).unwrap().await.unwrap().unwrap();
    }
    spool.seal_all().unwrap();
    let seq = spool.sealed("t")[0].seq;
    let data = std::fs::read(dir.path().join("t").join(format!("{seq:016x}.seg"))).unwrap();
    // Header: magic, version, table name (u16 length), segment number, checksum.
    let mut pos = 8 + 4 + 2 + 1 + 8 + 4;
    let (mut batches, mut pads) = (Vec::new(), 0);
    while pos < data.len() {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        match data[pos + 8] {
            1 => {
                let slen = u16::from_le_bytes(data[pos + 9..pos + 11].try_into().unwrap()) as usize;
                let stream = pos + 9 + 2 + slen + 4;
                assert_eq!(stream % 8, 0, "record at {pos} (source of {slen} bytes) starts its stream at {stream}");
                batches.push(String::from_utf8(data[pos + 11..pos + 11 + slen].to_vec()).unwrap());
            }
            _ => pads += 1,
        }
        pos += 9 + len;
    }
    assert_eq!(batches, sources);
    assert!(pads > 0, "some records needed padding");
    let records = spool.read_segment("t", seq).unwrap();
    assert_eq!(ids(&records), (0..80).collect::<Vec<_>>());
    assert_eq!(records.iter().map(|r| r.source.as_str()).collect::<Vec<_>>(), sources);
}
