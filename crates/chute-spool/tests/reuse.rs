//! Delivered segments' files are written over by new segments: what was in them before never
//! comes back, a batch still using one keeps its rows, and segments written by the previous
//! format (version 1) are still read after an upgrade.

mod common;

use arrow_array::RecordBatch;
use chute_spool::{KEEP_FREE, Spool};
use common::{batch, ids, opts};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

async fn append(spool: &Spool, b: RecordBatch) {
    spool.append("t", "test", b).unwrap().await.unwrap().unwrap();
}

fn seg_path(dir: &Path, seq: u64, ext: &str) -> PathBuf {
    dir.join("t").join(format!("{seq:016x}.{ext}"))
}

/// Files of table `t` ending in `.ext`.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("t"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

/// Writes one sealed segment holding `batches` (each its own record) and returns its number.
async fn sealed_segment(spool: &Spool, batches: &[RecordBatch]) -> u64 {
    for b in batches {
        append(spool, b.clone()).await;
    }
    spool.seal_all().unwrap();
    spool.sealed("t").last().unwrap().seq
}

#[tokio::test]
async fn a_delivered_segments_file_is_written_over_by_the_next_segment_and_cut_to_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(opts(dir.path())).unwrap();
    let first = sealed_segment(&spool, &[batch(0, 2000)]).await;
    let inode = std::fs::metadata(seg_path(dir.path(), first, "seg")).unwrap().ino();
    drop(spool.read_segment("t", first).unwrap());
    spool.remove_segments("t", &[first]).unwrap();
    assert_eq!(files(dir.path(), "free"), vec![seg_path(dir.path(), first, "free")]);

    let second = sealed_segment(&spool, &[batch(5000, 3)]).await;
    assert!(second > first, "a new number, whatever file it is in");
    let path = seg_path(dir.path(), second, "seg");
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode, "the delivered segment's file was reused");
    assert!(files(dir.path(), "free").is_empty());
    let records = spool.read_segment("t", second).unwrap();
    assert_eq!(ids(&records), (5000..5003).collect::<Vec<_>>(), "only the new segment's rows");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), spool.sealed("t")[0].bytes, "cut to its own length");
}

#[tokio::test]
async fn records_of_the_segment_a_file_held_before_are_not_recovered_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let (old_image, new_image, new_seq);
    {
        let (spool, _) = Spool::open(opts(dir.path())).unwrap();
        // Two records: the first the same size as the new segment's only record, so that the
        // old second record starts exactly where the new segment ends.
        let old = sealed_segment(&spool, &[batch(0, 3), batch(100, 1000)]).await;
        old_image = std::fs::read(seg_path(dir.path(), old, "seg")).unwrap();
        spool.remove_segments("t", &[old]).unwrap();
        new_seq = sealed_segment(&spool, &[batch(7, 3)]).await;
        new_image = std::fs::read(seg_path(dir.path(), new_seq, "seg")).unwrap();
        spool.close().unwrap();
    }
    // What a kill leaves when it comes after the new segment's sync and before its seal: the
    // new header and record over the old ones, the old second record after them, whole.
    let mut crashed = new_image.clone();
    crashed.extend_from_slice(&old_image[new_image.len()..]);
    assert!(old_image.len() > new_image.len() + 1000);
    std::fs::remove_file(seg_path(dir.path(), new_seq, "seg")).unwrap();
    std::fs::write(seg_path(dir.path(), new_seq, "open"), &crashed).unwrap();

    let (spool, rec) = Spool::open(opts(dir.path())).unwrap();
    assert_eq!(rec.resealed, 1);
    assert_eq!(rec.truncated_bytes, (old_image.len() - new_image.len()) as u64, "the old record is cut");
    let s = spool.sealed("t");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].rows, 3);
    assert_eq!(ids(&spool.read_segment("t", new_seq).unwrap()), vec![7, 8, 9]);
}

#[tokio::test]
async fn a_reused_file_whose_new_header_never_reached_the_disk_holds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let old;
    {
        let (spool, _) = Spool::open(opts(dir.path())).unwrap();
        old = sealed_segment(&spool, &[batch(0, 10)]).await;
        spool.close().unwrap();
    }
    // Renamed to a new segment's name, still holding the delivered segment's header and rows.
    std::fs::rename(seg_path(dir.path(), old, "seg"), seg_path(dir.path(), old + 1, "open")).unwrap();
    let (spool, rec) = Spool::open(opts(dir.path())).unwrap();
    assert!(spool.sealed("t").is_empty(), "{:?}", spool.sealed("t"));
    assert_eq!(rec.resealed, 0);
    assert!(files(dir.path(), "open").is_empty() && files(dir.path(), "seg").is_empty());
}

