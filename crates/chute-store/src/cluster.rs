//! Cluster mode (`store.clickhouse.cluster`): chute's own migration DDL rewritten for a ClickHouse
//! cluster, and the migration lock that makes chute instances starting together take turns.
//!
//! # The DDL shape
//!
//! Every table of a migration becomes, `ON CLUSTER <cluster>`:
//!
//! - a `Replicated*MergeTree` table `<table>_local` on every node, its replication path
//!   `/clickhouse/tables/{shard}/{database}/<table>_local` and replica `{replica}` (the servers'
//!   macros), with the original columns, keys and settings;
//! - a `Distributed(<cluster>, <database>, <table>_local, <sharding key>)` table named like the
//!   original, so inserts and queries keep using the names they always used.
//!
//! Small metadata tables (`schema_migrations`, `chute_migration_lock`, `k6_imports`) are not
//! sharded: each is one `Replicated*MergeTree` table under its own name, replicated to every
//! node (path `/clickhouse/tables/all/{database}/<table>`, replica `{shard}-{replica}`), so any
//! node answers for all of it.
//!
//! Materialized views are created on every node and read from and write to the local tables
//! (`TO <target>_local ... FROM <source>_local`): a row inserted through the `Distributed` table
//! reaches its shard's local table, which feeds that shard's view.
//!
//! Sharding keys ([`placement`]) are deterministic on purpose: a retried insert splits into the
//! same per-shard blocks, so each shard's insert deduplication (on by default for replicated
//! tables) recognises its block under the same `insert_deduplication_token`. `rand()` would send a
//! retry's rows to other shards and break exactly-once delivery.
//!
//! # The migration lock
//!
//! [`with_migration_lock`] serialises migrations of chute instances sharing a store. The protocol,
//! on the table `chute_migration_lock (lock, owner, claimed_at, expires_at, released)`:
//!
//! 1. claim: insert `(lock, owner = a new unique id, claimed_at = now, expires_at = now + ttl, 0)`;
//! 2. read the claims of the lock, per owner; a claim is live while it is not released and not
//!    expired. The owner of the oldest live claim (ties: the smaller id) holds the lock;
//! 3. everyone else polls until the holder releases or its claim expires (a holder that died),
//!    then re-reads; a waiter whose own claim expired claims again under a new id;
//! 4. release: insert `(lock, owner, now, now, released = 1)`.
//!
//! Rows expire after a day (TTL). In cluster mode claims are inserted with `insert_quorum='auto'`
//! and read with `select_sequential_consistency=1`. The lock is advisory: migrations stay correct
//! without it (every statement is idempotent: `IF NOT EXISTS`, `IF EXISTS`); it keeps instances
//! from racing each other's `ON CLUSTER` DDL and ledger rows. Two claims inserted within the
//! clock skew of two servers can both see themselves first: the idempotent DDL makes that
//! harmless.

use crate::scan::{Token, TokenKind, tokens};
use crate::sql::{quote, quote_identifier};
use crate::{ErrorKind, Store, StoreError};
use std::time::{Duration, Instant};

/// The cluster chute's tables live on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// The cluster's name in the servers' `remote_servers`.
    pub name: String,
    /// The database chute's tables are in (the `Distributed` tables name it).
    pub database: String,
}

/// Where a table's rows live in cluster mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Spread over the shards by this key (a `Distributed` table over `<table>_local`).
    Sharded(&'static str),
    /// One replicated table holding everything on every node.
    Everywhere,
}

/// The documented placement of every table chute creates (see `docs/clickhouse.md`). None for a
/// table nobody decided about yet: cluster mode refuses to guess.
pub fn placement(table: &str) -> Option<Placement> {
    Some(match table {
        "schema_migrations" | "chute_migration_lock" | "k6_imports" => Placement::Everywhere,
        // One run's samples, metric declarations and aggregates stay on one shard.
        "k6_samples" | "k6_metrics" | "k6_runs" => Placement::Sharded("cityHash64(run_id)"),
        "influx_points" => Placement::Sharded("cityHash64(measurement)"),
        "chute_dead_letters" => Placement::Sharded("cityHash64(`row`)"),
        // HTTP JSON events: one kind of event on one shard.
        "events" => Placement::Sharded("cityHash64(Name)"),
        // OpenTelemetry: a trace's spans together (trace lookups stay on one shard); logs and
        // metrics by service.
        t if t.starts_with("otel_traces") => Placement::Sharded("cityHash64(TraceId)"),
        t if t.starts_with("otel_") => Placement::Sharded("cityHash64(ServiceName)"),
        _ => return None,
    })
}

