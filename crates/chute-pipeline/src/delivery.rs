//! Delivery: one worker thread per table moves sealed data into the store. With the spool it
//! follows a durable plan (which segments make up the next insert), builds the insert from
//! exactly those segments, inserts it under deterministic dedup tokens, and removes the segments
//! only after the store confirmed every row. Errors are handled by class: transient → backoff
//! behind the circuit breaker; missing table → migrations; data → bisect to dead letters;
//! schema → the batch to dead letters. After each chunk the store confirmed, the rows the
//! pipeline's [`crate::Derive`] hook makes of it are inserted under `{chunk token}/{table}`.

use crate::memory::MemBatch;
use crate::{Inner, PipelineError, ShutdownReport, backoff};
use arrow_array::RecordBatch;
use chute_spool::{Plan, SegmentMeta, Spool, SpoolError};
use chute_store::{ErrorKind, StoreError, migrations};
use chute_tables::dead_letters::{DEAD_LETTERS, DeadLetter, dead_letters_batch};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A bisection never goes below leaves of `rows / BISECT_LEAVES` rows, which bounds the inserts
/// one poison batch can cost; the rows of a failing leaf are dead-lettered together.
const BISECT_LEAVES: usize = 1024;

fn leaf_rows(chunk_rows: usize) -> usize {
    (chunk_rows / BISECT_LEAVES).max(1)
}

pub(crate) enum Job {
    Wake,
    Mem(MemBatch),
}

#[derive(Default)]
pub(crate) struct Workers {
    senders: Mutex<HashMap<String, Sender<Job>>>,
    alive: Arc<AtomicUsize>,
}

/// Delivery was abandoned because the pipeline is stopping.
#[derive(Debug)]
pub(crate) struct Stopped;

