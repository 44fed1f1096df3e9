//! The `null` target: accepts every batch and keeps nothing, so the receive path (decode,
//! batching, spool) can be measured alone, the way peers measure into a blackhole.

use crate::{ErrorKind, Store, StoreError};
use arrow_array::RecordBatch;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct NullStore {
    rows: AtomicU64,
    batches: AtomicU64,
}

impl NullStore {
    pub fn new() -> Self {
        Self::default()
    }
    /// Rows accepted so far.
    pub fn rows(&self) -> u64 {
        self.rows.load(Ordering::Relaxed)
    }
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
}

impl Store for NullStore {
    fn target(&self) -> &str {
        "null"
    }
    fn insert(&self, _table: &str, batch: &RecordBatch, _token: &str) -> Result<(), StoreError> {
        self.rows.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    fn query(&self, _sql: &str, _params: &[(&str, &str)]) -> Result<Vec<RecordBatch>, StoreError> {
        Err(StoreError::new(ErrorKind::Unavailable, "the null store target keeps no data to query"))
    }
    fn execute(&self, _sql: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    fn has_schema(&self) -> bool {
        false
    }
}
