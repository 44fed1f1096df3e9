//! The write-ahead spool: durable, append-only storage for batches between their arrival and
//! their delivery to the store. A client is acknowledged once its batch is in a synced segment.
//!
//! # On-disk format
//!
//! ```text
//! <dir>/LOCK                      flock'ed by the one process that owns the spool
//! <dir>/ID                        this spool's random id (part of every dedup token)
//! <dir>/<table>/<seq>.open        the segment being appended to (at most one per table)
//! <dir>/<table>/<seq>.seg         sealed segments: immutable, waiting for delivery
//! <dir>/<table>/<seq>.corrupt     a sealed segment that failed its checksums (kept, not sent)
//! <dir>/<table>/<seq>.free        a delivered segment's file, kept to be written over (below)
//! <dir>/<table>/plan              the delivery in progress (see below)
//! <dir>/<table>/NEXT              segment numbers below this one may have been used (decimal)
//! ```
//!
//! `<seq>` is a 16-digit hex number, increasing per table and never used twice within a spool
//! id: dedup tokens are made of it, so a reused number would make the store drop new rows as a
//! retry of old ones. Numbers are reserved in blocks of 1024 (`NEXT`, written and synced before
//! a block's first number is used); at open, numbering resumes at the larger of the reservation
//! and the highest segment on disk plus one. A segment file is a header
//! (`CHUTESEG`, format version u32 LE (2), table name length u16 LE, table name, segment number
//! u64 LE, CRC32C u32 LE of the preceding header bytes) followed by records:
//!
//! ```text
//! len u32 LE | crc32c u32 LE of (kind, payload), XOR the segment number folded to 32 bits | kind u8 | payload (len bytes)
//! kind 1, a batch: source length u16 LE | source | row count u32 LE | Arrow IPC stream (schema + one batch)
//! kind 2, padding: zeros, so that the next batch's IPC stream starts at a multiple of 8 bytes
//! ```
//!
//! Readers skip records of any other kind than a batch (older versions skip padding too).
//!
//! Version 1 segments (no number in the header, checksums not XORed) are still read.
//!
//! # Reused files
//!
//! A delivered segment's file is not deleted but renamed `<seq>.free` (at most
//! [`KEEP_FREE`] per table; more are deleted), and the table's next segment is written over it
//! from the start. Writing over blocks that are already allocated and written makes an
//! `fdatasync` one data write and a cache flush: an append also has to write the inode (the
//! size grew) and, on ext4, convert the new extents in a kernel worker after the write, which
//! under a full CPU waited 40-140 ms for that worker (the slowest acknowledgements of an OTLP
//! load were all such syncs). Records of the earlier segment beyond the new one's end fail the
//! checksum of the new number, so recovery ends the new segment where its own records end, and
//! a reused file whose new header never reached the disk holds nothing (its header names another
//! number). A segment is cut to its length when sealed. A file is reused only once no batch read
//! from it is alive (they share its memory, see below).
//!
//! # Writing: group commit
//!
//! One writer thread owns the open segments. It takes every append waiting in its queue, writes
//! them, `fdatasync`s each file it touched (and the directory when a file was created), and only
//! then answers each append. Appends that arrive during a sync join the next group, so a busy
//! spool syncs about once per `fsync_interval` (counted from the start of the previous sync, so
//! a sync slower than the interval is followed at once by the next) and an idle one answers as
//! soon as the sync ends. A group stops waiting after a pause of a sixteenth of the interval in
//! which no append came (the writer sleeps through the pause instead of waiting on its queue, so
//! appends do not wake it): clients that each wait for their answer send their next requests
//! together, and once the last of them is in, the rest of the interval would only delay them.
//!
//! The batches of one request (one per table, [`Spool::append_all`]) are one append and always
//! join the same group. A write or sync that fails refuses the whole group, and every open
//! segment is cut back to what was synced before it, so a request is stored in all its tables or
//! in none, and nothing a client was refused is delivered later.
//!
//! Small batches (under 512 rows) of one group that share a table, a source and a schema are
//! concatenated into one record, in arrival order: a record's fixed cost (IPC schema and
//! dictionaries, encoded here and decoded again at delivery) outweighs a few hundred rows. Larger
//! batches are encoded on the appending thread, in parallel, and are one record each: merging
//! them would only add a copy on the one writer thread (NDJSON bodies of 1,000 events lost 12-24%
//! of their throughput when they were merged). A group's records are
//! synced together and answered together, so merging changes no promise: an append is answered
//! after its rows are synced, and a record is never split.
//!
//! A segment is sealed (renamed `.open` → `.seg`, directory synced) when it holds `seal_rows`
//! rows or `seal_bytes` bytes, or `seal_age` after its first record: a sealed segment is one
//! batch for the store.
//!
//! # Recovery rules (at open)
//!
//! - An `.open` segment is read record by record; the first record that is incomplete or fails
//!   its checksum ends it, and the file is truncated there (the torn tail of a write that was
//!   never acknowledged, because acknowledgement follows the sync). What remains is sealed.
//! - A sealed segment is trusted by its size; its checksums are verified when it is read for
//!   delivery. One that fails is renamed `.corrupt`, logged, and left for a person.
//! - Nothing is deleted except by [`Spool::remove_segments`] after the store confirmed the rows.
//! - A sealed segment is never written again, only renamed or deleted: delivery reads it through
//!   a read-only memory map, and the batches it gets share that memory (so a segment must never
//!   shrink while chute runs; the data directory is locked to one process). Once delivered, its
//!   file is written over as a new segment only after every batch read from it was dropped.
//! - `.free` files hold nothing acknowledged; at open, up to [`KEEP_FREE`] per table are kept.
//!
//! # Delivery plans
//!
//! Delivery may merge several sealed segments into one insert. Before inserting, it records the
//! plan (first and last segment) in `plan`, synced. After a crash the same plan is replayed, so
//! the insert is rebuilt from exactly the same rows under exactly the same dedup tokens.