pub(crate) fn start(inner: &Arc<Inner>) -> Result<(), String> {
    spawn_named("chute-bootstrap", {
        let inner = inner.clone();
        move || bootstrap(&inner)
    })?;
    if let Some(spool) = &inner.spool {
        let events = spool.subscribe();
        for table in spool.tables_with_work() {
            wake(inner, &table);
        }
        let weak = Arc::downgrade(inner);
        spawn_named("chute-dispatch", move || {
            loop {
                match events.recv_timeout(Duration::from_millis(200)) {
                    Ok((table, _)) => match weak.upgrade() {
                        Some(inner) => wake(&inner, &table),
                        None => return,
                    },
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        if weak.upgrade().is_none_or(|i| i.is_stopping()) {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        })?;
    }
    if inner.memory.is_some() {
        let weak = Arc::downgrade(inner);
        let tick = (inner.opts.batch.max_age / 10).clamp(Duration::from_millis(1), Duration::from_millis(50));
        spawn_named("chute-memory-ticker", move || {
            loop {
                std::thread::sleep(tick);
                let Some(inner) = weak.upgrade() else { return };
                if inner.is_stopping() {
                    return;
                }
                if let Some(m) = &inner.memory {
                    m.seal_matching(&inner, false);
                }
            }
        })?;
    }
    Ok(())
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> Result<(), String> {
    std::thread::Builder::new().name(name.into()).spawn(f).map(|_| ()).map_err(|e| format!("cannot start {name}: {e}"))
}

/// Applies migrations once the store answers, retrying with backoff until it does.
fn bootstrap(inner: &Arc<Inner>) {
    let mut attempt = 0;
    while !inner.is_stopping() {
        let result = inner.store.ping().and_then(|()| {
            if !inner.store.has_schema() {
                Ok(())
            } else if inner.opts.run_migrations {
                migrations::up(inner.store.as_ref(), None).map(|_| ())
            } else if migrations::is_current(inner.store.as_ref())? {
                Ok(())
            } else {
                Err(StoreError::new(ErrorKind::Schema, "migrations are pending: run `chute migrate up`"))
            }
        });
        match result {
            Ok(()) => {
                *inner.bootstrap_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                inner.migrations_applied.store(true, Ordering::SeqCst);
                tracing::info!(target = inner.store.target(), "store ready");
                let tables: Vec<String> =
                    inner.workers.senders.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
                for t in tables {
                    wake(inner, &t);
                }
                return;
            }
            Err(e) => {
                if attempt == 0 || attempt % 10 == 0 {
                    tracing::warn!(error = %e, attempt, "store not ready; data is accepted into the spool meanwhile");
                }
                *inner.bootstrap_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.message.clone());
                sleep_or_stop(
                    inner,
                    backoff(inner.opts.retry_base, inner.opts.retry_cap.min(Duration::from_secs(5)), attempt)
                        .max(Duration::from_millis(50)),
                );
                attempt += 1;
            }
        }
    }
}

fn worker_sender(inner: &Arc<Inner>, table: &str) -> Option<Sender<Job>> {
    let mut senders = inner.workers.senders.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(tx) = senders.get(table) {
        return Some(tx.clone());
    }
    if inner.is_stopping() {
        return None;
    }
    let (tx, rx) = channel();
    let worker_inner = inner.clone();
    let t = table.to_string();
    let alive = inner.workers.alive.clone();
    alive.fetch_add(1, Ordering::SeqCst);
    let spawned = std::thread::Builder::new().name(format!("chute-deliver-{table}")).spawn(move || {
        worker(&worker_inner, &t, rx);
        alive.fetch_sub(1, Ordering::SeqCst);
    });
    if let Err(e) = spawned {
        inner.workers.alive.fetch_sub(1, Ordering::SeqCst);
        tracing::error!(table, error = %e, "cannot start delivery worker");
        return None;
    }
    senders.insert(table.to_string(), tx.clone());
    Some(tx)
}

pub(crate) fn wake(inner: &Arc<Inner>, table: &str) {
    if let Some(tx) = worker_sender(inner, table) {
        let _ = tx.send(Job::Wake);
    }
}

/// Gives a full memory batch to its table's worker (memory intake).
pub(crate) fn hand_over(inner: &Arc<Inner>, mb: MemBatch) {
    match worker_sender(inner, &mb.table) {
        Some(tx) => {
            if let Err(std::sync::mpsc::SendError(Job::Mem(mb))) = tx.send(Job::Mem(mb)) {
                answer(mb.waiters, Err(PipelineError::Closed));
            }
        }
        None => answer(mb.waiters, Err(PipelineError::Closed)),
    }
}

fn answer(waiters: Vec<crate::memory::Waiter>, r: Result<(), PipelineError>) {
    for w in waiters {
        let _ = w.send(r.clone());
    }
}

fn worker(inner: &Arc<Inner>, table: &str, rx: Receiver<Job>) {
    inner.store.enter_insert_thread();
    loop {
        if inner.is_stopping() {
            // Memory batches still queued are answered: not stored, so not acknowledged.
            while let Ok(job) = rx.try_recv() {
                if let Job::Mem(mb) = job {
                    answer(mb.waiters, Err(PipelineError::Closed));
                }
            }
            return;
        }
        if !inner.migrations_applied.load(Ordering::SeqCst) {
            if let Ok(Job::Mem(mb)) = rx.recv_timeout(Duration::from_millis(100)) {
                // Keep it: wait for the store, then deliver.
                while !inner.migrations_applied.load(Ordering::SeqCst) && !inner.is_stopping() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                deliver_memory(inner, mb);
            }
            continue;
        }
        if let Some(spool) = &inner.spool {
            match deliver_next_plan(inner, spool, table) {
                Ok(true) => continue,
                Ok(false) => {
                    let _ = rx.recv_timeout(Duration::from_secs(1));
                }
                Err(Stopped) => return,
            }
        } else {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Job::Mem(mb)) => deliver_memory(inner, mb),
                Ok(Job::Wake) | Err(_) => {}
            }
        }
    }
}

fn deliver_memory(inner: &Arc<Inner>, mb: MemBatch) {
    let table = mb.table.clone();
    deliver_memory_batch(inner, mb);
    if let Some(memory) = &inner.memory {
        memory.delivered(inner, &table);
    }
}

fn deliver_memory_batch(inner: &Arc<Inner>, mb: MemBatch) {
    let token = format!("mem-{:016x}:{}", rand::random::<u64>(), mb.table);
    let started = Instant::now();
    let sources = join_sources(mb.parts.iter().map(|(s, _)| s.as_str()));
    let mut per_source: BTreeMap<String, u64> = BTreeMap::new();
    for (s, b) in &mb.parts {
        *per_source.entry(s.clone()).or_default() += b.num_rows() as u64;
    }
    let batches: Vec<RecordBatch> = mb.parts.into_iter().map(|(_, b)| b).collect();
    inner.inserts_in_flight.fetch_add(1, Ordering::SeqCst);
    let result = insert_batches(inner, &mb.table, &batches, &token, &sources);
    inner.inserts_in_flight.fetch_sub(1, Ordering::SeqCst);
    match result {
        Ok(()) => {
            record_written(inner, &mb.table, &per_source, started);
            answer(mb.waiters, Ok(()));
        }
        Err(Stopped) => answer(mb.waiters, Err(PipelineError::Closed)),
    }
}

fn join_sources<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let mut v: Vec<&str> = it.collect();
    v.sort_unstable();
    v.dedup();
    v.join(",")
}

