//! From decoded batches to the store, without losing or duplicating anything.
//!
//! ```text
//! submit(table, source, batch)
//!   → admission: memory budget for unflushed data (429 / RESOURCE_EXHAUSTED when spent)
//!   → intake: the spool (acknowledged once synced) or, spool off, memory (acknowledged once stored)
//!   → delivery, one worker per table: plan → read → merge → insert with dedup tokens
//!        transient errors: full-jitter backoff behind the store's circuit breaker, for as long
//!        as the spool has room; missing table: run migrations; data errors: bisect, and the
//!        rows the store refuses go to `chute_dead_letters` with its error
//!   → derived rows: for each chunk the store confirmed, the rows a [`Derive`] hook makes of it
//!        (the explorer's log patterns and attribute catalog), inserted under tokens derived
//!        from the chunk's
//! ```
//!
//! Invariants: a caller is told Ok only when its rows are in a synced spool segment or in the
//! store; a spool segment is removed only after every row of it was confirmed by the store;
//! every insert of spooled rows carries a token derived from (spool id, table, segments, chunk),
//! so a replay after a crash or a retry after a timeout stores the rows once.

pub mod breaker;
mod delivery;
mod memory;
pub mod metrics;

pub use breaker::{BreakerState, backoff};
pub use metrics::Metrics;

use arrow_array::RecordBatch;
use chute_spool::{Spool, SpoolError, SpoolOptions, SpoolStats};
use chute_store::Store;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Rows computed from rows the store confirmed, for other tables (the explorer's log patterns
/// and attribute catalog feed). Delivery calls it for every chunk it stored, in the table's
/// worker, and inserts the result under `{chunk token}/{derived table}`: derived rows are built
/// only from stored rows, never delay a spooled acknowledgement (spool off, the waiters of a
/// chunk are answered after its derived rows are stored too), and a replayed chunk (after a crash
/// between the two inserts) derives them again under the same token, so they are stored once.
pub trait Derive: Send + Sync {
    /// The derived batches of `batch` (a chunk of `table`); empty when the table has none.
    fn derive(&self, table: &str, batch: &RecordBatch) -> Derived;
}

/// What [`Derive::derive`] made of a chunk.
#[derive(Default)]
pub struct Derived {
    pub batches: Vec<(&'static str, RecordBatch)>,
    /// Runs once every batch was stored (or dead-lettered).
    pub on_stored: Option<Box<dyn FnOnce() + Send>>,
}

/// The [`Derive`] hook of a pipeline.
#[derive(Clone)]
pub struct DeriveHook(pub Arc<dyn Derive>);

impl std::fmt::Debug for DeriveHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeriveHook")
    }
}

/// When a batch is flushed to the store (and, with the spool, when a segment is sealed).
#[derive(Clone, Copy, Debug)]
pub struct BatchLimits {
    pub max_rows: u64,
    pub max_bytes: u64,
    pub max_age: Duration,
}

#[derive(Clone, Debug)]
pub struct PipelineOptions {
    pub batch: BatchLimits,
    /// The spool directory and its settings; None: memory intake (ack after the store).
    pub spool: Option<SpoolSettings>,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    pub breaker_failures: u32,
    pub breaker_open_for: Duration,
    pub max_unflushed_bytes: u64,
    pub drop_newest_when_full: bool,
    /// Apply migrations when the store first answers (else require them to be applied).
    pub run_migrations: bool,
    /// Test-only: false sends inserts without dedup tokens (`debug.dedup_tokens`).
    pub dedup_tokens: bool,
    /// Test-only: pause between an insert and the removal of its segments.
    pub pause_after_insert: Duration,
    /// Rows delivery derives from stored rows (None: nothing derived).
    pub derive: Option<DeriveHook>,
}

#[derive(Clone, Debug)]
pub struct SpoolSettings {
    pub dir: std::path::PathBuf,
    pub fsync_interval: Duration,
    pub max_bytes: u64,
}

