//! The writer thread: merges the appends of a group into records, appends them to open
//! segments, syncs them, answers appends after their sync, and seals segments that reached a
//! batch limit or their age.

use crate::format::{encode_batch, header, padding_before, stamp};
use crate::{AppendTicket, SegmentMeta, Shared, SpoolError, seg_name, sync_dir};
use arrow_array::RecordBatch;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

/// A group is written early once it holds this many bytes, whatever the interval says.
const GROUP_BYTES: usize = 16 << 20;

/// A group stops waiting for more appends after a pause of this fraction of `fsync_interval`
/// (125 µs of the default 2 ms) in which none came. Clients that each wait for their answer send
/// their next requests together, right after a sync answered them: when the last of them is in,
/// the rest of the interval would only delay them all.
const QUIET_FRACTION: u32 = 16;

/// Batches with fewer rows are merged into records on the writer thread; larger ones are
/// encoded by the caller and written as they are.
const MERGE_BELOW_ROWS: usize = 512;

type Reply = tokio::sync::oneshot::Sender<Result<(), SpoolError>>;

enum Cmd {
    /// The batches of one request, one per table: they always join the same group.
    Append(Vec<Pending>),
    SealAll(Sender<Result<(), SpoolError>>),
    Close(Sender<Result<(), SpoolError>>),
}

pub(crate) struct WriterHandle {
    tx: Mutex<Option<Sender<Cmd>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// First-record time of each open segment (for the "oldest unsent" figure).
    open_since: Arc<Mutex<BTreeMap<String, SystemTime>>>,
    /// Rows and bytes of each open segment (how full the batch being built is).
    open_fill: Arc<Mutex<BTreeMap<String, (u64, u64)>>>,
}

impl WriterHandle {
    pub fn append_all(
        &self,
        source: &str,
        batches: Vec<(String, RecordBatch)>,
    ) -> Result<Vec<AppendTicket>, SpoolError> {
        let mut pending = Vec::with_capacity(batches.len());
        let mut tickets = Vec::with_capacity(batches.len());
        for (table, batch) in batches {
            // A large batch is encoded here, on the caller's thread, in parallel with other
            // requests. Small ones are encoded on the writer thread, merged with the other small
            // appends of their group that share a table and a source (see `Writer::commit`): per
            // record, the encoding here and the decoding at delivery cost more than a small
            // batch's rows do.
            let payload = if batch.num_rows() >= MERGE_BELOW_ROWS {
                let mut bytes = Vec::with_capacity(batch.get_array_memory_size() / 2 + 256);
                let rows = encode_batch(&mut bytes, source, &batch)?;
                Payload::Encoded(bytes, rows)
            } else {
                Payload::Batch(batch)
            };
            let (reply, ticket) = tokio::sync::oneshot::channel();
            let size = payload.size();
            pending.push(Pending { table, source: source.to_string(), payload, size, reply });
            tickets.push(ticket);
        }
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let tx = tx.as_ref().ok_or(SpoolError::Closed)?;
        tx.send(Cmd::Append(pending)).map_err(|_| SpoolError::Closed)?;
        Ok(tickets)
    }

    fn call(&self, make: impl FnOnce(Sender<Result<(), SpoolError>>) -> Cmd) -> Result<(), SpoolError> {
        let (tx, rx) = channel();
        {
            let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
            let Some(sender) = guard.as_ref() else { return Ok(()) };
            sender.send(make(tx)).map_err(|_| SpoolError::Closed)?;
        }
        rx.recv().map_err(|_| SpoolError::Closed)?
    }

    pub fn seal_all(&self) -> Result<(), SpoolError> {
        self.call(Cmd::SealAll)
    }

    pub fn close(&self) -> Result<(), SpoolError> {
        let r = self.call(Cmd::Close);
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
        r
    }

    pub fn open_fill(&self) -> Vec<(String, u64, u64)> {
        self.open_fill.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(t, (r, b))| (t.clone(), *r, *b)).collect()
    }

    pub fn oldest_open(&self) -> Option<SystemTime> {
        self.open_since.lock().unwrap_or_else(|p| p.into_inner()).values().min().copied()
    }
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