mod format;
mod merge;
mod writer;

pub use format::SpoolRecord;
pub use merge::concat_batches;

use arrow_array::RecordBatch;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SpoolError {
    #[error("spool is full ({used} of {limit} bytes in use)")]
    Full { used: u64, limit: u64 },
    #[error("spool i/o error: {0}")]
    Io(String),
    #[error("spool is closed")]
    Closed,
    #[error("spool segment {path} is corrupt: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{0}")]
    Locked(String),
    #[error("invalid table name {0:?} (letters, digits and _ only)")]
    BadTable(String),
    #[error("cannot encode batch: {0}")]
    Encode(String),
}

impl From<std::io::Error> for SpoolError {
    fn from(e: std::io::Error) -> Self {
        SpoolError::Io(e.to_string())
    }
}

#[derive(Clone, Debug)]
pub struct SpoolOptions {
    pub dir: PathBuf,
    /// Syncs happen at most this often under load.
    pub fsync_interval: Duration,
    /// Appends are refused (`Full`) above this many bytes on disk.
    pub max_bytes: u64,
    pub seal_rows: u64,
    pub seal_bytes: u64,
    pub seal_age: Duration,
}

/// A sealed segment waiting for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentMeta {
    pub table: String,
    pub seq: u64,
    pub rows: u64,
    pub bytes: u64,
    /// When its first record was written (file time for segments found at startup).
    pub created: SystemTime,
}

/// The delivery in progress for one table: the `count` sealed segments with sequence numbers
/// in `first..=last`. If fewer than `count` remain when the plan is replayed, the store had
/// confirmed the insert and the crash came while its segments were being removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub first: u64,
    pub last: u64,
    pub count: u64,
}

/// What the spool holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpoolStats {
    pub bytes: u64,
    pub segments: u64,
    pub rows: u64,
    pub oldest_unsent_age_seconds: f64,
}