fn refuse(message: String) -> StoreError {
    StoreError::new(ErrorKind::Schema, message)
}

/// Names of the materialized views chute's migrations create.
fn known_views() -> Vec<String> {
    let mut out = Vec::new();
    for m in crate::migrations::MIGRATIONS {
        for stmt in crate::migrations::statements(m.up) {
            if let Ok(t) = tokens(&stmt) {
                let words: Vec<&Token> = t.iter().take(8).collect();
                if words.len() > 3 && words[1].is_word(&stmt, "MATERIALIZED") && words[2].is_word(&stmt, "VIEW") {
                    let mut i = 3;
                    if words[i].is_word(&stmt, "IF") {
                        i += 3;
                    }
                    if let Some(n) = words.get(i) {
                        out.push(unquote(n.text(&stmt)));
                    }
                }
            }
        }
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '`' || c == '"').to_string()
}

impl Cluster {
    fn on(&self) -> String {
        format!("ON CLUSTER {}", quote_identifier(&self.name))
    }

    /// One of chute's migration statements as the statements that do the same on the cluster.
    /// Statements of other shapes are refused (chute controls the shape of its migrations).
    pub fn rewrite(&self, stmt: &str) -> Result<Vec<String>, StoreError> {
        let toks = tokens(stmt)?;
        let w = |i: usize, kw: &str| toks.get(i).is_some_and(|t| t.is_word(stmt, kw));
        if w(0, "CREATE") && w(1, "TABLE") {
            return self.create_table(stmt, &toks);
        }
        if w(0, "CREATE") && w(1, "MATERIALIZED") && w(2, "VIEW") {
            return self.create_view(stmt, &toks);
        }
        if w(0, "DROP") && (w(1, "TABLE") || w(1, "VIEW")) {
            return self.drop(stmt, &toks);
        }
        if w(0, "ALTER") && w(1, "TABLE") {
            return self.alter(stmt, &toks);
        }
        Err(refuse(format!(
            "cluster mode cannot rewrite this migration statement (CREATE TABLE, CREATE MATERIALIZED VIEW ... TO, \
             DROP and ALTER TABLE are supported): {}",
            first_line(stmt)
        )))
    }

