//! The memory intake (spool off): batches wait in memory per table and go to the table's
//! delivery worker as soon as it is idle (or when a batch limit is reached); each caller is
//! answered when its rows are stored.
//!
//! Batching is adaptive: while an insert of a table runs, what arrives for that table gathers
//! into the next batch, handed over the moment the insert finishes. A lone request is inserted
//! at once (its caller waits for one insert, not for `batch.max_age`); under load, batches grow
//! to whatever arrived during one insert, up to `batch.max_rows`/`max_bytes`.

use crate::{BatchLimits, Inner, PipelineError};
use arrow_array::RecordBatch;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub(crate) type Waiter = tokio::sync::oneshot::Sender<Result<(), PipelineError>>;

/// Rows of one table waiting for their flush, with everyone waiting on them.
pub(crate) struct MemBatch {
    pub table: String,
    pub parts: Vec<(String, RecordBatch)>,
    pub rows: u64,
    pub bytes: u64,
    pub since: Instant,
    pub waiters: Vec<Waiter>,
}

#[derive(Default)]
struct State {
    open: HashMap<String, MemBatch>,
    /// Batches handed to each table's worker and not yet delivered.
    handed: HashMap<String, u32>,
}

impl State {
    fn take(&mut self, table: &str) -> Option<MemBatch> {
        let mb = self.open.remove(table)?;
        *self.handed.entry(table.to_string()).or_default() += 1;
        Some(mb)
    }

    fn is_idle(&self, table: &str) -> bool {
        self.handed.get(table).is_none_or(|n| *n == 0)
    }
}

pub(crate) struct MemoryIntake {
    limits: BatchLimits,
    state: Mutex<State>,
}

impl MemoryIntake {
    pub fn new(limits: BatchLimits) -> Self {
        MemoryIntake { limits, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The table's worker finished a batch: if it has nothing else queued, what gathered
    /// meanwhile goes to it now.
    pub fn delivered(&self, inner: &std::sync::Arc<Inner>, table: &str) {
        let next = {
            let mut st = self.lock();
            if let Some(n) = st.handed.get_mut(table) {
                *n = n.saturating_sub(1);
            }
            if st.is_idle(table) { st.take(table) } else { None }
        };
        if let Some(mb) = next {
            crate::delivery::hand_over(inner, mb);
        }
    }

    /// Adds the batches and waits until they are stored.
    pub async fn submit(
        &self,
        inner: &std::sync::Arc<Inner>,
        source: &str,
        batches: &[(String, RecordBatch)],
    ) -> Result<(), PipelineError> {
        let mut waits = Vec::with_capacity(batches.len());
        let mut full = Vec::new();
        {
            let mut st = self.lock();
            for (table, b) in batches {
                let (tx, rx) = tokio::sync::oneshot::channel();
                waits.push(rx);
                let mb = st.open.entry(table.clone()).or_insert_with(|| MemBatch {
                    table: table.clone(),
                    parts: Vec::new(),
                    rows: 0,
                    bytes: 0,
                    since: Instant::now(),
                    waiters: Vec::new(),
                });
                mb.parts.push((source.to_string(), b.clone()));
                mb.rows += b.num_rows() as u64;
                mb.bytes += b.get_array_memory_size() as u64;
                mb.waiters.push(tx);
                let full_now = mb.rows >= self.limits.max_rows || mb.bytes >= self.limits.max_bytes;
                if (full_now || st.is_idle(table))
                    && let Some(mb) = st.take(table)
                {
                    full.push(mb);
                }
            }
        }
        for mb in full {
            crate::delivery::hand_over(inner, mb);
        }
        for rx in waits {
            match rx.await {
                Ok(r) => r?,
                Err(_) => return Err(PipelineError::Closed),
            }
        }
        Ok(())
    }

    /// Hands over batches older than `max_age` (or all of them).
    pub fn seal_matching(&self, inner: &std::sync::Arc<Inner>, all: bool) {
        let due: Vec<MemBatch> = {
            let mut st = self.lock();
            let tables: Vec<String> = st
                .open
                .iter()
                .filter(|(_, m)| all || m.since.elapsed() >= self.limits.max_age)
                .map(|(t, _)| t.clone())
                .collect();
            tables.into_iter().filter_map(|t| st.take(&t)).collect()
        };
        for mb in due {
            crate::delivery::hand_over(inner, mb);
        }
    }

    pub fn seal_all(&self, inner: &std::sync::Arc<Inner>) {
        self.seal_matching(inner, true)
    }

    /// Rows and bytes waiting per table: (table, rows, bytes).
    pub fn fill(&self) -> Vec<(String, u64, u64)> {
        self.lock().open.values().map(|m| (m.table.clone(), m.rows, m.bytes)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().open.is_empty()
    }
}
