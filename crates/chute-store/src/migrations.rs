//! Versioned schema migrations, embedded in the binary and applied in order at startup.
//!
//! The `schema_migrations` table records every change as a row (version, name, applied 0/1,
//! checksum, seq); the row with the highest `seq` for a version is its state. Applying twice
//! changes nothing: only versions not yet applied run, and every statement is idempotent
//! (`IF NOT EXISTS` / `IF EXISTS`). A recorded checksum that differs from the embedded SQL is
//! reported by `status` (someone edited a released migration).

use crate::{Store, StoreError};
use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{UInt8Type, UInt32Type, UInt64Type};
use sha2::{Digest, Sha256};

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub up: &'static str,
    pub down: &'static str,
}

macro_rules! migration {
    ($v:expr, $name:literal) => {
        Migration {
            version: $v,
            name: $name,
            up: include_str!(concat!("../migrations/", $name, ".up.sql")),
            down: include_str!(concat!("../migrations/", $name, ".down.sql")),
        }
    };
}

/// Every migration, in order.
pub static MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_dead_letters"),
    migration!(2, "0002_k6"),
    migration!(3, "0003_influx_points"),
    migration!(4, "0004_otel"),
    migration!(5, "0005_catalog"),
    migration!(6, "0006_events"),
    migration!(7, "0007_catalog_feed"),
];

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied UInt8,
    checksum String,
    seq UInt64,
    changed_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(seq)
ORDER BY version";

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MigrationStatus {
    pub version: u32,
    pub name: String,
    pub applied: bool,
    /// False when the applied SQL differs from the SQL in this binary.
    pub checksum_matches: bool,
}