    /// `CREATE TABLE [IF NOT EXISTS] name (...) ENGINE = XMergeTree[(args)] rest`.
    fn create_table(&self, stmt: &str, t: &[Token]) -> Result<Vec<String>, StoreError> {
        let mut i = 2;
        let if_not_exists = t.get(i).is_some_and(|x| x.is_word(stmt, "IF"));
        if if_not_exists {
            i += 3;
        }
        let name_tok = t.get(i).filter(|x| matches!(x.kind, TokenKind::Word | TokenKind::QuotedIdent));
        let name = name_tok.map(|x| unquote(x.text(stmt))).ok_or_else(|| refuse(bad_shape("a table name", stmt)))?;
        if t.get(i + 1).is_some_and(|x| x.text(stmt) == ".") {
            return Err(refuse(format!(
                "cluster mode needs unqualified table names in migrations: {}",
                first_line(stmt)
            )));
        }
        let open = i + 1;
        if t.get(open).map(|x| x.kind) != Some(TokenKind::Open) {
            return Err(refuse(bad_shape("a column list after the table name", stmt)));
        }
        let close = matching(t, open).ok_or_else(|| refuse(bad_shape("a closed column list", stmt)))?;
        let columns = &stmt[t[open].start..t[close].end];
        let mut e = close + 1;
        if !t.get(e).is_some_and(|x| x.is_word(stmt, "ENGINE")) {
            return Err(refuse(bad_shape("ENGINE after the columns", stmt)));
        }
        e += 1;
        if t.get(e).is_some_and(|x| x.text(stmt) == "=") {
            e += 1;
        }
        let engine = t.get(e).filter(|x| x.kind == TokenKind::Word).map(|x| x.text(stmt)).unwrap_or("");
        let null = engine == "Null" && t.get(e + 1).is_none_or(|x| x.kind != TokenKind::Open);
        if (!engine.ends_with("MergeTree") || engine.starts_with("Replicated")) && !null {
            return Err(refuse(format!(
                "cluster mode needs a (non-replicated) *MergeTree engine in migrations, found {engine:?} in: {}",
                first_line(stmt)
            )));
        }
        let (args, rest_from) = if t.get(e + 1).map(|x| x.kind) == Some(TokenKind::Open) {
            let c = matching(t, e + 1).ok_or_else(|| refuse(bad_shape("closed engine arguments", stmt)))?;
            (stmt[t[e + 1].end..t[c].start].trim().to_string(), t[c].end)
        } else {
            (String::new(), t[e].end)
        };
        let rest = stmt[rest_from..].trim();
        let ine = if if_not_exists { "IF NOT EXISTS " } else { "" };
        let with_args = |path: &str, replica: &str| {
            let mut a = format!("{}, {}", quote(path), quote(replica));
            if !args.is_empty() {
                a.push_str(", ");
                a.push_str(&args);
            }
            a
        };
        let tail = if rest.is_empty() { String::new() } else { format!("\n{rest}") };
        // A Null table (a feed that views fold into other tables) keeps nothing to replicate:
        // Null on every node, behind a Distributed table when sharded.
        let local_engine = |path: &str, replica: &str| {
            if null { "Null".to_string() } else { format!("Replicated{engine}({})", with_args(path, replica)) }
        };
        match placement(&name).ok_or_else(|| no_placement(&name))? {
            Placement::Everywhere => Ok(vec![format!(
                "CREATE TABLE {ine}{name} {on} {columns}\nENGINE = {local}{tail}",
                on = self.on(),
                local = local_engine(&format!("/clickhouse/tables/all/{{database}}/{name}"), "{shard}-{replica}"),
            )]),
            Placement::Sharded(key) => {
                let local = format!("{name}_local");
                Ok(vec![
                    format!(
                        "CREATE TABLE {ine}{local} {on} {columns}\nENGINE = {engine_sql}{tail}",
                        on = self.on(),
                        engine_sql =
                            local_engine(&format!("/clickhouse/tables/{{shard}}/{{database}}/{local}"), "{replica}"),
                    ),
                    format!(
                        "CREATE TABLE {ine}{name} {on} AS {local}\nENGINE = Distributed({}, {}, {}, {key})",
                        quote(&self.name),
                        quote(&self.database),
                        quote(&local),
                        on = self.on(),
                    ),
                ])
            }
        }
    }

    /// `CREATE MATERIALIZED VIEW [IF NOT EXISTS] name TO target AS SELECT ... FROM source ...`.
    fn create_view(&self, stmt: &str, t: &[Token]) -> Result<Vec<String>, StoreError> {
        let mut i = 3;
        if t.get(i).is_some_and(|x| x.is_word(stmt, "IF")) {
            i += 3;
        }
        let name = t.get(i).ok_or_else(|| refuse(bad_shape("a view name", stmt)))?;
        if !t.get(i + 1).is_some_and(|x| x.is_word(stmt, "TO")) {
            return Err(refuse(bad_shape("TO <table> after the view name (views without TO are not supported)", stmt)));
        }
        let target = t.get(i + 2).ok_or_else(|| refuse(bad_shape("the TO table", stmt)))?;
        let target_name = unquote(target.text(stmt));
        let mut out = String::with_capacity(stmt.len() + 64);
        out.push_str(&stmt[..name.end]);
        out.push(' ');
        out.push_str(&self.on());
        out.push_str(&stmt[name.end..target.start]);
        out.push_str(&local_name(&target_name)?);
        // The query: tables after FROM / JOIN that are sharded are read locally.
        let mut last = target.end;
        for k in i + 3..t.len() {
            let prev = &t[k - 1];
            let cur = &t[k];
            if (prev.is_word(stmt, "FROM") || prev.is_word(stmt, "JOIN"))
                && matches!(cur.kind, TokenKind::Word | TokenKind::QuotedIdent)
                && !t.get(k + 1).is_some_and(|n| n.text(stmt) == "." || n.kind == TokenKind::Open)
            {
                let src = unquote(cur.text(stmt));
                if placement(&src).is_some() {
                    out.push_str(&stmt[last..cur.start]);
                    out.push_str(&local_name(&src)?);
                    last = cur.end;
                }
            }
        }
        out.push_str(&stmt[last..]);
        Ok(vec![out])
    }