impl PipelineOptions {
    pub fn from_config(c: &chute_config::Config) -> Self {
        PipelineOptions {
            batch: BatchLimits {
                max_rows: c.batch.max_rows.max(1),
                max_bytes: c.batch.max_bytes.get().max(1),
                max_age: c.batch.max_age.get(),
            },
            spool: c.spool.enabled.then(|| SpoolSettings {
                dir: c.spool_dir(),
                fsync_interval: c.spool.fsync_interval.get(),
                max_bytes: c.spool.max_bytes.get(),
            }),
            retry_base: c.delivery.retry_base.get(),
            retry_cap: c.delivery.retry_cap.get(),
            breaker_failures: c.delivery.breaker_failures,
            breaker_open_for: c.delivery.breaker_open_for.get(),
            max_unflushed_bytes: c.limits.max_unflushed_bytes.get(),
            drop_newest_when_full: c.limits.drop_newest_when_full,
            run_migrations: true,
            dedup_tokens: c.debug.dedup_tokens,
            pause_after_insert: c.debug.pause_after_insert.get(),
            derive: None,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum PipelineError {
    /// Memory or spool is full: the client should retry after the given time.
    #[error("{reason}; retry after {retry_after:?}")]
    Backpressure { reason: String, retry_after: Duration },
    /// Shutting down: no new data is accepted.
    #[error("chute is shutting down")]
    Closed,
    #[error("spool: {0}")]
    Spool(String),
    /// Spool off: the store refused or could not be reached in time.
    #[error("store: {0}")]
    Store(String),
    #[error("{0}")]
    Setup(String),
}

/// How a submit behaves when the memory budget is spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Refuse at once with `Backpressure` (HTTP and gRPC receivers: the client retries).
    Refuse,
    /// Wait for room (importers and stream consumers, which can simply slow down).
    Wait,
}

/// What happened to an accepted submit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receipt {
    /// Durable: in the spool (or the store, spool off).
    Stored,
    /// Dropped because memory was full and `drop_newest_when_full` is on (counted and logged).
    Dropped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    Starting,
    Healthy,
    Degraded,
    StoreUnavailable,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Health {
    pub state: HealthState,
    pub reason: String,
    /// Data is being accepted (into the spool even while the store is away).
    pub accepting: bool,
    pub breaker: BreakerState,
    pub migrations_applied: bool,
    pub spool: Option<SpoolHealth>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SpoolHealth {
    pub bytes: u64,
    pub segments: u64,
    pub rows: u64,
    pub oldest_unsent_age_seconds: f64,
    pub max_bytes: u64,
}

/// The result of a graceful shutdown.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShutdownReport {
    /// Everything accepted was delivered before the deadline.
    pub drained: bool,
    /// Rows left in the spool for the next start.
    pub rows_left: u64,
}

pub(crate) struct Inner {
    pub opts: PipelineOptions,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub breaker: breaker::Breaker,
    budget: Arc<tokio::sync::Semaphore>,
    budget_units: u32,
    pub spool: Option<Spool>,
    pub memory: Option<memory::MemoryIntake>,
    accepting: AtomicBool,
    /// Delivery workers stop when set.
    pub stopping: AtomicBool,
    pub migrations_applied: AtomicBool,
    pub bootstrap_error: Mutex<Option<String>>,
    pub workers: delivery::Workers,
    dropped_logged_at: Mutex<Option<Instant>>,
    pub inserts_in_flight: AtomicU64,
}

impl Inner {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    pub(crate) fn count(&self, name: &'static str, help: &'static str, table: &str, source: &str, n: u64) {
        if n > 0 {
            self.metrics.counter(name, help, &[("table", table), ("source", source)]).fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// One unit of memory budget.
const UNIT: u64 = 1024;

/// Why a request is refused when the spool holds `spool.max_bytes`; None while it has room.
fn spool_full(spool: &Spool) -> Option<String> {
    let (used, limit) = (spool.used_bytes(), spool.options().max_bytes);
    (used >= limit).then(|| format!("spool is full ({used} of {limit} bytes)"))
}

/// Why a request is refused when the memory budget for unflushed data has no room.
fn memory_full(inner: &Inner) -> String {
    format!("memory for unflushed data is full ({} bytes)", inner.opts.max_unflushed_bytes)
}

/// The pipeline. Clone it freely; all clones share one spool, one set of workers.
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

impl Pipeline {
    /// Opens the spool (recovering what a previous process left), starts the delivery workers
    /// and the store bootstrap (migrations, retried until the store answers).
    pub fn start(
        opts: PipelineOptions,
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
    ) -> Result<Pipeline, PipelineError> {
        let spool = match &opts.spool {
            Some(s) => {
                let (spool, recovery) = Spool::open(SpoolOptions {
                    dir: s.dir.clone(),
                    fsync_interval: s.fsync_interval,
                    max_bytes: s.max_bytes,
                    seal_rows: opts.batch.max_rows,
                    seal_bytes: opts.batch.max_bytes,
                    seal_age: opts.batch.max_age,
                })
                .map_err(|e| PipelineError::Setup(e.to_string()))?;
                if !recovery.pending.is_empty() {
                    tracing::info!(pending = ?recovery.pending, "spool holds undelivered segments from a previous run");
                }
                let commits = metrics.histogram(
                    "chute_spool_commit_duration_seconds",
                    "time to write and sync one group of appends to the spool, which their acknowledgements wait for",
                    &[],
                    crate::metrics::SYNC_BUCKETS,
                );
                spool.observe_commits(Box::new(move |d| commits.observe(d.as_secs_f64())));
                Some(spool)
            }
            None => None,
        };
        let units = (opts.max_unflushed_bytes / UNIT).clamp(1, u32::MAX as u64) as u32;
        let inner = Arc::new(Inner {
            breaker: breaker::Breaker::new(opts.breaker_failures, opts.breaker_open_for),
            memory: spool.is_none().then(|| memory::MemoryIntake::new(opts.batch)),
            opts,
            store,
            metrics,
            budget: Arc::new(tokio::sync::Semaphore::new(units as usize)),
            budget_units: units,
            spool,
            accepting: AtomicBool::new(true),
            stopping: AtomicBool::new(false),
            migrations_applied: AtomicBool::new(false),
            bootstrap_error: Mutex::new(None),
            workers: delivery::Workers::default(),
            dropped_logged_at: Mutex::new(None),
            inserts_in_flight: AtomicU64::new(0),
        });
        register_gauges(&inner);
        delivery::start(&inner).map_err(PipelineError::Setup)?;
        Ok(Pipeline { inner })
    }

    /// Whether a request submitted with [`Admission::Refuse`] now would be refused for want of
    /// room (the spool or the memory for unflushed data is full). Receivers ask before decoding
    /// a body they have read, so that while chute is full a refusal costs no decoding: that CPU
    /// goes to storing, which is what frees room. Ok when `drop_newest_when_full` is set (full
    /// chute then answers success and counts the rows it drops, which takes decoding).
    pub fn check_room(&self, source: &str) -> Result<(), PipelineError> {
        let inner = &self.inner;
        if !inner.accepting.load(Ordering::Relaxed) {
            return Err(PipelineError::Closed);
        }
        if inner.opts.drop_newest_when_full {
            return Ok(());
        }
        let reason = match inner.spool.as_ref().and_then(spool_full) {
            Some(reason) => reason,
            None if inner.budget.available_permits() == 0 => memory_full(inner),
            None => return Ok(()),
        };
        inner
            .metrics
            .counter(
                "chute_requests_refused_undecoded_total",
                "requests refused with backpressure before their body was decoded (chute full)",
                &[("source", source)],
            )
            .fetch_add(1, Ordering::Relaxed);
        Err(PipelineError::Backpressure { reason, retry_after: Duration::from_secs(1) })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Accepts one batch for one table. See [`Pipeline::submit_all`].
    pub async fn submit(
        &self,
        table: &str,
        source: &str,
        batch: RecordBatch,
        admission: Admission,
    ) -> Result<Receipt, PipelineError> {
        self.submit_all(source, vec![(table.to_string(), batch)], admission).await
    }

    /// Accepts the batches of one request (one per table). Returns once every batch is durable:
    /// synced in the spool, or stored when the spool is off. When refused (backpressure, closed),
    /// none of the batches was accepted.
    pub async fn submit_all(
        &self,
        source: &str,
        batches: Vec<(String, RecordBatch)>,
        admission: Admission,
    ) -> Result<Receipt, PipelineError> {
        let inner = &self.inner;
        let batches: Vec<(String, RecordBatch)> = batches.into_iter().filter(|(_, b)| b.num_rows() > 0).collect();
        if batches.is_empty() {
            return Ok(Receipt::Stored);
        }
        let bytes: u64 = batches.iter().map(|(_, b)| b.get_array_memory_size() as u64).sum();
        for (table, b) in &batches {
            inner.count("chute_rows_received_total", "rows received", table, source, b.num_rows() as u64);
            inner.count(
                "chute_bytes_received_total",
                "bytes received (in memory, decoded)",
                table,
                source,
                b.get_array_memory_size() as u64,
            );
        }
        if !inner.accepting.load(Ordering::Relaxed) {
            return Err(PipelineError::Closed);
        }
        let units = bytes.div_ceil(UNIT).clamp(1, inner.budget_units as u64) as u32;
        let permit = match inner.budget.clone().try_acquire_many_owned(units) {
            Ok(p) => p,
            Err(_) if admission == Admission::Wait => {
                inner.budget.clone().acquire_many_owned(units).await.map_err(|_| PipelineError::Closed)?
            }
            Err(_) => {
                return self.refuse(source, &batches, memory_full(inner));
            }
        };
        let result = match (&inner.spool, &inner.memory) {
            (Some(spool), _) => self.spool_append(spool, source, &batches, admission).await,
            (None, Some(mem)) => mem.submit(inner, source, &batches).await,
            (None, None) => Err(PipelineError::Setup("no intake".into())),
        };
        drop(permit);
        match result {
            Ok(()) => {
                for (table, b) in &batches {
                    inner.count(
                        "chute_rows_accepted_total",
                        "rows acknowledged to clients as durable",
                        table,
                        source,
                        b.num_rows() as u64,
                    );
                }
                Ok(Receipt::Stored)
            }
            Err(PipelineError::Backpressure { reason, .. }) => self.refuse(source, &batches, reason),
            Err(e) => Err(e),
        }
    }

    fn refuse(
        &self,
        source: &str,
        batches: &[(String, RecordBatch)],
        reason: String,
    ) -> Result<Receipt, PipelineError> {
        let inner = &self.inner;
        if inner.opts.drop_newest_when_full {
            let mut logged = inner.dropped_logged_at.lock().unwrap_or_else(|p| p.into_inner());
            if logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                tracing::warn!(source, reason, "dropping newest data because chute is full (drop_newest_when_full)");
                *logged = Some(Instant::now());
            }
            for (table, b) in batches {
                inner.count(
                    "chute_rows_dropped_total",
                    "rows dropped when full (drop_newest_when_full)",
                    table,
                    source,
                    b.num_rows() as u64,
                );
            }
            return Ok(Receipt::Dropped);
        }
        for (table, b) in batches {
            inner.count(
                "chute_rows_rejected_total",
                "rows refused with backpressure",
                table,
                source,
                b.num_rows() as u64,
            );
        }
        Err(PipelineError::Backpressure { reason, retry_after: Duration::from_secs(1) })
    }

    async fn spool_append(
        &self,
        spool: &Spool,
        source: &str,
        batches: &[(String, RecordBatch)],
        admission: Admission,
    ) -> Result<(), PipelineError> {
        // Refuse the whole request before writing any of it when the spool is full.
        while let Some(reason) = spool_full(spool) {
            if admission == Admission::Refuse {
                return Err(PipelineError::Backpressure { reason, retry_after: Duration::from_secs(1) });
            }
            if self.inner.is_stopping() || !self.inner.accepting.load(Ordering::Relaxed) {
                return Err(PipelineError::Closed);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // One append for all of the request's tables: the spool stores it in all or in none.
        let tickets = match spool.append_all(source, batches.to_vec()) {
            Ok(t) => t,
            Err(SpoolError::Full { used, limit }) => {
                return Err(PipelineError::Backpressure {
                    reason: format!("spool is full ({used} of {limit} bytes)"),
                    retry_after: Duration::from_secs(1),
                });
            }
            Err(e) => return Err(PipelineError::Spool(e.to_string())),
        };
        for ((table, b), t) in batches.iter().zip(tickets) {
            let rows = b.num_rows();
            match t.await {
                Ok(Ok(())) => {
                    self.inner.count("chute_rows_spooled_total", "rows synced to the spool", table, source, rows as u64)
                }
                Ok(Err(e)) => return Err(PipelineError::Spool(e.to_string())),
                Err(_) => return Err(PipelineError::Closed),
            }
        }
        Ok(())
    }

    /// The state for `/health/ready`, with the reason.
    pub fn health(&self) -> Health {
        let inner = &self.inner;
        let breaker = inner.breaker.state();
        let migrations = inner.migrations_applied.load(Ordering::Relaxed);
        let spool = inner.spool.as_ref().map(|s| {
            let st: SpoolStats = s.stats();
            SpoolHealth {
                bytes: st.bytes,
                segments: st.segments,
                rows: st.rows,
                oldest_unsent_age_seconds: st.oldest_unsent_age_seconds,
                max_bytes: s.options().max_bytes,
            }
        });
        let accepting = inner.accepting.load(Ordering::Relaxed);
        let bootstrap_error = inner.bootstrap_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (state, reason) = if !migrations {
            match bootstrap_error {
                Some(e) => (HealthState::StoreUnavailable, format!("store not ready: {e}")),
                None => (HealthState::Starting, "applying migrations".to_string()),
            }
        } else if breaker == BreakerState::Open {
            let e = inner.breaker.last_error().unwrap_or_default();
            (HealthState::StoreUnavailable, format!("store unavailable, spooling: {e}"))
        } else if breaker == BreakerState::HalfOpen || inner.breaker.consecutive_failures() > 0 {
            let e = inner.breaker.last_error().unwrap_or_default();
            (HealthState::Degraded, format!("store failing, retrying: {e}"))
        } else if let Some(s) = spool.as_ref().filter(|s| s.bytes * 10 >= s.max_bytes * 8) {
            (HealthState::Degraded, format!("spool is {}% full", s.bytes * 100 / s.max_bytes.max(1)))
        } else if !accepting {
            (HealthState::Degraded, "shutting down".to_string())
        } else {
            (HealthState::Healthy, String::new())
        };
        Health { state, reason, accepting, breaker, migrations_applied: migrations, spool }
    }

    /// Stops accepting, delivers what is buffered until `deadline`, leaves the rest in the
    /// spool for the next start.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let inner = self.inner.clone();
        inner.accepting.store(false, Ordering::SeqCst);
        let until = Instant::now() + deadline;
        tokio::task::spawn_blocking(move || delivery::shutdown(&inner, until))
            .await
            .unwrap_or(ShutdownReport { drained: false, rows_left: 0 })
    }

    /// Seals what is buffered so it is delivered now rather than at `max_age` (tests, imports).
    pub fn flush(&self) {
        if let Some(s) = &self.inner.spool {
            let _ = s.seal_all();
        }
        if let Some(m) = &self.inner.memory {
            m.seal_all(&self.inner);
        }
    }

    /// Waits until everything accepted so far is in the store, or `timeout` passes.
    /// Returns whether it drained.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.flush();
        let until = Instant::now() + timeout;
        loop {
            if self.is_idle() {
                return true;
            }
            if Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn is_idle(&self) -> bool {
        let inner = &self.inner;
        let spool_empty =
            inner.spool.as_ref().is_none_or(|s| s.stats().segments == 0 && s.tables_with_work().is_empty());
        let mem_empty = inner.memory.as_ref().is_none_or(|m| m.is_empty());
        spool_empty && mem_empty && inner.inserts_in_flight.load(Ordering::SeqCst) == 0
    }

    /// The spool, when there is one (for inspection).
    pub fn spool(&self) -> Option<&Spool> {
        self.inner.spool.as_ref()
    }
}

fn register_gauges(inner: &Arc<Inner>) {
    let m = &inner.metrics;
    let weak = Arc::downgrade(inner);
    m.gauge_fn(
        "chute_breaker_state",
        "store circuit breaker: 0 closed, 1 half-open, 2 open",
        &[("target", inner.store.target())],
        Box::new(move || weak.upgrade().map_or(0.0, |i| i.breaker.state().as_number())),
    );
    let weak = Arc::downgrade(inner);
    m.gauge_fn(
        "chute_unflushed_bytes",
        "memory held by data not yet durable",
        &[],
        Box::new(move || {
            weak.upgrade()
                .map_or(0.0, |i| ((i.budget_units as usize - i.budget.available_permits()) as u64 * UNIT) as f64)
        }),
    );
    let weak = Arc::downgrade(inner);
    m.gauge_fn(
        "chute_unflushed_bytes_limit",
        "the memory bound for data not yet durable",
        &[],
        Box::new(move || weak.upgrade().map_or(0.0, |i| i.opts.max_unflushed_bytes as f64)),
    );
    let weak = Arc::downgrade(inner);
    m.collector(
        "chute_batch_fill_rows",
        "rows in the batch being filled (the open spool segment, or the memory batch), per table",
        Box::new(move || {
            let Some(i) = weak.upgrade() else { return Vec::new() };
            let fill = match (&i.spool, &i.memory) {
                (Some(s), _) => s.open_fill(),
                (None, Some(m)) => m.fill(),
                _ => Vec::new(),
            };
            fill.into_iter().map(|(t, rows, _)| (vec![("table".to_string(), t)], rows as f64)).collect()
        }),
    );
    if inner.spool.is_some() {
        for (name, help, pick) in [
            ("chute_spool_bytes", "bytes in the spool", 0usize),
            ("chute_spool_segments", "sealed segments waiting for delivery", 1),
            ("chute_spool_rows", "rows in sealed segments waiting for delivery", 2),
            ("chute_spool_oldest_unsent_age_seconds", "age of the oldest undelivered data", 3),
        ] {
            let weak = Arc::downgrade(inner);
            m.gauge_fn(
                name,
                help,
                &[],
                Box::new(move || {
                    weak.upgrade().and_then(|i| i.spool.as_ref().map(|s| s.stats())).map_or(0.0, |st| match pick {
                        0 => st.bytes as f64,
                        1 => st.segments as f64,
                        2 => st.rows as f64,
                        _ => st.oldest_unsent_age_seconds,
                    })
                }),
            );
        }
    }
}
