//! The memory intake (spool off): batches wait in memory per table until a batch limit, then
//! go to the table's delivery worker; each caller is answered when its rows are stored.

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

pub(crate) struct MemoryIntake {
    limits: BatchLimits,
    open: Mutex<HashMap<String, MemBatch>>,
}

impl MemoryIntake {
    pub fn new(limits: BatchLimits) -> Self {
        MemoryIntake { limits, open: Mutex::new(HashMap::new()) }
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
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            for (table, b) in batches {
                let (tx, rx) = tokio::sync::oneshot::channel();
                waits.push(rx);
                let mb = open.entry(table.clone()).or_insert_with(|| MemBatch {
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
                if (mb.rows >= self.limits.max_rows || mb.bytes >= self.limits.max_bytes)
                    && let Some(mb) = open.remove(table)
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
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let tables: Vec<String> = open
                .iter()
                .filter(|(_, m)| all || m.since.elapsed() >= self.limits.max_age)
                .map(|(t, _)| t.clone())
                .collect();
            tables.into_iter().filter_map(|t| open.remove(&t)).collect()
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
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.values().map(|m| (m.table.clone(), m.rows, m.bytes)).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    }
}