/// What recovery found at open.
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    /// Open segments that were sealed after a restart.
    pub resealed: u64,
    /// Bytes cut from torn tails.
    pub truncated_bytes: u64,
    /// Sealed segments waiting for delivery, per table.
    pub pending: BTreeMap<String, u64>,
}

pub(crate) struct Shared {
    pub dir: PathBuf,
    pub id: String,
    pub opts: SpoolOptions,
    /// Bytes of every segment on disk (open and sealed).
    pub bytes: AtomicU64,
    pub sealed: Mutex<BTreeMap<String, BTreeMap<u64, SegmentMeta>>>,
    /// Wakes delivery when a segment is sealed.
    pub notify: tokio::sync::Notify,
    pub sealed_rx_waiters: Mutex<Vec<std::sync::mpsc::Sender<(String, u64)>>>,
    /// Told how long each group commit took (see [`Spool::observe_commits`]).
    pub commit_observer: std::sync::OnceLock<CommitObserver>,
    /// Per table, delivered segments' files waiting to be written over (`<seq>.free`).
    pub free: Mutex<HashMap<String, Vec<FreeFile>>>,
    /// Per sealed segment read for delivery, the mappings its batches may still use.
    pub mapped: Mutex<HashMap<(String, u64), Vec<format::MappingWatch>>>,
}

/// Delivered segments' files kept per table for reuse; more are deleted.
pub const KEEP_FREE: usize = 4;

/// A delivered segment's file, to be written over by a new segment of its table.
pub(crate) struct FreeFile {
    pub path: PathBuf,
    /// Mappings of the delivered segment; the file is reused only once none is alive.
    pub watches: Vec<format::MappingWatch>,
}

impl Shared {
    /// A free file of `table` that no batch maps any more (removed from the pool).
    pub(crate) fn take_free(&self, table: &str) -> Option<PathBuf> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let files = free.get_mut(table)?;
        let i = files.iter().position(|f| f.watches.iter().all(|w| w.strong_count() == 0))?;
        Some(files.remove(i).path)
    }
}

/// Called by the writer thread after each group commit with the time it took to write and sync
/// the group (what every append of the group waited for beyond the sync interval).
pub type CommitObserver = Box<dyn Fn(Duration) + Send + Sync>;

/// The spool. Cheap to clone; the writer thread stops when [`Spool::close`] is called.
#[derive(Clone)]
pub struct Spool {
    shared: Arc<Shared>,
    writer: Arc<writer::WriterHandle>,
    _lock: Arc<File>,
}

/// Resolves when an append is durable (or failed).
pub type AppendTicket = tokio::sync::oneshot::Receiver<Result<(), SpoolError>>;

pub fn valid_table(name: &str) -> bool {
    !name.is_empty() && name.len() <= 200 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) fn seg_name(seq: u64, ext: &str) -> String {
    format!("{seq:016x}.{ext}")
}

fn parse_seg_name(name: &str) -> Option<(u64, &str)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.len() != 16 {
        return None;
    }
    Some((u64::from_str_radix(stem, 16).ok()?, ext))
}

pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Spool {
    /// Opens (creating if needed) the spool in `opts.dir`, recovers what a previous process left,
    /// and starts the writer thread.
    pub fn open(opts: SpoolOptions) -> Result<(Spool, Recovery), SpoolError> {
        std::fs::create_dir_all(&opts.dir)?;
        let lock = lock(&opts.dir)?;
        let id = read_or_create_id(&opts.dir)?;
        let mut recovery = Recovery::default();
        let mut sealed: BTreeMap<String, BTreeMap<u64, SegmentMeta>> = BTreeMap::new();
        let mut next_seq: HashMap<String, u64> = HashMap::new();
        let mut bytes = 0u64;
        let mut free: HashMap<String, Vec<FreeFile>> = HashMap::new();
        for entry in std::fs::read_dir(&opts.dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            let table = entry.file_name().to_string_lossy().into_owned();
            if !valid_table(&table) {
                continue;
            }
            let tdir = entry.path();
            let mut max_seq = 0u64;
            let mut names: Vec<(u64, String, PathBuf)> = Vec::new();
            let mut free_files: Vec<FreeFile> = Vec::new();
            for f in std::fs::read_dir(&tdir)? {
                let f = f?;
                let name = f.file_name().to_string_lossy().into_owned();
                if let Some((seq, ext)) = parse_seg_name(&name) {
                    max_seq = max_seq.max(seq);
                    names.push((seq, ext.to_string(), f.path()));
                }
            }
            names.sort();
            for (seq, ext, path) in names {
                match ext.as_str() {
                    "open" => {
                        let (rows, good_len, cut) = format::recover_open(&path, seq)?;
                        recovery.truncated_bytes += cut;
                        if rows == 0 {
                            std::fs::remove_file(&path)?;
                            continue;
                        }
                        let sealed_path = tdir.join(seg_name(seq, "seg"));
                        std::fs::rename(&path, &sealed_path)?;
                        recovery.resealed += 1;
                        let created = file_time(&sealed_path);
                        bytes += good_len;
                        sealed
                            .entry(table.clone())
                            .or_default()
                            .insert(seq, SegmentMeta { table: table.clone(), seq, rows, bytes: good_len, created });
                    }
                    "seg" => {
                        let (rows, len) = format::scan_sealed(&path)?;
                        bytes += len;
                        sealed.entry(table.clone()).or_default().insert(
                            seq,
                            SegmentMeta { table: table.clone(), seq, rows, bytes: len, created: file_time(&path) },
                        );
                    }
                    "free" if free_files.len() < KEEP_FREE => free_files.push(FreeFile { path, watches: Vec::new() }),
                    "free" => std::fs::remove_file(&path)?,
                    _ => {}
                }
            }
            free.insert(table.clone(), free_files);
            sync_dir(&tdir)?;
            // Numbers handed out before may all be delivered and deleted: the reservation
            // remembers them, so no segment number (and no insert token) is ever used twice.
            let reserved = read_reservation(&tdir);
            next_seq.insert(table.clone(), (max_seq + 1).max(reserved));
        }
        for (t, segs) in &sealed {
            recovery.pending.insert(t.clone(), segs.len() as u64);
        }
        let shared = Arc::new(Shared {
            dir: opts.dir.clone(),
            id,
            opts: opts.clone(),
            bytes: AtomicU64::new(bytes),
            sealed: Mutex::new(sealed),
            notify: tokio::sync::Notify::new(),
            sealed_rx_waiters: Mutex::new(Vec::new()),
            commit_observer: std::sync::OnceLock::new(),
            free: Mutex::new(free),
            mapped: Mutex::new(HashMap::new()),
        });
        let writer = writer::start(shared.clone(), next_seq)?;
        if recovery.resealed > 0 || recovery.truncated_bytes > 0 {
            tracing::warn!(
                resealed = recovery.resealed,
                truncated_bytes = recovery.truncated_bytes,
                "spool recovered segments left open by a previous process"
            );
        }
        Ok((Spool { shared, writer: Arc::new(writer), _lock: Arc::new(lock) }, recovery))
    }

    /// This spool's id: stable for the life of the directory, unique across spools.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    pub fn options(&self) -> &SpoolOptions {
        &self.shared.opts
    }

    /// Queues `batch` for `table`. The ticket resolves once the batch is synced to disk.
    /// Refused at once with [`SpoolError::Full`] when the spool is at its size limit.
    pub fn append(&self, table: &str, source: &str, batch: RecordBatch) -> Result<AppendTicket, SpoolError> {
        let mut tickets = self.append_all(source, vec![(table.to_string(), batch)])?;
        tickets.pop().ok_or(SpoolError::Closed)
    }

    /// Queues the batches of one request, one per table, as one: they are synced in the same
    /// group, and a group in which a write or sync fails is refused and cut as a whole, so the
    /// request is stored in all its tables or in none. One ticket per batch, in order, each
    /// resolving once the group is synced (all with the same outcome). Nothing is queued when a
    /// table name is invalid or the spool is at its size limit.
    pub fn append_all(
        &self,
        source: &str,
        batches: Vec<(String, RecordBatch)>,
    ) -> Result<Vec<AppendTicket>, SpoolError> {
        if let Some((table, _)) = batches.iter().find(|(t, _)| !valid_table(t)) {
            return Err(SpoolError::BadTable(table.clone()));
        }
        let used = self.shared.bytes.load(Ordering::Relaxed);
        if used >= self.shared.opts.max_bytes {
            return Err(SpoolError::Full { used, limit: self.shared.opts.max_bytes });
        }
        self.writer.append_all(source, batches)
    }

    /// Seals every open segment now (for shutdown, and for tests). Returns once done.
    pub fn seal_all(&self) -> Result<(), SpoolError> {
        self.writer.seal_all()
    }

    /// Sealed segments of `table`, oldest first.
    pub fn sealed(&self, table: &str) -> Vec<SegmentMeta> {
        let s = self.shared.sealed.lock().unwrap_or_else(|p| p.into_inner());
        s.get(table).map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// Tables that have sealed segments waiting or an interrupted delivery plan.
    pub fn tables_with_work(&self) -> Vec<String> {
        let mut out = self.tables_with_pending();
        if let Ok(entries) = std::fs::read_dir(&self.shared.dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if valid_table(&name) && e.path().join("plan").exists() && !out.contains(&name) {
                    out.push(name);
                }
            }
        }
        out.sort();
        out
    }

    /// Tables that have sealed segments waiting.
    pub fn tables_with_pending(&self) -> Vec<String> {
        let s = self.shared.sealed.lock().unwrap_or_else(|p| p.into_inner());
        s.iter().filter(|(_, m)| !m.is_empty()).map(|(t, _)| t.clone()).collect()
    }

    /// Resolves when a segment is sealed (or immediately if one was sealed since the last call).
    pub async fn sealed_notified(&self) {
        self.shared.notify.notified().await
    }

    /// A channel that receives `(table, seq)` for every segment sealed from now on.
    pub fn subscribe(&self) -> std::sync::mpsc::Receiver<(String, u64)> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.shared.sealed_rx_waiters.lock().unwrap_or_else(|p| p.into_inner()).push(tx);
        rx
    }

    fn table_dir(&self, table: &str) -> PathBuf {
        self.shared.dir.join(table)
    }

    /// Reads every record of a sealed segment, verifying checksums. A segment that fails is
    /// renamed `.corrupt` and forgotten (logged loudly): its rows cannot be trusted.
    pub fn read_segment(&self, table: &str, seq: u64) -> Result<Vec<SpoolRecord>, SpoolError> {
        let path = self.table_dir(table).join(seg_name(seq, "seg"));
        match format::read_all(&path) {
            Ok((records, watch)) => {
                let mut mapped = self.shared.mapped.lock().unwrap_or_else(|p| p.into_inner());
                let watches = mapped.entry((table.to_string(), seq)).or_default();
                watches.retain(|w| w.strong_count() > 0);
                watches.push(watch);
                Ok(records)
            }
            Err(e @ SpoolError::Corrupt { .. }) => {
                tracing::error!(table, seq, error = %e, "spool segment failed its checksums; moved aside");
                let _ = std::fs::rename(&path, self.table_dir(table).join(seg_name(seq, "corrupt")));
                self.forget(table, &[seq]);
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    fn forget(&self, table: &str, seqs: &[u64]) {
        let mut s = self.shared.sealed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = s.get_mut(table) {
            for seq in seqs {
                if let Some(meta) = m.remove(seq) {
                    self.shared
                        .bytes
                        .fetch_sub(meta.bytes.min(self.shared.bytes.load(Ordering::Relaxed)), Ordering::Relaxed);
                }
            }
        }
    }

    /// Removes sealed segments whose rows the store has confirmed: their files are kept for
    /// reuse (`.free`, up to [`KEEP_FREE`] per table) or deleted.
    pub fn remove_segments(&self, table: &str, seqs: &[u64]) -> Result<(), SpoolError> {
        let dir = self.table_dir(table);
        for seq in seqs {
            let path = dir.join(seg_name(*seq, "seg"));
            let watches =
                self.shared.mapped.lock().unwrap_or_else(|p| p.into_inner()).remove(&(table.to_string(), *seq));
            // The rename or unlink runs outside the pool's lock, which the writer thread takes
            // for every new segment (an unlink of a 64 MiB file can take milliseconds).
            let keep =
                self.shared.free.lock().unwrap_or_else(|p| p.into_inner()).get(table).map_or(0, Vec::len) < KEEP_FREE;
            let free_path = dir.join(seg_name(*seq, "free"));
            let done = if keep { std::fs::rename(&path, &free_path) } else { std::fs::remove_file(&path) };
            match done {
                Ok(()) if keep => {
                    let file = FreeFile { path: free_path, watches: watches.unwrap_or_default() };
                    self.shared
                        .free
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(table.to_string())
                        .or_default()
                        .push(file);
                }
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        sync_dir(&dir)?;
        self.forget(table, seqs);
        Ok(())
    }

    /// Records the delivery plan for `table` durably before the insert it describes.
    pub fn write_plan(&self, table: &str, plan: Plan) -> Result<(), SpoolError> {
        let dir = self.table_dir(table);
        let tmp = dir.join("plan.tmp");
        let mut f = File::create(&tmp)?;
        writeln!(f, "{:016x} {:016x} {:016x}", plan.first, plan.last, plan.count)?;
        f.sync_data()?;
        std::fs::rename(&tmp, dir.join("plan"))?;
        sync_dir(&dir)?;
        Ok(())
    }

    /// The plan left by an interrupted delivery, if any.
    pub fn read_plan(&self, table: &str) -> Result<Option<Plan>, SpoolError> {
        match std::fs::read_to_string(self.table_dir(table).join("plan")) {
            Ok(s) => {
                let mut it = s.split_whitespace().map(|x| u64::from_str_radix(x, 16));
                match (it.next(), it.next(), it.next()) {
                    (Some(Ok(first)), Some(Ok(last)), Some(Ok(count))) if first <= last => {
                        Ok(Some(Plan { first, last, count }))
                    }
                    _ => {
                        tracing::warn!(table, "unreadable delivery plan ignored");
                        Ok(None)
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn clear_plan(&self, table: &str) -> Result<(), SpoolError> {
        let dir = self.table_dir(table);
        match std::fs::remove_file(dir.join("plan")) {
            Ok(()) => sync_dir(&dir).map_err(Into::into),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Has `f` told the duration of every group commit from now on (for a latency histogram).
    /// Only the first observer counts.
    pub fn observe_commits(&self, f: CommitObserver) {
        let _ = self.shared.commit_observer.set(f);
    }

    /// Bytes synced and not yet delivered (what `max_bytes` bounds): a counter read, unlike
    /// [`Spool::stats`], which walks every segment.
    pub fn used_bytes(&self) -> u64 {
        self.shared.bytes.load(Ordering::Relaxed)
    }

    pub fn stats(&self) -> SpoolStats {
        let s = self.shared.sealed.lock().unwrap_or_else(|p| p.into_inner());
        let now = SystemTime::now();
        let mut st = SpoolStats { bytes: self.shared.bytes.load(Ordering::Relaxed), ..Default::default() };
        let mut oldest: Option<SystemTime> = None;
        for m in s.values() {
            for seg in m.values() {
                st.segments += 1;
                st.rows += seg.rows;
                oldest = Some(oldest.map_or(seg.created, |o| o.min(seg.created)));
            }
        }
        if let Some(o) = self.writer.oldest_open() {
            oldest = Some(oldest.map_or(o, |x| x.min(o)));
        }
        st.oldest_unsent_age_seconds = oldest.and_then(|o| now.duration_since(o).ok()).map_or(0.0, |d| d.as_secs_f64());
        st
    }

    /// Rows and bytes in each table's open segment: (table, rows, bytes).
    pub fn open_fill(&self) -> Vec<(String, u64, u64)> {
        self.writer.open_fill()
    }

    /// Stops the writer after sealing open segments. Appends after this fail with `Closed`.
    pub fn close(&self) -> Result<(), SpoolError> {
        self.writer.close()
    }
}

fn file_time(p: &Path) -> SystemTime {
    std::fs::metadata(p).and_then(|m| m.modified()).unwrap_or_else(|_| SystemTime::now())
}

fn lock(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join("LOCK");
    let mut f = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
    // SAFETY: flock on an open file descriptor.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        return Err(SpoolError::Locked(format!(
            "spool {} is in use by another chute process{}",
            dir.display(),
            if holder.trim().is_empty() { String::new() } else { format!(" (pid {})", holder.trim()) }
        )));
    }
    f.set_len(0)?;
    write!(f, "{}", std::process::id())?;
    Ok(f)
}

/// The file in a table's directory that holds the segment-number reservation.
pub(crate) const RESERVATION: &str = "NEXT";

/// Segment numbers are reserved this many at a time (one synced write per this many segments).
pub(crate) const RESERVE_BLOCK: u64 = 1024;

/// The first segment number not yet reserved in `tdir` (0 when nothing was ever reserved).
fn read_reservation(tdir: &Path) -> u64 {
    std::fs::read_to_string(tdir.join(RESERVATION)).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// Records (synced) that numbers below `next` may be in use.
pub(crate) fn write_reservation(tdir: &Path, next: u64) -> Result<(), SpoolError> {
    let tmp = tdir.join(format!("{RESERVATION}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(next.to_string().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, tdir.join(RESERVATION))?;
    sync_dir(tdir)?;
    Ok(())
}

fn read_or_create_id(dir: &Path) -> Result<String, SpoolError> {
    let path = dir.join("ID");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(s);
        }
    }
    let id = format!("{:016x}", rand::random::<u64>());
    let tmp = dir.join("ID.tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(id.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    sync_dir(dir)?;
    Ok(id)
}

/// A read-only look at a spool directory (for `chute spool inspect`), safe while a server runs.
pub fn inspect(dir: &Path) -> Result<Vec<InspectedTable>, SpoolError> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(out) };
    let mut tables: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    tables.sort();
    for tdir in tables {
        let table = tdir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut t = InspectedTable { table, ..Default::default() };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&tdir)?.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if name == "plan" {
                t.plan = std::fs::read_to_string(&f).ok().map(|s| s.trim().to_string());
                continue;
            }
            let Some((seq, ext)) = parse_seg_name(&name).filter(|(_, ext)| *ext != "free") else { continue };
            let (rows, bytes) = format::scan_sealed(&f).unwrap_or((0, 0));
            t.segments.push(InspectedSegment { seq, state: ext.to_string(), rows, bytes, modified: file_time(&f) });
        }
        out.push(t);
    }
    Ok(out)
}

#[derive(Clone, Debug, Default)]
pub struct InspectedTable {
    pub table: String,
    pub segments: Vec<InspectedSegment>,
    pub plan: Option<String>,
}

#[derive(Clone, Debug)]
pub struct InspectedSegment {
    pub seq: u64,
    /// `open`, `seg` (sealed) or `corrupt`.
    pub state: String,
    pub rows: u64,
    pub bytes: u64,
    pub modified: SystemTime,
}