struct OpenSeg {
    file: File,
    path: PathBuf,
    seq: u64,
    rows: u64,
    /// Bytes written (header included).
    len: u64,
    /// Bytes known to be on disk.
    synced_len: u64,
    opened: Instant,
    opened_wall: SystemTime,
    /// The file was created since the last sync (its directory entry needs a sync too).
    created: bool,
    /// The file's length when it was taken for this segment (a reused file's old length): a
    /// segment shorter than that is cut to its own length when sealed.
    reused_len: u64,
}

struct Writer {
    shared: Arc<Shared>,
    open: HashMap<String, OpenSeg>,
    next_seq: HashMap<String, u64>,
    /// Per table, the first segment number not reserved on disk.
    reserved: HashMap<String, u64>,
    open_since: Arc<Mutex<BTreeMap<String, SystemTime>>>,
    open_fill: Arc<Mutex<BTreeMap<String, (u64, u64)>>>,
    last_sync: Instant,
}

pub(crate) fn start(shared: Arc<Shared>, next_seq: HashMap<String, u64>) -> Result<WriterHandle, SpoolError> {
    let (tx, rx) = channel();
    let open_since = Arc::new(Mutex::new(BTreeMap::new()));
    let open_fill = Arc::new(Mutex::new(BTreeMap::new()));
    let mut w = Writer {
        shared,
        open: HashMap::new(),
        // What open found reserved is where numbering starts, so the first segment of each
        // table reserves the next block.
        reserved: next_seq.clone(),
        next_seq,
        open_since: open_since.clone(),
        open_fill: open_fill.clone(),
        last_sync: Instant::now(),
    };
    let thread = std::thread::Builder::new()
        .name("chute-spool-writer".into())
        .spawn(move || w.run(rx))
        .map_err(|e| SpoolError::Io(format!("cannot start spool writer: {e}")))?;
    Ok(WriterHandle { tx: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)), open_since, open_fill })
}

struct Pending {
    table: String,
    source: String,
    payload: Payload,
    /// The payload's size, measured on the appending thread (for [`GROUP_BYTES`]): for the
    /// nested map columns of OTLP tables it walks every child array, ~3% of the writer thread's
    /// time when it was measured there for each of a group's hundreds of small appends.
    size: usize,
    reply: Reply,
}

/// What an append carries to the writer thread.
enum Payload {
    /// A small batch, to be merged with others into one record.
    Batch(RecordBatch),
    /// A record already encoded, and its rows.
    Encoded(Vec<u8>, u32),
}

impl Payload {
    fn size(&self) -> usize {
        match self {
            Payload::Batch(b) => b.get_array_memory_size(),
            Payload::Encoded(bytes, _) => bytes.len(),
        }
    }
}

/// Appends of one group that become one spool record: one encoded append, or small batches of
/// the same table, source and schema.
struct Record {
    table: String,
    source: String,
    body: Body,
    replies: Vec<Reply>,
}

enum Body {
    /// Encoded by the caller, and its rows.
    Encoded(Vec<u8>, u32),
    /// To be concatenated and encoded here.
    Batches(Vec<RecordBatch>),
}

/// The appends of a group, as records in order of first arrival. Appends of one table and
/// source keep their order; the order between tables or sources does not matter to a store.
fn merge_into_records(group: Vec<Pending>) -> Vec<Record> {
    let mut records: Vec<Record> = Vec::new();
    let mut open: HashMap<(String, String), usize> = HashMap::new();
    for p in group {
        let batch = match p.payload {
            Payload::Encoded(bytes, rows) => {
                let body = Body::Encoded(bytes, rows);
                records.push(Record { table: p.table, source: p.source, body, replies: vec![p.reply] });
                continue;
            }
            Payload::Batch(b) => b,
        };
        let key = (p.table, p.source);
        if let Some(r) = open.get(&key).map(|&i| &mut records[i])
            && let Body::Batches(batches) = &mut r.body
            && batches[0].schema_ref() == batch.schema_ref()
        {
            batches.push(batch);
            r.replies.push(p.reply);
            continue;
        }
        open.insert(key.clone(), records.len());
        let (table, source) = key;
        records.push(Record { table, source, body: Body::Batches(vec![batch]), replies: vec![p.reply] });
    }
    records
}

/// A record's bytes and its rows.
type Encoded = (Vec<u8>, u32);

