//! A store wrapper that fails on command, for tests of retries, the circuit breaker and
//! dead-lettering against a real store underneath.

use crate::{ErrorKind, Store, StoreError};
use arrow_array::RecordBatch;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct FaultyStore<S> {
    inner: S,
    fault: Mutex<Option<StoreError>>,
    /// Inserts that reached the inner store and succeeded.
    pub inserts_ok: AtomicU64,
    /// Inserts refused by the injected fault.
    pub inserts_failed: AtomicU64,
    /// After a successful insert, report this error anyway (the "timeout after commit" case).
    lose_ack: Mutex<u32>,
    /// The same, only for inserts into one table.
    lose_ack_of: Mutex<Option<(String, u32)>>,
}

impl<S: Store> FaultyStore<S> {
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            fault: Mutex::new(None),
            inserts_ok: AtomicU64::new(0),
            inserts_failed: AtomicU64::new(0),
            lose_ack: Mutex::new(0),
            lose_ack_of: Mutex::new(None),
        }
    }

    /// Every insert and ping fails with a transient error until [`FaultyStore::heal`].
    pub fn break_down(&self) {
        *self.fault.lock().unwrap() =
            Some(StoreError { kind: ErrorKind::Transient, code: Some(210), message: "injected outage".into() });
    }

    pub fn fail_with(&self, e: StoreError) {
        *self.fault.lock().unwrap() = Some(e);
    }

    pub fn heal(&self) {
        *self.fault.lock().unwrap() = None;
    }

    /// The next `n` inserts are stored but answered with a transient error.
    pub fn lose_next_acks(&self, n: u32) {
        *self.lose_ack.lock().unwrap() = n;
    }

    /// The next `n` inserts into `table` are stored but answered with a transient error.
    pub fn lose_next_acks_of(&self, table: &str, n: u32) {
        *self.lose_ack_of.lock().unwrap() = Some((table.to_string(), n));
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn target(&self) -> &str {
        self.inner.target()
    }
    fn insert(&self, table: &str, batch: &RecordBatch, token: &str) -> Result<(), StoreError> {
        if let Some(e) = self.fault.lock().unwrap().clone() {
            self.inserts_failed.fetch_add(1, Ordering::Relaxed);
            return Err(e);
        }
        self.inner.insert(table, batch, token)?;
        self.inserts_ok.fetch_add(1, Ordering::Relaxed);
        let timeout = || StoreError { kind: ErrorKind::Transient, code: Some(209), message: "injected timeout".into() };
        let mut lose = self.lose_ack.lock().unwrap();
        if *lose > 0 {
            *lose -= 1;
            return Err(timeout());
        }
        if let Some((t, n)) = self.lose_ack_of.lock().unwrap().as_mut()
            && t == table
            && *n > 0
        {
            *n -= 1;
            return Err(timeout());
        }
        Ok(())
    }
    fn query(&self, sql: &str, params: &[(&str, &str)]) -> Result<Vec<RecordBatch>, StoreError> {
        self.inner.query(sql, params)
    }
    fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.inner.execute(sql)
    }
    fn ping(&self) -> Result<(), StoreError> {
        if let Some(e) = self.fault.lock().unwrap().clone() {
            return Err(e);
        }
        self.inner.ping()
    }
    fn cluster(&self) -> Option<&crate::cluster::Cluster> {
        self.inner.cluster()
    }
    fn migration_lock_ttl(&self) -> Option<std::time::Duration> {
        self.inner.migration_lock_ttl()
    }
    fn has_schema(&self) -> bool {
        self.inner.has_schema()
    }
}
