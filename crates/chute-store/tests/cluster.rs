//! Cluster mode's DDL and the migration lock. The rewritten DDL of chute's first migrations is
//! compared with a golden file (`UPDATE_GOLDEN=1` rewrites it); every migration's tables and views
//! must have their cluster counterparts, and every rewritten statement must parse in the real
//! engine (`formatQuery`). The lock runs on the embedded engine: two holders take turns, and a
//! dead holder's claim expires.

use chute_store::cluster::{Cluster, LOCK_TABLE, Placement, placement, with_migration_lock};
use chute_store::embedded::{EmbeddedOptions, EmbeddedStore};
use chute_store::migrations::{MIGRATIONS, statements};
use chute_store::scan::{TokenKind, tokens};
use chute_store::{Store, StoreError};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn cluster() -> Cluster {
    Cluster { name: "chute_cluster".into(), database: "chute".into() }
}

/// The ledger's DDL is private to migrations; the golden file covers it through `up` on a
/// recording store instead.
struct Recorder(std::sync::Mutex<Vec<String>>, Cluster);

impl Store for Recorder {
    fn target(&self) -> &str {
        "recorder"
    }
    fn insert(&self, _: &str, _: &arrow_array::RecordBatch, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    fn query(&self, _: &str, _: &[(&str, &str)]) -> Result<Vec<arrow_array::RecordBatch>, StoreError> {
        Ok(vec![])
    }
    fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(sql.to_string());
        Ok(())
    }
    fn cluster(&self) -> Option<&Cluster> {
        Some(&self.1)
    }
}