    /// `DROP TABLE|VIEW [IF EXISTS] name [SYNC]`.
    fn drop(&self, stmt: &str, t: &[Token]) -> Result<Vec<String>, StoreError> {
        let mut i = 2;
        let if_exists = t.get(i).is_some_and(|x| x.is_word(stmt, "IF"));
        if if_exists {
            i += 2;
        }
        let name = t.get(i).map(|x| unquote(x.text(stmt))).ok_or_else(|| refuse(bad_shape("a name to drop", stmt)))?;
        let what = t[1].text(stmt).to_ascii_uppercase();
        let ie = if if_exists { "IF EXISTS " } else { "" };
        let drop = |n: &str| format!("DROP {what} {ie}{n} {} SYNC", self.on());
        if known_views().contains(&name) {
            return Ok(vec![drop(&name)]);
        }
        match placement(&name).ok_or_else(|| no_placement(&name))? {
            Placement::Everywhere => Ok(vec![drop(&name)]),
            Placement::Sharded(_) => Ok(vec![drop(&name), drop(&format!("{name}_local"))]),
        }
    }

    /// `ALTER TABLE name <commands>`: the local tables, then the `Distributed` table (which
    /// needs the same columns).
    fn alter(&self, stmt: &str, t: &[Token]) -> Result<Vec<String>, StoreError> {
        let name_tok = t.get(2).ok_or_else(|| refuse(bad_shape("a table name", stmt)))?;
        let name = unquote(name_tok.text(stmt));
        let rest = stmt[name_tok.end..].trim();
        let alter = |n: &str| format!("ALTER TABLE {n} {} {rest}", self.on());
        match placement(&name).ok_or_else(|| no_placement(&name))? {
            Placement::Everywhere => Ok(vec![alter(&name)]),
            Placement::Sharded(_) => Ok(vec![alter(&format!("{name}_local")), alter(&name)]),
        }
    }
}

/// The table a view writes to or reads from on each node.
fn local_name(table: &str) -> Result<String, StoreError> {
    match placement(table).ok_or_else(|| no_placement(table))? {
        Placement::Sharded(_) => Ok(format!("{table}_local")),
        Placement::Everywhere => Ok(table.to_string()),
    }
}

fn no_placement(table: &str) -> StoreError {
    refuse(format!(
        "cluster mode has no sharding decision for table {table}: add it to chute_store::cluster::placement \
         (and docs/clickhouse.md)"
    ))
}

fn bad_shape(what: &str, stmt: &str) -> String {
    format!("cluster mode expected {what} in this migration statement: {}", first_line(stmt))
}

fn first_line(stmt: &str) -> &str {
    stmt.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with("--")).unwrap_or(stmt)
}

/// The index of the bracket closing the one at `open`.
fn matching(t: &[Token], open: usize) -> Option<usize> {
    let depth = t[open].depth;
    (open + 1..t.len()).find(|&k| t[k].kind == TokenKind::Close && t[k].depth == depth)
}

/// How a statement of chute's migrations runs on `store`: as written, or rewritten for its cluster.
pub fn ddl_for(store: &dyn Store, stmt: &str) -> Result<Vec<String>, StoreError> {
    match store.cluster() {
        Some(c) => c.rewrite(stmt),
        None => Ok(vec![stmt.to_string()]),
    }
}

/// The lock's table (rewritten for the cluster like any migration table).
pub const LOCK_TABLE: &str = "CREATE TABLE IF NOT EXISTS chute_migration_lock (
    lock LowCardinality(String),
    owner String,
    claimed_at DateTime64(3, 'UTC'),
    expires_at DateTime64(3, 'UTC'),
    released UInt8
) ENGINE = MergeTree
ORDER BY (lock, claimed_at)
TTL toDateTime(claimed_at) + INTERVAL 1 DAY";

/// The one lock name chute uses.
const LOCK: &str = "schema";