fn record_written(inner: &Inner, table: &str, per_source: &BTreeMap<String, u64>, started: Instant) {
    for (source, rows) in per_source {
        inner.count("chute_rows_written_total", "rows confirmed by the store", table, source, *rows);
    }
    inner
        .metrics
        .histogram(
            "chute_flush_duration_seconds",
            "time to deliver one batch to the store, retries included",
            &[("table", table)],
            crate::metrics::LATENCY_BUCKETS,
        )
        .observe(started.elapsed().as_secs_f64());
}

/// Picks the next plan: consecutive sealed segments, merged up to the batch limits, so a
/// backlog after an outage becomes few full inserts rather than many small ones.
fn make_plan(sealed: &[SegmentMeta], max_rows: u64, max_bytes: u64) -> Option<Plan> {
    let first = sealed.first()?;
    let (mut rows, mut bytes, mut last, mut count) = (first.rows, first.bytes, first.seq, 1);
    for s in &sealed[1..] {
        if rows + s.rows > max_rows || bytes + s.bytes > max_bytes {
            break;
        }
        rows += s.rows;
        bytes += s.bytes;
        last = s.seq;
        count += 1;
    }
    Some(Plan { first: first.seq, last, count })
}

/// Delivers one plan. Ok(true): did something (look again); Ok(false): nothing to do.
fn deliver_next_plan(inner: &Arc<Inner>, spool: &Spool, table: &str) -> Result<bool, Stopped> {
    let io_pause = |e: &SpoolError| {
        tracing::error!(table, error = %e, "spool error during delivery; retrying");
        sleep_or_stop(inner, Duration::from_secs(1));
        Ok(true)
    };
    let sealed = spool.sealed(table);
    let (plan, replay) = match spool.read_plan(table) {
        Ok(Some(p)) => (p, true),
        Ok(None) => {
            let Some(p) = make_plan(&sealed, inner.opts.batch.max_rows, inner.opts.batch.max_bytes) else {
                return Ok(false);
            };
            if let Err(e) = spool.write_plan(table, p) {
                return io_pause(&e);
            }
            (p, false)
        }
        Err(e) => return io_pause(&e),
    };
    let segs: Vec<&SegmentMeta> = sealed.iter().filter(|s| s.seq >= plan.first && s.seq <= plan.last).collect();
    let seqs: Vec<u64> = segs.iter().map(|s| s.seq).collect();
    if (segs.len() as u64) < plan.count {
        // The store confirmed this plan before a crash interrupted the clean-up.
        if let Err(e) = spool.remove_segments(table, &seqs).and_then(|()| spool.clear_plan(table)) {
            return io_pause(&e);
        }
        return Ok(true);
    }
    let started = Instant::now();
    let mut records = Vec::new();
    for s in &segs {
        match spool.read_segment(table, s.seq) {
            Ok(r) => records.extend(r),
            Err(SpoolError::Corrupt { .. }) => {
                // Moved aside by the spool; plan again without it.
                let _ = spool.clear_plan(table);
                return Ok(true);
            }
            Err(e) => return io_pause(&e),
        }
    }
    let mut per_source: BTreeMap<String, u64> = BTreeMap::new();
    for r in &records {
        *per_source.entry(r.source.clone()).or_default() += r.batch.num_rows() as u64;
    }
    let sources = join_sources(records.iter().map(|r| r.source.as_str()));
    let batches: Vec<RecordBatch> = records.into_iter().map(|r| r.batch).collect();
    let token = format!("{}:{}:{:x}-{:x}", spool.id(), table, plan.first, plan.last);
    if replay {
        inner
            .metrics
            .counter(
                "chute_dedup_replays_total",
                "inserts replayed under their original dedup token after a restart",
                &[("table", table)],
            )
            .fetch_add(1, Ordering::Relaxed);
    }
    inner.inserts_in_flight.fetch_add(1, Ordering::SeqCst);
    let result = insert_batches(inner, table, &batches, &token, &sources);
    inner.inserts_in_flight.fetch_sub(1, Ordering::SeqCst);
    result?;
    record_written(inner, table, &per_source, started);
    if !inner.opts.pause_after_insert.is_zero() {
        std::thread::sleep(inner.opts.pause_after_insert);
    }
    if let Err(e) = spool.remove_segments(table, &seqs).and_then(|()| spool.clear_plan(table)) {
        // The rows are stored; the plan stays and the next attempt cleans up (or replays,
        // which the dedup token makes harmless).
        return io_pause(&e);
    }
    Ok(true)
}