impl Migration {
    pub fn checksum(&self) -> String {
        let digest = Sha256::digest(self.up.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// Splits a migration into statements at `;` ending a line (no statement in our migrations has
/// a `;` at the end of a line inside it).
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("--") && cur.trim().is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if trimmed.ends_with(';') {
            let s = cur.trim().trim_end_matches(';').trim().to_string();
            if !s.is_empty() {
                out.push(s);
            }
            cur.clear();
        }
    }
    let s = cur.trim().to_string();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

struct LedgerRow {
    applied: bool,
    checksum: String,
    seq: u64,
}

/// Runs one of chute's DDL statements as this store needs it (rewritten for a cluster).
fn run_ddl(store: &dyn Store, stmt: &str) -> Result<(), StoreError> {
    for s in crate::cluster::ddl_for(store, stmt)? {
        store.execute(&s)?;
    }
    Ok(())
}

fn ledger(store: &dyn Store) -> Result<std::collections::BTreeMap<u32, LedgerRow>, StoreError> {
    run_ddl(store, LEDGER)?;
    let batches = store.query(
        "SELECT version, argMax(applied, seq), argMax(checksum, seq), max(seq) \
         FROM schema_migrations GROUP BY version ORDER BY version",
        &[],
    )?;
    let mut out = std::collections::BTreeMap::new();
    for b in batches {
        let v = b.column(0).as_primitive::<UInt32Type>();
        let a = b.column(1).as_primitive::<UInt8Type>();
        let c = b.column(2).as_string::<i32>();
        let s = b.column(3).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            out.insert(
                v.value(i),
                LedgerRow { applied: a.value(i) == 1, checksum: c.value(i).to_string(), seq: s.value(i) },
            );
        }
    }
    Ok(out)
}

fn record(store: &dyn Store, m: &Migration, applied: bool, seq: u64) -> Result<(), StoreError> {
    store.execute(&format!(
        "INSERT INTO schema_migrations (version, name, applied, checksum, seq) VALUES ({}, {}, {}, {}, {seq})",
        m.version,
        crate::sql::quote(m.name),
        u8::from(applied),
        crate::sql::quote(&m.checksum()),
    ))
}

pub fn status(store: &dyn Store) -> Result<Vec<MigrationStatus>, StoreError> {
    let l = ledger(store)?;
    Ok(MIGRATIONS
        .iter()
        .map(|m| {
            let row = l.get(&m.version);
            let applied = row.is_some_and(|r| r.applied);
            MigrationStatus {
                version: m.version,
                name: m.name.to_string(),
                applied,
                checksum_matches: !applied || row.is_some_and(|r| r.checksum == m.checksum()),
            }
        })
        .collect())
}

/// True when every migration in this binary is applied.
pub fn is_current(store: &dyn Store) -> Result<bool, StoreError> {
    Ok(status(store)?.iter().all(|s| s.applied))
}

/// Applies every pending migration up to `target` (all when None). Returns the versions applied.
/// On a store other chute processes share, this holds chute's migration lock (see
/// [`crate::cluster`]).
pub fn up(store: &dyn Store, target: Option<u32>) -> Result<Vec<u32>, StoreError> {
    match store.migration_lock_ttl() {
        Some(ttl) => crate::cluster::with_migration_lock(store, ttl, || up_unlocked(store, target)),
        None => up_unlocked(store, target),
    }
}

fn up_unlocked(store: &dyn Store, target: Option<u32>) -> Result<Vec<u32>, StoreError> {
    let l = ledger(store)?;
    let mut seq = l.values().map(|r| r.seq).max().unwrap_or(0);
    let mut done = Vec::new();
    for m in MIGRATIONS {
        if target.is_some_and(|t| m.version > t) {
            break;
        }
        if l.get(&m.version).is_some_and(|r| r.applied) {
            continue;
        }
        for stmt in statements(m.up) {
            run_ddl(store, &stmt)
                .map_err(|e| StoreError { message: format!("migration {} failed: {}", m.name, e.message), ..e })?;
        }
        seq += 1;
        record(store, m, true, seq)?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        done.push(m.version);
    }
    Ok(done)
}

/// Makes the schema whole again when a table that should exist is missing (dropped by hand, or
/// a fresh database behind an old ledger): applies pending migrations, then re-runs the
/// statements of the applied ones, which are all idempotent (`IF NOT EXISTS`).
pub fn repair(store: &dyn Store) -> Result<(), StoreError> {
    up(store, None)?;
    let l = ledger(store)?;
    for m in MIGRATIONS {
        if l.get(&m.version).is_some_and(|r| r.applied) {
            for stmt in statements(m.up) {
                run_ddl(store, &stmt)?;
            }
        }
    }
    tracing::info!("schema repaired");
    Ok(())
}

/// Reverts applied migrations above `target`, newest first (`Some(0)` reverts all; `None`
/// reverts only the newest). Returns the versions reverted.
pub fn down(store: &dyn Store, target: Option<u32>) -> Result<Vec<u32>, StoreError> {
    let l = ledger(store)?;
    let mut seq = l.values().map(|r| r.seq).max().unwrap_or(0);
    let applied: Vec<&Migration> = MIGRATIONS.iter().filter(|m| l.get(&m.version).is_some_and(|r| r.applied)).collect();
    let to_revert: Vec<&Migration> = match target {
        None => applied.last().copied().into_iter().collect(),
        Some(t) => applied.into_iter().filter(|m| m.version > t).collect(),
    };
    let mut done = Vec::new();
    for m in to_revert.into_iter().rev() {
        for stmt in statements(m.down) {
            run_ddl(store, &stmt)?;
        }
        seq += 1;
        record(store, m, false, seq)?;
        tracing::info!(version = m.version, name = m.name, "migration reverted");
        done.push(m.version);
    }
    Ok(done)
}

/// Checks that a column list from `DESCRIBE` matches an Arrow schema by name and order
/// (insertable columns only). Used by tests and by `chute migrate status --check`.
pub fn insertable_columns(store: &dyn Store, table: &str) -> Result<Vec<(String, String)>, StoreError> {
    let batches = store.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} \
         AND default_kind NOT IN ('MATERIALIZED', 'ALIAS') ORDER BY position",
        &[("t", table)],
    )?;
    let mut out = Vec::new();
    for b in batches {
        let n = b.column(0).as_string::<i32>();
        let t = b.column(1).as_string::<i32>();
        for i in 0..b.num_rows() {
            if n.is_valid(i) {
                out.push((n.value(i).to_string(), t.value(i).to_string()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_line_ending_semicolons_and_skip_comments() {
        let s = statements("-- a comment\nCREATE TABLE a (x String DEFAULT ';');\n\nDROP TABLE b;\n");
        assert_eq!(s, vec!["CREATE TABLE a (x String DEFAULT ';')".to_string(), "DROP TABLE b".to_string()]);
    }

    #[test]
    fn versions_are_increasing_and_names_carry_them() {
        for w in MIGRATIONS.windows(2) {
            assert!(w[0].version < w[1].version);
        }
        for m in MIGRATIONS {
            assert!(m.name.starts_with(&format!("{:04}_", m.version)), "{}", m.name);
            assert!(!statements(m.up).is_empty() && !statements(m.down).is_empty());
        }
    }
}