fn new_owner() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.').collect();
    format!("{}-{}-{:016x}", if host.is_empty() { "chute" } else { &host }, std::process::id(), h.finish())
}

struct Claim {
    owner: String,
    live: bool,
}

fn claims(store: &dyn Store) -> Result<Vec<Claim>, StoreError> {
    let consistent = if store.cluster().is_some() { " SETTINGS select_sequential_consistency = 1" } else { "" };
    let b = store.query(
        &format!(
            "SELECT owner, min(claimed_at) AS claimed, toUInt8(max(expires_at) > now64(3) AND max(released) = 0) AS live \
             FROM chute_migration_lock WHERE lock = {{lock:String}} GROUP BY owner ORDER BY claimed, owner{consistent}"
        ),
        &[("lock", LOCK)],
    )?;
    let mut out = Vec::new();
    for (batch, i) in crate::queries::rows(&b) {
        out.push(Claim {
            owner: crate::queries::col(batch, "owner")?.str(i),
            live: crate::queries::col(batch, "live")?.i64(i) == 1,
        });
    }
    Ok(out)
}

fn insert_claim(store: &dyn Store, owner: &str, ttl: Duration, released: bool) -> Result<(), StoreError> {
    let quorum = if store.cluster().is_some() { " SETTINGS insert_quorum = 'auto'" } else { "" };
    let expires = if released {
        "now64(3)".to_string()
    } else {
        format!("now64(3) + toIntervalMillisecond({})", ttl.as_millis())
    };
    store.execute(&format!(
        "INSERT INTO chute_migration_lock (lock, owner, claimed_at, expires_at, released){quorum} \
         SELECT {}, {}, now64(3), {expires}, {}",
        quote(LOCK),
        quote(owner),
        u8::from(released)
    ))
}

/// Runs `f` holding chute's migration lock on `store` (see the module docs for the protocol).
/// Waits up to `ttl` plus a minute for the lock; a holder that died is taken over once its claim
/// is `ttl` old.
pub fn with_migration_lock<T>(
    store: &dyn Store,
    ttl: Duration,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    for stmt in ddl_for(store, LOCK_TABLE)? {
        store.execute(&stmt)?;
    }
    let ttl = ttl.max(Duration::from_secs(1));
    let deadline = Instant::now() + ttl + Duration::from_secs(60);
    let mut owner = new_owner();
    insert_claim(store, &owner, ttl, false)?;
    let mut pause = Duration::from_millis(50);
    let mut logged = false;
    loop {
        let all = claims(store)?;
        let holder = all.iter().find(|c| c.live);
        match holder {
            Some(h) if h.owner == owner => break,
            _ if !all.iter().any(|c| c.owner == owner && c.live) => {
                // Our claim expired while we waited: claim again, behind the live ones.
                owner = new_owner();
                insert_claim(store, &owner, ttl, false)?;
                continue;
            }
            Some(h) => {
                if !logged {
                    tracing::info!(holder = %h.owner, "waiting for the migration lock held by another chute");
                    logged = true;
                }
                if Instant::now() >= deadline {
                    let _ = insert_claim(store, &owner, ttl, true);
                    return Err(StoreError::new(
                        ErrorKind::Transient,
                        format!(
                            "migration lock: still held by {} after waiting {:?}",
                            h.owner,
                            ttl + Duration::from_secs(60)
                        ),
                    ));
                }
            }
            None => {}
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_secs(1));
    }
    tracing::debug!(owner = %owner, "migration lock acquired");
    let result = f();
    if let Err(e) = insert_claim(store, &owner, ttl, true) {
        tracing::warn!(error = %e, "cannot release the migration lock; it expires by itself");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_chute_creates_has_a_documented_placement() {
        assert_eq!(placement("k6_samples"), Some(Placement::Sharded("cityHash64(run_id)")));
        assert_eq!(placement("otel_traces"), Some(Placement::Sharded("cityHash64(TraceId)")));
        assert_eq!(placement("otel_logs"), Some(Placement::Sharded("cityHash64(ServiceName)")));
        assert_eq!(placement("schema_migrations"), Some(Placement::Everywhere));
        assert_eq!(placement("nobody_decided"), None);
        assert!(known_views().contains(&"k6_runs_mv".to_string()), "{:?}", known_views());
    }
}