/// Inserts batches as chunks of at most `max_rows`, each under `{token}:{chunk}`. Batches are
/// concatenated per run of equal schemas; the chunking is a pure function of the input, so a
/// replay rebuilds the same chunks under the same tokens.
fn insert_batches(
    inner: &Arc<Inner>,
    table: &str,
    batches: &[RecordBatch],
    token: &str,
    sources: &str,
) -> Result<(), Stopped> {
    let max_rows = inner.opts.batch.max_rows.max(1) as usize;
    let mut chunk_no = 0usize;
    let mut i = 0;
    while i < batches.len() {
        let schema = batches[i].schema();
        let mut j = i;
        while j < batches.len() && batches[j].schema() == schema {
            j += 1;
        }
        let merged = match chute_spool::concat_batches(&schema, &batches[i..j]) {
            Ok(b) => b,
            Err(e) => {
                // Cannot happen for equal schemas; keep the rows flowing one batch at a time.
                tracing::error!(table, error = %e, "cannot merge batches; inserting them one by one");
                for b in &batches[i..j] {
                    deliver(inner, table, b, &format!("{token}:{chunk_no}"), sources, leaf_rows(b.num_rows()))?;
                    chunk_no += 1;
                }
                i = j;
                continue;
            }
        };
        let mut off = 0;
        while off < merged.num_rows() {
            let len = max_rows.min(merged.num_rows() - off);
            let chunk = merged.slice(off, len);
            deliver(inner, table, &chunk, &format!("{token}:{chunk_no}"), sources, leaf_rows(chunk.num_rows()))?;
            chunk_no += 1;
            off += len;
        }
        i = j;
    }
    Ok(())
}

fn sleep_or_stop(inner: &Inner, d: Duration) {
    let until = Instant::now() + d;
    while !inner.is_stopping() {
        let now = Instant::now();
        if now >= until {
            return;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(50)));
    }
}