#[tokio::test]
async fn a_file_is_not_written_over_while_batches_read_from_it_are_alive() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(opts(dir.path())).unwrap();
    let first = sealed_segment(&spool, &[batch(0, 1500)]).await;
    let kept = spool.read_segment("t", first).unwrap();
    spool.remove_segments("t", &[first]).unwrap();

    // The only free file is still mapped by `kept`: the next segment takes a new file.
    let second = sealed_segment(&spool, &[batch(9000, 1500)]).await;
    assert_eq!(ids(&kept), (0..1500).collect::<Vec<_>>(), "the rows read before are intact");
    assert_eq!(kept[0].batch, batch(0, 1500));
    assert_eq!(files(dir.path(), "free"), vec![seg_path(dir.path(), first, "free")]);

    // Once they are dropped, the file is free to be written over.
    drop(kept);
    spool.remove_segments("t", &[second]).unwrap();
    let third = sealed_segment(&spool, &[batch(20_000, 5)]).await;
    assert_eq!(ids(&spool.read_segment("t", third).unwrap()), (20_000..20_005).collect::<Vec<_>>());
    assert_eq!(files(dir.path(), "free").len(), 1, "one of the two free files was reused");
}

#[tokio::test]
async fn at_most_keep_free_files_are_kept_per_table() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(opts(dir.path())).unwrap();
    let mut seqs = Vec::new();
    for i in 0..KEEP_FREE as i64 + 2 {
        seqs.push(sealed_segment(&spool, &[batch(i * 10, 10)]).await);
    }
    spool.remove_segments("t", &seqs).unwrap();
    assert_eq!(files(dir.path(), "free").len(), KEEP_FREE);
    assert!(files(dir.path(), "seg").is_empty());
    spool.close().unwrap();
    drop(spool);
    // Kept across a restart, and reused after it.
    let (spool, rec) = Spool::open(opts(dir.path())).unwrap();
    assert!(rec.pending.is_empty(), "free files hold nothing to deliver: {:?}", rec.pending);
    let next = sealed_segment(&spool, &[batch(500, 2)]).await;
    assert_eq!(files(dir.path(), "free").len(), KEEP_FREE - 1);
    assert_eq!(ids(&spool.read_segment("t", next).unwrap()), vec![500, 501]);
}

/// The segment at `path` rewritten as the previous format wrote it: version 1, no segment number
/// in the header, record checksums not stamped with it.
fn as_version_1(path: &Path, seq: u64) {
    let data = std::fs::read(path).unwrap();
    let tlen = u16::from_le_bytes([data[12], data[13]]) as usize;
    let mut out = Vec::new();
    out.extend_from_slice(b"CHUTESEG");
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&data[12..14 + tlen]);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let mix = (seq as u32) ^ ((seq >> 32) as u32);
    let mut pos = 14 + tlen + 8 + 4;
    while pos < data.len() {
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap()) ^ mix;
        out.extend_from_slice(&data[pos..pos + 4]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&data[pos + 8..pos + 9 + len]);
        pos += 9 + len;
    }
    std::fs::write(path, out).unwrap();
}

#[tokio::test]
async fn segments_of_the_previous_format_are_recovered_and_read_after_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (sealed, open);
    {
        let (spool, _) = Spool::open(opts(dir.path())).unwrap();
        sealed = sealed_segment(&spool, &[batch(0, 4), batch(4, 600)]).await;
        open = sealed_segment(&spool, &[batch(1000, 2)]).await;
        spool.close().unwrap();
    }
    as_version_1(&seg_path(dir.path(), sealed, "seg"), sealed);
    as_version_1(&seg_path(dir.path(), open, "seg"), open);
    // The second one was still open when the old version stopped.
    std::fs::rename(seg_path(dir.path(), open, "seg"), seg_path(dir.path(), open, "open")).unwrap();

    let (spool, rec) = Spool::open(opts(dir.path())).unwrap();
    assert_eq!((rec.resealed, rec.truncated_bytes), (1, 0));
    let rows: Vec<u64> = spool.sealed("t").iter().map(|s| s.rows).collect();
    assert_eq!(rows, vec![604, 2]);
    assert_eq!(ids(&spool.read_segment("t", sealed).unwrap()), (0..604).collect::<Vec<_>>());
    assert_eq!(ids(&spool.read_segment("t", open).unwrap()), vec![1000, 1001]);
}