fn rewrite_all(first_n: usize) -> String {
    let c = cluster();
    let mut out = String::new();
    for m in MIGRATIONS.iter().take(first_n) {
        out.push_str(&format!("-- {} (up)\n", m.name));
        for stmt in statements(m.up) {
            for s in c.rewrite(&stmt).unwrap_or_else(|e| panic!("{}: {e}", m.name)) {
                out.push_str(&s);
                out.push_str(";\n\n");
            }
        }
        out.push_str(&format!("-- {} (down)\n", m.name));
        for stmt in statements(m.down) {
            for s in c.rewrite(&stmt).unwrap_or_else(|e| panic!("{}: {e}", m.name)) {
                out.push_str(&s);
                out.push_str(";\n");
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_cluster_ddl_of_chutes_k6_tables_matches_the_golden_file() {
    let rec = Recorder(Default::default(), cluster());
    chute_store::migrations::up(&rec, Some(0)).unwrap();
    let mut text = String::from("-- schema_migrations (the ledger), as `migrations::up` creates it\n");
    for s in rec.0.lock().unwrap().iter() {
        text.push_str(s);
        text.push_str(";\n\n");
    }
    text.push_str("-- chute_migration_lock\n");
    for s in cluster().rewrite(LOCK_TABLE).unwrap() {
        text.push_str(&s);
        text.push_str(";\n\n");
    }
    text.push_str(&rewrite_all(3));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cluster_ddl.sql");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(golden == text, "cluster DDL differs from {} (UPDATE_GOLDEN=1 rewrites it):\n{text}", path.display());
}

#[test]
fn a_sharded_table_becomes_a_replicated_local_table_and_a_distributed_table() {
    let out = cluster()
        .rewrite(
            "CREATE TABLE IF NOT EXISTS influx_points (\n    measurement LowCardinality(String),\n    v Float64\n) \
             ENGINE = ReplacingMergeTree(v)\nORDER BY measurement\nSETTINGS non_replicated_deduplication_window = 1000",
        )
        .unwrap();
    assert_eq!(
        out,
        vec![
            "CREATE TABLE IF NOT EXISTS influx_points_local ON CLUSTER `chute_cluster` (\n    measurement \
             LowCardinality(String),\n    v Float64\n)\nENGINE = ReplicatedReplacingMergeTree(\
             '/clickhouse/tables/{shard}/{database}/influx_points_local', '{replica}', v)\nORDER BY measurement\n\
             SETTINGS non_replicated_deduplication_window = 1000"
                .to_string(),
            "CREATE TABLE IF NOT EXISTS influx_points ON CLUSTER `chute_cluster` AS influx_points_local\nENGINE = \
             Distributed('chute_cluster', 'chute', 'influx_points_local', cityHash64(measurement))"
                .to_string(),
        ]
    );
    let views = cluster()
        .rewrite("CREATE MATERIALIZED VIEW IF NOT EXISTS k6_runs_mv TO k6_runs AS SELECT run_id FROM k6_samples GROUP BY run_id")
        .unwrap();
    assert_eq!(
        views,
        vec![
            "CREATE MATERIALIZED VIEW IF NOT EXISTS k6_runs_mv ON CLUSTER `chute_cluster` TO k6_runs_local AS SELECT \
             run_id FROM k6_samples_local GROUP BY run_id"
                .to_string()
        ]
    );
    assert!(cluster().rewrite("CREATE TABLE t (a UInt8) ENGINE = Memory").is_err());
    assert!(cluster().rewrite("RENAME TABLE a TO b").is_err());
}

/// Names created by a list of statements: (tables, views).
fn created(stmts: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut tables, mut views) = (BTreeSet::new(), BTreeSet::new());
    for s in stmts {
        let t = tokens(s).unwrap();
        let w: Vec<String> = t
            .iter()
            .filter(|t| matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent))
            .take(8)
            .map(|t| t.text(s).trim_matches('`').to_string())
            .collect();
        let up: Vec<String> = w.iter().map(|x| x.to_ascii_uppercase()).collect();
        let skip = |i: usize| if up.get(i).map(String::as_str) == Some("IF") { i + 3 } else { i };
        if up.first().map(String::as_str) == Some("CREATE") && up.get(1).map(String::as_str) == Some("TABLE") {
            tables.insert(w[skip(2)].clone());
        } else if up.get(1).map(String::as_str) == Some("MATERIALIZED") {
            views.insert(w[skip(3)].clone());
        }
    }
    (tables, views)
}

#[test]
fn every_table_and_view_of_every_migration_has_its_cluster_counterpart() {
    let c = cluster();
    for m in MIGRATIONS {
        let original = statements(m.up);
        let mut rewritten = Vec::new();
        for s in &original {
            rewritten.extend(c.rewrite(s).unwrap_or_else(|e| panic!("{}: {e}", m.name)));
        }
        assert!(rewritten.iter().all(|s| s.contains("ON CLUSTER `chute_cluster`")), "{}", m.name);
        let (tables, views) = created(&original);
        let (new_tables, new_views) = created(&rewritten);
        assert_eq!(views, new_views, "{}: every view is created on the cluster", m.name);
        for t in &tables {
            match placement(t).unwrap_or_else(|| panic!("{}: no placement decided for table {t}", m.name)) {
                Placement::Sharded(key) => {
                    assert!(new_tables.contains(&format!("{t}_local")), "{}: {t}_local", m.name);
                    let dist = rewritten
                        .iter()
                        .find(|s| s.contains(&format!("{t} ON CLUSTER")) && s.contains("Distributed("))
                        .unwrap_or_else(|| panic!("{}: no Distributed table for {t}", m.name));
                    assert!(dist.contains(&format!("'{t}_local', {key})")), "{dist}");
                }
                Placement::Everywhere => assert!(new_tables.contains(t), "{}: {t}", m.name),
            }
            // Null tables (feeds folded into other tables by views) keep nothing to replicate.
            let null = original
                .iter()
                .any(|s| s.contains(&format!("CREATE TABLE IF NOT EXISTS {t} (")) && s.contains("ENGINE = Null"));
            let engine = if null { "ENGINE = Null" } else { "ENGINE = Replicated" };
            let local =
                rewritten.iter().find(|s| s.contains(&format!("CREATE TABLE IF NOT EXISTS {t}")) && s.contains(engine));
            assert!(local.is_some(), "{}: a Replicated*MergeTree (or Null) table for {t}", m.name);
        }
        for s in rewritten.iter().filter(|s| s.contains("MATERIALIZED VIEW")) {
            let t = tokens(s).unwrap();
            let to = t.iter().position(|x| x.is_word(s, "TO")).unwrap();
            let target = t[to + 1].text(s);
            assert!(target.ends_with("_local") || placement(target) == Some(Placement::Everywhere), "{s}");
        }
        let mut down = Vec::new();
        for s in statements(m.down) {
            down.extend(c.rewrite(&s).unwrap_or_else(|e| panic!("{} down: {e}", m.name)));
        }
        for t in tables.iter().filter(|t| matches!(placement(t), Some(Placement::Sharded(_)))) {
            assert!(
                down.iter().any(|s| s.contains(&format!("{t}_local ON CLUSTER"))),
                "{} down drops {t}_local",
                m.name
            );
        }
    }
}

fn open(dir: &std::path::Path) -> EmbeddedStore {
    EmbeddedStore::open(&EmbeddedOptions {
        path: dir.join("engine"),
        ingest_connections: 1,
        query_connections: 4,
        ..Default::default()
    })
    .expect("engine opens (run `make setup` first)")
}

#[test]
fn every_rewritten_statement_parses_in_the_real_engine() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let c = cluster();
    let mut all = c.rewrite(LOCK_TABLE).unwrap();
    for m in MIGRATIONS {
        for s in statements(m.up).iter().chain(statements(m.down).iter()) {
            all.extend(c.rewrite(s).unwrap());
        }
    }
    for s in &all {
        let r = store.query("SELECT formatQuery({q:String})", &[("q", s)]);
        assert!(r.is_ok(), "the engine does not parse:\n{s}\n{:?}", r.err());
    }
}

fn claims(store: &dyn Store) -> u64 {
    let b = store.query("SELECT uniqExact(owner) FROM chute_migration_lock", &[]).unwrap();
    chute_store::rows::value_at(b[0].column(0), 0).as_u64().unwrap()
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn two_holders_of_the_migration_lock_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(open(dir.path()));
    let (release_a, wait_a) = std::sync::mpsc::channel::<()>();
    let (a_in_tx, a_in) = std::sync::mpsc::channel::<()>();
    let s = store.clone();
    let a = std::thread::spawn(move || {
        with_migration_lock(s.as_ref(), Duration::from_secs(30), || {
            a_in_tx.send(()).unwrap();
            wait_a.recv().unwrap();
            Ok(())
        })
    });
    a_in.recv_timeout(Duration::from_secs(30)).expect("the first holder gets the lock");
    let b_in = Arc::new(AtomicBool::new(false));
    let (s, flag) = (store.clone(), b_in.clone());
    let b = std::thread::spawn(move || {
        with_migration_lock(s.as_ref(), Duration::from_secs(30), || {
            flag.store(true, Ordering::SeqCst);
            Ok(())
        })
    });
    wait_for("the second claim", Duration::from_secs(30), || claims(store.as_ref()) == 2);
    assert!(!b_in.load(Ordering::SeqCst), "the second holder waits while the first holds the lock");
    release_a.send(()).unwrap();
    a.join().unwrap().unwrap();
    b.join().unwrap().unwrap();
    assert!(b_in.load(Ordering::SeqCst));
}

#[test]
fn a_dead_holders_claim_expires_and_the_lock_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.execute(LOCK_TABLE).unwrap();
    // A holder that claimed the lock for 1.5 s and died.
    store
        .execute(
            "INSERT INTO chute_migration_lock SELECT 'schema', 'ghost', now64(3), now64(3) + toIntervalMillisecond(1500), 0",
        )
        .unwrap();
    let t0 = Instant::now();
    let ran = with_migration_lock(&store, Duration::from_secs(30), || Ok(true)).unwrap();
    assert!(ran);
    assert!(t0.elapsed() >= Duration::from_millis(1000), "waited for the ghost's claim to expire: {:?}", t0.elapsed());
}