/// Inserts one chunk until the store confirms it (or the pipeline stops). A data error bisects
/// the chunk down to leaves of `leaf_rows` rows.
fn deliver(
    inner: &Arc<Inner>,
    table: &str,
    batch: &RecordBatch,
    token: &str,
    sources: &str,
    leaf_rows: usize,
) -> Result<(), Stopped> {
    let mut attempt = 0u32;
    loop {
        if !inner.breaker.wait(&|| inner.is_stopping()) {
            return Err(Stopped);
        }
        let token = if inner.opts.dedup_tokens { token } else { "" };
        let result = inner.store.insert(table, batch, token);
        let e = match result {
            Ok(()) => {
                inner.breaker.success();
                return store_derived(inner, table, batch, token);
            }
            Err(e) => e,
        };
        inner
            .metrics
            .counter(
                "chute_insert_errors_total",
                "failed inserts by error class",
                &[("table", table), ("class", kind_name(e.kind))],
            )
            .fetch_add(1, Ordering::Relaxed);
        match e.kind {
            ErrorKind::Transient | ErrorKind::Unavailable | ErrorKind::Auth => {
                inner.breaker.failure(&e.message);
                inner
                    .metrics
                    .counter("chute_retries_total", "insert retries", &[("table", table)])
                    .fetch_add(1, Ordering::Relaxed);
                if attempt == 0 || attempt.is_multiple_of(20) {
                    tracing::warn!(table, attempt, error = %e, "insert failed; retrying");
                }
                let wait = backoff(inner.opts.retry_base, inner.opts.retry_cap, attempt).max(e.min_backoff());
                sleep_or_stop(inner, wait);
                attempt = attempt.saturating_add(1);
            }
            ErrorKind::MissingTable => {
                inner.breaker.success();
                tracing::warn!(table, error = %e, "table missing; applying migrations");
                if let Err(me) = migrations::repair(inner.store.as_ref()) {
                    tracing::error!(error = %me, "migrations failed");
                }
                sleep_or_stop(inner, backoff(inner.opts.retry_base, inner.opts.retry_cap, attempt));
                attempt = attempt.saturating_add(1);
            }
            ErrorKind::Data => {
                inner.breaker.success();
                if table == DEAD_LETTERS.name {
                    tracing::error!(error = %e, rows = batch.num_rows(), "the dead-letter table refused rows; they are lost");
                    return Ok(());
                }
                return bisect(inner, table, batch, token, sources, &e, leaf_rows);
            }
            ErrorKind::Schema => {
                inner.breaker.success();
                if table == DEAD_LETTERS.name {
                    tracing::error!(error = %e, rows = batch.num_rows(), "the dead-letter table refused rows; they are lost");
                    return Ok(());
                }
                tracing::error!(table, error = %e, rows = batch.num_rows(), "the table refuses this batch; dead-lettering it");
                return dead_letter(inner, table, batch, token, sources, &e);
            }
        }
    }
}

/// Inserts what the pipeline's [`crate::Derive`] hook makes of a chunk the store confirmed, each
/// derived batch under `{token}/{its table}`: a replay of the chunk (same token) derives them
/// again and the store keeps them once.
fn store_derived(inner: &Arc<Inner>, table: &str, batch: &RecordBatch, token: &str) -> Result<(), Stopped> {
    let Some(hook) = &inner.opts.derive else { return Ok(()) };
    let derived = hook.0.derive(table, batch);
    for (t, b) in &derived.batches {
        if b.num_rows() == 0 {
            continue;
        }
        let started = Instant::now();
        deliver(inner, t, b, &format!("{token}/{t}"), "derived", leaf_rows(b.num_rows()))?;
        record_written(inner, t, &BTreeMap::from([("derived".to_string(), b.num_rows() as u64)]), started);
    }
    if let Some(f) = derived.on_stored {
        f();
    }
    Ok(())
}

