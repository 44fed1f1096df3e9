//! The only place that knows ClickHouse: store targets (the embedded engine, a ClickHouse server
//! or cluster over HTTP, and a null target), the error classification that drives retries, schema
//! migrations (and their cluster form), the SQL behind every question chute answers, and the
//! engine side of the ClickHouse-compatible HTTP interface ([`session`]).
//!
//! Everything here is blocking: callers run it on their own threads (the delivery workers) or in
//! `spawn_blocking`.

pub mod arrow_fix;
pub mod cluster;
pub mod embedded;
pub mod error;
pub mod faulty;
pub mod locate;
pub mod migrations;
pub mod null;
pub mod queries;
pub mod remote;
pub mod rows;
pub mod scan;
pub mod session;
pub mod sql;

pub use error::{ErrorKind, StoreError};

use arrow_array::RecordBatch;

/// A ClickHouse that chute writes to and reads from.
pub trait Store: Send + Sync {
    /// A short name for logs, metrics and the circuit breaker (`embedded`, `null`, ...).
    fn target(&self) -> &str;

    /// Inserts `batch` into `table` (columns in table order), synchronously: when this returns
    /// Ok the rows are stored. A second insert with the same `token` and table within the
    /// deduplication window stores nothing, so a retry of the same batch is safe.
    fn insert(&self, table: &str, batch: &RecordBatch, token: &str) -> Result<(), StoreError>;

    /// Runs a query. `params` are bound to `{name:Type}` placeholders in `sql`: sent beside the
    /// SQL to a server, put in place as `CAST('<quoted value>' AS Type)` for the embedded engine
    /// ([`sql::bind`]); a value is never spliced into the SQL text unquoted.
    fn query(&self, sql: &str, params: &[(&str, &str)]) -> Result<Vec<RecordBatch>, StoreError>;

    /// Runs a statement without a result (DDL, `SET`, mutations).
    fn execute(&self, sql: &str) -> Result<(), StoreError>;

    /// Answers when the store is usable.
    fn ping(&self) -> Result<(), StoreError> {
        self.query("SELECT 1", &[]).map(|_| ())
    }

    /// False for a target that keeps no tables (the null store): nothing to migrate.
    fn has_schema(&self) -> bool {
        true
    }

    /// The cluster chute's tables are spread over, when this store is one: migrations then run
    /// rewritten as `ON CLUSTER` DDL (see [`cluster`]).
    fn cluster(&self) -> Option<&cluster::Cluster> {
        None
    }

    /// Set when other chute processes may share this store: migrations then hold chute's
    /// migration lock, whose claims expire after this long. None for a store of this process only.
    fn migration_lock_ttl(&self) -> Option<std::time::Duration> {
        None
    }

    /// Called once by a thread that will insert in the background (delivery's workers), before
    /// its first insert. The embedded engine lowers the thread's CPU priority there
    /// (`store.embedded.insert_nice`): its inserts share the cores with receiving, and
    /// acknowledging comes first.
    fn enter_insert_thread(&self) {}
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn target(&self) -> &str {
        (**self).target()
    }
    fn insert(&self, table: &str, batch: &RecordBatch, token: &str) -> Result<(), StoreError> {
        (**self).insert(table, batch, token)
    }
    fn query(&self, sql: &str, params: &[(&str, &str)]) -> Result<Vec<RecordBatch>, StoreError> {
        (**self).query(sql, params)
    }
    fn execute(&self, sql: &str) -> Result<(), StoreError> {
        (**self).execute(sql)
    }
    fn ping(&self) -> Result<(), StoreError> {
        (**self).ping()
    }
    fn has_schema(&self) -> bool {
        (**self).has_schema()
    }
    fn cluster(&self) -> Option<&cluster::Cluster> {
        (**self).cluster()
    }
    fn migration_lock_ttl(&self) -> Option<std::time::Duration> {
        (**self).migration_lock_ttl()
    }
    fn enter_insert_thread(&self) {
        (**self).enter_insert_thread()
    }
}