/// One record's bytes and rows: its batches concatenated and encoded once.
fn encode_record(source: &str, batches: &[RecordBatch]) -> Result<Encoded, SpoolError> {
    let merged;
    let batch = match batches {
        [one] => one,
        _ => {
            merged = crate::merge::concat_batches(batches[0].schema_ref(), batches)
                .map_err(|e| SpoolError::Encode(format!("cannot merge batches: {e}")))?;
            &merged
        }
    };
    let mut bytes = Vec::with_capacity(batch.get_array_memory_size() / 2 + 256);
    let rows = encode_batch(&mut bytes, source, batch)?;
    Ok((bytes, rows))
}

impl Writer {
    fn run(&mut self, rx: Receiver<Cmd>) {
        loop {
            let cmd = match self.next_seal_deadline() {
                Some(deadline) => match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(c) => Some(c),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        let _ = self.seal_matching(|_| true);
                        return;
                    }
                },
                None => match rx.recv() {
                    Ok(c) => Some(c),
                    Err(_) => return,
                },
            };
            let mut group: Vec<Pending> = Vec::new();
            let mut control: Option<Cmd> = None;
            if let Some(c) = cmd {
                match c {
                    Cmd::Append(p) => group.extend(p),
                    other => control = Some(other),
                }
            }
            if !group.is_empty() {
                control = self.gather(&rx, &mut group);
                self.commit(group);
            }
            let opts = self.shared.opts.clone();
            let _ = self.seal_matching(|s| should_seal(&opts, s));
            match control {
                Some(Cmd::SealAll(done)) => {
                    let _ = done.send(self.seal_matching(|_| true));
                }
                Some(Cmd::Close(done)) => {
                    let _ = done.send(self.seal_matching(|_| true));
                    return;
                }
                _ => {}
            }
        }
    }

    /// Collects more appends into the group: everything queued now, and, if the last sync was
    /// less than `fsync_interval` ago, whatever arrives until then, unless a pause of a
    /// sixteenth of the interval passes without one. Stops at a control command (at the end of
    /// a pause).
    ///
    /// It sleeps through the pauses rather than waits on the queue: an append to a queue that a
    /// thread waits on wakes that thread, a syscall on the appending thread (on a VM also an
    /// interrupt to another core), a tenth of the receiving threads' CPU under wrk. So only the
    /// first append of a group wakes the writer. The group closes between one and two pauses
    /// after its last append.
    fn gather(&mut self, rx: &Receiver<Cmd>, group: &mut Vec<Pending>) -> Option<Cmd> {
        let interval = self.shared.opts.fsync_interval;
        let until = self.last_sync + interval;
        let pause = interval / QUIET_FRACTION;
        let mut size: usize = group.iter().map(|p| p.size).sum();
        // Whether the writer slept since the last append it took.
        let mut quiet = false;
        loop {
            if size >= GROUP_BYTES {
                return None;
            }
            match rx.try_recv() {
                Ok(Cmd::Append(p)) => {
                    size += p.iter().map(|p| p.size).sum::<usize>();
                    group.extend(p);
                    quiet = false;
                }
                Ok(other) => return Some(other),
                Err(_) => {
                    let now = Instant::now();
                    if now >= until || quiet {
                        return None;
                    }
                    std::thread::sleep((until - now).min(pause));
                    quiet = true;
                }
            }
        }
    }

    /// Writes a group and syncs it. The appends of one table and source become one record, so
    /// many small requests cost one encoding here and one decoding at delivery, not one each.
    /// A write or sync that fails refuses the whole group and cuts what it wrote: the batches of
    /// one request are in one group, so a request is stored in all its tables or in none.
    fn commit(&mut self, group: Vec<Pending>) {
        let started = Instant::now();
        let mut replies: Vec<Reply> = Vec::with_capacity(group.len());
        let mut failed: Option<SpoolError> = None;
        for r in merge_into_records(group) {
            replies.extend(r.replies);
            if failed.is_some() {
                continue;
            }
            let written = match r.body {
                Body::Encoded(mut bytes, rows) => self.write_one(&r.table, &mut bytes, rows),
                Body::Batches(batches) => encode_record(&r.source, &batches)
                    .and_then(|(mut bytes, rows)| self.write_one(&r.table, &mut bytes, rows)),
            };
            if let Err(e) = written {
                tracing::error!(table = %r.table, error = %e, "spool append failed; the appends of its group are refused");
                failed = Some(e);
            }
        }
        // The interval runs from the start of a sync, so it bounds how often the spool syncs
        // without adding itself to every sync's duration: a sync that took longer than the
        // interval is followed at once by the next group's.
        self.last_sync = Instant::now();
        let result = match failed {
            Some(e) => Err(e),
            None => self.sync_dirty().inspect_err(|e| {
                tracing::error!(error = %e, "spool sync failed; the appends of its group are refused");
            }),
        };
        if let Some(observe) = self.shared.commit_observer.get() {
            observe(started.elapsed());
        }
        match result {
            Ok(()) => {
                for r in replies {
                    let _ = r.send(Ok(()));
                }
            }
            Err(e) => {
                self.rollback_unsynced();
                for r in replies {
                    let _ = r.send(Err(e.clone()));
                }
            }
        }
    }

    /// Writes one encoded record (stamped here with its segment's number).
    fn write_one(&mut self, table: &str, bytes: &mut [u8], rows: u32) -> Result<(), SpoolError> {
        if !self.open.contains_key(table) {
            let seg = self.create_segment(table)?;
            self.open.insert(table.to_string(), seg);
        }
        let seg = self.open.get_mut(table).ok_or(SpoolError::Closed)?;
        stamp(bytes, seg.seq);
        let pad = padding_before(seg.len, bytes, seg.seq).unwrap_or_default();
        if let Err(e) = seg.file.write_all(&pad).and_then(|()| seg.file.write_all(bytes)) {
            // Cut a partial write off at once: records written after it in this group must not
            // follow a torn one (recovery would end the segment there).
            use std::io::Seek;
            let len = seg.len;
            let cut = seg.file.set_len(len).and_then(|_| seg.file.seek(std::io::SeekFrom::Start(len)));
            if let Err(cut) = cut {
                // Leave the segment to recovery at the next start (which cuts it at its last
                // whole record) and write on in a new one.
                tracing::error!(table, error = %cut, "cannot cut a failed spool write; segment left for recovery");
                self.open.remove(table);
            }
            return Err(e.into());
        }
        seg.len += (pad.len() + bytes.len()) as u64;
        seg.rows += rows as u64;
        self.open_fill.lock().unwrap_or_else(|p| p.into_inner()).insert(table.to_string(), (seg.rows, seg.len));
        Ok(())
    }

    fn create_segment(&mut self, table: &str) -> Result<OpenSeg, SpoolError> {
        let dir = self.shared.dir.join(table);
        if !dir.exists() {
            std::fs::create_dir_all(&dir)?;
            sync_dir(&self.shared.dir)?;
        }
        let seq = *self.next_seq.get(table).unwrap_or(&1);
        self.next_seq.insert(table.to_string(), seq + 1);
        // Reserve numbers before using them (see `Spool::open`): a number is never reused, even
        // after every segment was delivered and deleted and the process restarted.
        if seq >= self.reserved.get(table).copied().unwrap_or(0) {
            let until = seq + crate::RESERVE_BLOCK;
            crate::write_reservation(&dir, until)?;
            self.reserved.insert(table.to_string(), until);
        }
        let path = dir.join(seg_name(seq, "open"));
        // A delivered segment's file if one is free (see the crate docs, "Reused files"), else a
        // new one. The rename is made durable with the first sync, as a creation is.
        let mut file = match self.shared.take_free(table) {
            Some(free) => match std::fs::rename(&free, &path) {
                Ok(()) => std::fs::OpenOptions::new().write(true).open(&path)?,
                Err(e) => {
                    tracing::warn!(table, error = %e, "cannot reuse a delivered spool segment file; creating one");
                    let _ = std::fs::remove_file(&free);
                    std::fs::OpenOptions::new().create_new(true).write(true).open(&path)?
                }
            },
            None => std::fs::OpenOptions::new().create_new(true).write(true).open(&path)?,
        };
        let reused_len = file.metadata()?.len();
        let h = header(table, seq);
        file.write_all(&h)?;
        let now = SystemTime::now();
        self.open_since.lock().unwrap_or_else(|p| p.into_inner()).insert(table.to_string(), now);
        Ok(OpenSeg {
            file,
            path,
            seq,
            rows: 0,
            len: h.len() as u64,
            synced_len: 0,
            opened: Instant::now(),
            opened_wall: now,
            created: true,
            reused_len,
        })
    }

    /// Syncs every file the group wrote to (and the directory of a new one), and only then
    /// counts any of them synced, so that after a failed sync [`Writer::rollback_unsynced`] cuts
    /// all of the group.
    fn sync_dirty(&mut self) -> Result<(), SpoolError> {
        for (table, seg) in self.open.iter_mut().filter(|(_, s)| s.len != s.synced_len) {
            seg.file.sync_data()?;
            if seg.created {
                sync_dir(&self.shared.dir.join(table))?;
                seg.created = false;
            }
        }
        for seg in self.open.values_mut().filter(|s| s.len != s.synced_len) {
            self.shared.bytes.fetch_add(seg.len - seg.synced_len, Ordering::Relaxed);
            seg.synced_len = seg.len;
        }
        Ok(())
    }

    /// After a failed sync, cut every open segment back to what was synced before.
    fn rollback_unsynced(&mut self) {
        let tables: Vec<String> = self.open.keys().cloned().collect();
        for t in tables {
            self.rollback_table(&t);
        }
    }

    fn rollback_table(&mut self, table: &str) {
        let Some(seg) = self.open.get_mut(table) else { return };
        if seg.len == seg.synced_len {
            return;
        }
        // The rows counter cannot be rolled back exactly; recount from the file.
        let keep = seg.synced_len.max(header(table, seg.seq).len() as u64);
        if seg.file.set_len(keep).is_ok() {
            use std::io::Seek;
            let _ = seg.file.seek(std::io::SeekFrom::Start(keep));
            seg.len = keep;
            seg.synced_len = seg.synced_len.min(keep);
            seg.rows = crate::format::scan_sealed(&seg.path).map(|(r, _)| r).unwrap_or(0);
            self.open_fill.lock().unwrap_or_else(|p| p.into_inner()).insert(table.to_string(), (seg.rows, seg.len));
        }
    }

    fn next_seal_deadline(&self) -> Option<Instant> {
        self.open.values().filter(|s| s.rows > 0).map(|s| s.opened + self.shared.opts.seal_age).min()
    }

    fn seal_matching(&mut self, pred: impl Fn(&OpenSeg) -> bool) -> Result<(), SpoolError> {
        let tables: Vec<String> = self.open.iter().filter(|(_, s)| pred(s)).map(|(t, _)| t.clone()).collect();
        let mut result = Ok(());
        for t in tables {
            if let Err(e) = self.seal(&t) {
                tracing::error!(table = %t, error = %e, "cannot seal spool segment");
                result = Err(e);
            }
        }
        result
    }

    fn seal(&mut self, table: &str) -> Result<(), SpoolError> {
        let Some(seg) = self.open.remove(table) else { return Ok(()) };
        self.open_since.lock().unwrap_or_else(|p| p.into_inner()).remove(table);
        self.open_fill.lock().unwrap_or_else(|p| p.into_inner()).remove(table);
        if seg.rows == 0 {
            drop(seg.file);
            std::fs::remove_file(&seg.path)?;
            return Ok(());
        }
        // A reused file is cut to this segment's length: a sealed segment is read to its end.
        let cut = seg.reused_len > seg.len;
        if cut {
            seg.file.set_len(seg.len)?;
        }
        if seg.len != seg.synced_len || cut {
            seg.file.sync_data()?;
            self.shared.bytes.fetch_add(seg.len - seg.synced_len, Ordering::Relaxed);
        }
        drop(seg.file);
        let sealed = seg.path.with_extension("seg");
        std::fs::rename(&seg.path, &sealed)?;
        sync_dir(&self.shared.dir.join(table))?;
        let meta = SegmentMeta {
            table: table.to_string(),
            seq: seg.seq,
            rows: seg.rows,
            bytes: seg.len,
            created: seg.opened_wall,
        };
        self.shared
            .sealed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(table.to_string())
            .or_default()
            .insert(seg.seq, meta);
        tracing::debug!(table, seq = seg.seq, rows = seg.rows, bytes = seg.len, "spool segment sealed");
        self.shared.notify.notify_one();
        let mut subs = self.shared.sealed_rx_waiters.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| s.send((table.to_string(), seg.seq)).is_ok());
        Ok(())
    }
}

fn should_seal(o: &crate::SpoolOptions, s: &OpenSeg) -> bool {
    s.rows > 0 && (s.rows >= o.seal_rows || s.len >= o.seal_bytes || s.opened.elapsed() >= o.seal_age)
}