fn kind_name(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::Data => "data",
        ErrorKind::Schema => "schema",
        ErrorKind::MissingTable => "missing_table",
        ErrorKind::Transient => "transient",
        ErrorKind::Unavailable => "unavailable",
        ErrorKind::Auth => "auth",
    }
}

/// Splits a batch the store refused for its data and inserts the halves, recursively, until the
/// refused rows are isolated (or leaves reach `leaf_rows`); those go to the dead letters.
fn bisect(
    inner: &Arc<Inner>,
    table: &str,
    batch: &RecordBatch,
    token: &str,
    sources: &str,
    error: &StoreError,
    leaf_rows: usize,
) -> Result<(), Stopped> {
    if batch.num_rows() <= leaf_rows {
        return dead_letter(inner, table, batch, token, sources, error);
    }
    let half = batch.num_rows() / 2;
    for (k, part) in [batch.slice(0, half), batch.slice(half, batch.num_rows() - half)].iter().enumerate() {
        deliver(inner, table, part, &format!("{token}/{k}"), sources, leaf_rows)?;
    }
    Ok(())
}

fn dead_letter(
    inner: &Arc<Inner>,
    table: &str,
    batch: &RecordBatch,
    token: &str,
    sources: &str,
    error: &StoreError,
) -> Result<(), Stopped> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let rows: Vec<DeadLetter> = (0..batch.num_rows())
        .map(|i| DeadLetter {
            time_ms: now_ms,
            table: table.to_string(),
            source: sources.to_string(),
            error_code: error.code.unwrap_or(0),
            error: error.message.clone(),
            row: chute_store::rows::row_to_json(batch, i).to_string(),
            context: vec![("dedup_token".into(), token.to_string())],
        })
        .collect();
    tracing::warn!(table, rows = rows.len(), error = %error, "rows refused by the store moved to chute_dead_letters");
    let dl = dead_letters_batch(&rows);
    // The dead-letter rows are themselves idempotent under a token derived from the chunk's.
    deliver(inner, DEAD_LETTERS.name, &dl, &format!("{token}/dead"), sources, dl.num_rows())?;
    for s in sources.split(',') {
        inner.count(
            "chute_rows_dead_lettered_total",
            "rows moved to chute_dead_letters",
            table,
            s,
            batch.num_rows() as u64,
        );
    }
    Ok(())
}

pub(crate) fn shutdown(inner: &Arc<Inner>, until: Instant) -> ShutdownReport {
    if let Some(spool) = &inner.spool {
        let _ = spool.seal_all();
        for t in spool.tables_with_work() {
            wake(inner, &t);
        }
    }
    if let Some(m) = &inner.memory {
        m.seal_all(inner);
    }
    let drained = loop {
        let spool_empty = inner.spool.as_ref().is_none_or(|s| s.stats().segments == 0);
        let mem_empty = inner.memory.as_ref().is_none_or(|m| m.is_empty());
        if spool_empty && mem_empty && inner.inserts_in_flight.load(Ordering::SeqCst) == 0 {
            break true;
        }
        if Instant::now() >= until {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    inner.stopping.store(true, Ordering::SeqCst);
    let senders: Vec<Sender<Job>> =
        inner.workers.senders.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, s)| s).collect();
    for s in &senders {
        let _ = s.send(Job::Wake);
    }
    drop(senders);
    // Workers finish the insert they are in; don't wait forever for one stuck in a remote call.
    let join_until = Instant::now() + Duration::from_secs(2);
    while inner.workers.alive.load(Ordering::SeqCst) > 0 && Instant::now() < join_until {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut rows_left = 0;
    if let Some(spool) = &inner.spool {
        let _ = spool.close();
        rows_left = spool.stats().rows;
    }
    if !drained {
        tracing::warn!(rows_left, "shutdown deadline reached; the rest stays in the spool for the next start");
    }
    ShutdownReport { drained, rows_left }
}
