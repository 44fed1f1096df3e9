//! The embedded engine for real: loading errors, migrations, idempotent inserts, bound
//! parameters, and the column contract between chute-tables and the migrations.
//! Each test runs in its own process (cargo-nextest), as chDB allows one engine per process.

use chute_store::embedded::{EmbeddedOptions, EmbeddedStore};
use chute_store::{ErrorKind, Store, migrations};
use chute_tables::k6::{SampleRow, SamplesBuilder};

/// The options of a test's engine in `dir`, to change one field of.
fn options(dir: &std::path::Path) -> EmbeddedOptions {
    EmbeddedOptions { path: dir.join("engine"), ingest_connections: 1, query_connections: 2, ..Default::default() }
}

fn open(dir: &std::path::Path) -> EmbeddedStore {
    EmbeddedStore::open(&options(dir)).expect("engine opens (run `make setup` first)")
}

fn count(store: &dyn Store, sql: &str) -> u64 {
    let b = store.query(sql, &[]).unwrap();
    let c = b[0].column(0);
    chute_store::rows::value_at(c, 0).as_u64().unwrap()
}

fn samples(n: usize, run: &str) -> arrow_array::RecordBatch {
    let mut b = SamplesBuilder::new();
    for i in 0..n {
        b.tags.insert("scenario", "browse");
        b.tags.insert("status", "200");
        b.end_row(&SampleRow {
            run_id: run,
            timestamp_us: 1_795_433_093_000_000 + i as i64,
            metric: "http_req_duration",
            metric_type: "trend",
            value: i as f64,
            vu: Some(1),
            iter: Some(i as u64),
            source: "test",
        });
    }
    b.finish()
}

#[test]
fn a_missing_engine_library_is_a_clear_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let err = EmbeddedStore::open(&EmbeddedOptions {
        chdb_library: "/nonexistent/chdb/_chdb.abi3.so".into(),
        path: dir.path().join("engine"),
        ..Default::default()
    })
    .expect_err("open fails");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert_eq!(err.message, "chDB engine not found at /nonexistent/chdb/_chdb.abi3.so; run `make setup`");
}

#[test]
fn a_file_that_is_not_the_engine_is_a_clear_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("_chdb.abi3.so");
    std::fs::write(&fake, b"this is not a shared object").unwrap();
    let err = EmbeddedStore::open(&EmbeddedOptions {
        chdb_library: fake.to_str().unwrap().into(),
        path: dir.path().join("engine"),
        ..Default::default()
    })
    .expect_err("open fails");
    assert_eq!(err.kind, ErrorKind::Unavailable);
    assert!(err.message.contains("could not be loaded") && err.message.contains("make setup"), "{}", err.message);
}

#[test]
fn a_shared_object_without_the_adbc_entry_point_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let libc = ["/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("zlib is on every Debian machine");
    let err = EmbeddedStore::open(&EmbeddedOptions {
        chdb_library: libc.into(),
        path: dir.path().join("engine"),
        ..Default::default()
    })
    .expect_err("open fails");
    assert!(err.message.contains("could not be loaded"), "{}", err.message);
}

#[test]
fn migrations_apply_once_and_running_them_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let first = migrations::up(&store, None).unwrap();
    assert_eq!(first.len(), migrations::MIGRATIONS.len());
    let again = migrations::up(&store, None).unwrap();
    assert!(again.is_empty(), "second run applied {again:?}");
    assert!(migrations::is_current(&store).unwrap());
    assert!(migrations::status(&store).unwrap().iter().all(|s| s.applied && s.checksum_matches));

    // down reverts the newest; up brings it back; the table works again.
    let newest = migrations::MIGRATIONS.last().unwrap().version;
    assert_eq!(migrations::down(&store, None).unwrap(), vec![newest]);
    assert!(!migrations::is_current(&store).unwrap());
    assert_eq!(migrations::up(&store, None).unwrap(), vec![newest]);
    assert!(migrations::is_current(&store).unwrap());
}

#[test]
fn every_table_schema_matches_the_migrated_table_column_for_column() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    migrations::up(&store, None).unwrap();
    for t in chute_tables::all() {
        let cols = migrations::insertable_columns(&store, t.name).unwrap();
        let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
        let schema = (t.schema)();
        let expected: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, expected, "columns of {} (ingest matches by position)", t.name);
        // An empty batch of the schema is accepted by the table.
        let empty = arrow_array::RecordBatch::new_empty(schema);
        store.insert(t.name, &empty, &format!("empty-{}", t.name)).unwrap();
    }
}

#[test]
fn an_insert_retried_with_the_same_token_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    migrations::up(&store, None).unwrap();
    let batch = samples(1000, "r1");
    store.insert("k6_samples", &batch, "spool-a:1-1:0").unwrap();
    store.insert("k6_samples", &batch, "spool-a:1-1:0").unwrap();
    assert_eq!(count(&store, "SELECT count() FROM k6_samples"), 1000);
    // A different token is a different insert.
    store.insert("k6_samples", &batch, "spool-a:2-2:0").unwrap();
    assert_eq!(count(&store, "SELECT count() FROM k6_samples"), 2000);
    // Materialized tag columns and the runs view are filled by the engine.
    assert_eq!(count(&store, "SELECT count() FROM k6_samples WHERE scenario = 'browse'"), 2000);
    let run = chute_store::queries::k6::run(&store, "r1").unwrap().unwrap();
    assert_eq!(run.samples, 2000);
    assert_eq!(run.sources, vec!["test".to_string()]);
}

#[test]
fn parameters_are_values_never_sql() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    migrations::up(&store, None).unwrap();
    store.insert("k6_samples", &samples(10, "x' OR 1=1 --"), "t1").unwrap();
    store.insert("k6_samples", &samples(5, "plain"), "t2").unwrap();
    let b = store.query("SELECT count() FROM k6_samples WHERE run_id = {r:String}", &[("r", "x' OR 1=1 --")]).unwrap();
    assert_eq!(chute_store::rows::value_at(b[0].column(0), 0), 10);
    let b =
        store.query("SELECT count() FROM k6_samples WHERE run_id = {r:String}", &[("r", "plain' OR '1'='1")]).unwrap();
    assert_eq!(chute_store::rows::value_at(b[0].column(0), 0), 0);
    let err = store.query("SELECT 1", &[("bad name", "x")]).unwrap_err();
    assert!(err.message.contains("bad parameter name"));

    // Any text comes back as it went in, typed values are read as their type, and a parameter
    // belongs to its query only.
    for v in ["it's", "back\\slash\\'", "tab\tnew\nline\r", "nul\0", "{r:String}", "ünï 😀", "", "-- x"] {
        let b = store.query("SELECT hex({v:String}) AS h, length({v:String}) AS n", &[("v", v)]).unwrap();
        let hex: String = v.bytes().map(|c| format!("{c:02X}")).collect();
        assert_eq!(chute_store::rows::value_at(b[0].column(0), 0), hex, "{v:?}");
        assert_eq!(chute_store::rows::value_at(b[0].column(1), 0), v.len() as u64);
    }
    let b = store
        .query(
            "SELECT number FROM numbers(10) WHERE number >= {from:UInt64} LIMIT {n:UInt64}",
            &[("from", "4"), ("n", "3")],
        )
        .unwrap();
    assert_eq!(
        (0..b[0].num_rows()).map(|i| chute_store::rows::value_at(b[0].column(0), i)).collect::<Vec<_>>(),
        [4, 5, 6]
    );
    let err = store.query("SELECT {n:UInt64}", &[("n", "four")]).unwrap_err();
    assert!(err.message.contains("four"), "{err}");
    let err = store.query("SELECT {v:String}", &[]).unwrap_err();
    assert!(err.message.contains("v"), "a parameter of an earlier query is not reused: {err}");
}

#[test]
fn engine_errors_are_classified_and_the_engine_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let e = store.query("SELECT * FROM no_such_table", &[]).unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::MissingTable, Some(60)));
    let e = store.query("SELEC 1", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Schema);
    let e = store.insert("no_such_table", &samples(1, "r"), "t").unwrap_err();
    assert_eq!(e.kind, ErrorKind::MissingTable, "{e}");
    assert_eq!(count(&store, "SELECT 41 + 1"), 42);
}

#[test]
fn deleting_a_run_removes_its_samples_and_run_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    migrations::up(&store, None).unwrap();
    store.insert("k6_samples", &samples(100, "gone"), "a").unwrap();
    store.insert("k6_samples", &samples(7, "kept"), "b").unwrap();
    chute_store::queries::k6::delete_run(&store, "gone").unwrap();
    assert_eq!(count(&store, "SELECT count() FROM k6_samples"), 7);
    assert!(chute_store::queries::k6::run(&store, "gone").unwrap().is_none());
    assert_eq!(chute_store::queries::k6::run(&store, "kept").unwrap().unwrap().samples, 7);
}

#[test]
fn opening_a_second_engine_in_one_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path());
    let err = EmbeddedStore::open(&EmbeddedOptions { path: dir.path().join("other"), ..Default::default() })
        .expect_err("second open fails");
    assert!(err.message.contains("already open in this process"), "{}", err.message);
}

#[test]
fn a_closed_engine_refuses_calls_and_reopening_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    migrations::up(&store, None).unwrap();
    store.insert("k6_samples", &samples(10, "kept"), "t").unwrap();
    chute_store::embedded::close_engine();
    let e = store.query("SELECT 1", &[]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);
    assert!(e.message.contains("closed"), "{}", e.message);
    chute_store::embedded::close_engine(); // idempotent
    let e = EmbeddedStore::open(&EmbeddedOptions { path: dir.path().join("engine"), ..Default::default() })
        .expect_err("no second open");
    assert!(e.message.contains("cannot be opened again"), "{}", e.message);
}

/// Every thread of this process, with its name and nice value.
fn threads() -> Vec<(String, i32)> {
    let threads = chute_store::embedded::process_threads().unwrap();
    threads.into_iter().filter_map(|(tid, name)| Some((name, chute_store::embedded::thread_nice(tid)?))).collect()
}

#[test]
fn the_engines_merges_and_inserts_yield_at_their_nice_values_and_no_other_thread_does() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&EmbeddedOptions { merge_nice: 7, insert_nice: 3, ..options(dir.path()) }).unwrap();
    migrations::up(&store, None).unwrap();
    // Several parts and a forced merge: the engine's merge threads are busy at least once.
    for i in 0..4 {
        store.insert("k6_samples", &samples(100, "r1"), &format!("merge-nice:{i}")).unwrap();
    }
    store.query("OPTIMIZE TABLE k6_samples FINAL", &[]).unwrap();
    assert_eq!(count(&store, "SELECT count() FROM k6_samples"), 400);

    // A background inserter (delivery's worker) lowers itself once, before its first insert.
    let (entered, stay) = (std::sync::mpsc::channel(), std::sync::mpsc::channel::<()>());
    let inserter = {
        let store = store.clone();
        std::thread::Builder::new()
            .name("test-inserter".into())
            .spawn(move || {
                store.enter_insert_thread();
                store.insert("k6_samples", &samples(10, "r2"), "insert-nice:bg").unwrap();
                entered.0.send(()).unwrap();
                let _ = stay.1.recv();
            })
            .unwrap()
    };
    entered.1.recv().unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let all = threads();
        let at = |prefix: &str, nice: i32| {
            let named: Vec<_> = all.iter().filter(|(n, _)| n.starts_with(prefix)).collect();
            !named.is_empty() && named.iter().all(|(_, n)| *n == nice)
        };
        if at("MergeMutate", 7) && at("ThreadPool", 3) {
            assert!(at("test-inserter", 3), "the background inserter not lowered: {all:?}");
            // Only those were changed: no other thread is at 3 or 7 (the engine sets some of its
            // own, such as its memory worker, to other values).
            let lowered = ["MergeMutate", "ThreadPool", "test-inserter"];
            let others: Vec<_> = all
                .iter()
                .filter(|(n, nice)| [3, 7].contains(nice) && !lowered.iter().any(|p| n.starts_with(p)))
                .collect();
            assert!(others.is_empty(), "other threads lowered: {others:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "merge threads not at nice 7 and worker threads at 3 within 15 s: {all:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The thread that opened the engine and inserts without entering (a receiver's stand-in:
    // with the spool off, requests insert) keeps its priority.
    // SAFETY: gettid takes no arguments.
    let me = unsafe { libc::gettid() } as libc::id_t;
    assert_eq!(chute_store::embedded::thread_nice(me), Some(0));
    stay.0.send(()).unwrap();
    inserter.join().unwrap();
    assert_eq!(count(&store, "SELECT count() FROM k6_samples"), 410);
}

/// `n` OpenTelemetry log records, every tenth with `checkout failed` in its body.
fn logs(n: usize) -> arrow_array::RecordBatch {
    use chute_tables::otel::{LogRow, LogsBuilder};
    let mut b = LogsBuilder::new();
    for i in 0..n {
        b.log_attributes.insert("user.id", &format!("u{}", i % 7));
        let body = if i % 10 == 0 { format!("checkout failed for order {i}") } else { format!("served page {i}") };
        b.end_row(&LogRow {
            timestamp_ns: 1_795_433_093_000_000_000 + i as i64,
            service_name: "shop",
            body: &body,
            ..Default::default()
        });
    }
    b.finish()
}

/// (active parts, bytes of skip indexes in them) of `otel_logs`.
fn log_parts(store: &dyn Store) -> (u64, u64) {
    let sql = "SELECT count(), sum(secondary_indices_compressed_bytes) FROM system.parts \
               WHERE database = currentDatabase() AND table = 'otel_logs' AND active";
    let b = store.query(sql, &[]).unwrap();
    let v = |i: usize| chute_store::rows::value_at(b[0].column(i), 0).as_u64().unwrap();
    (v(0), v(1))
}

/// What the indexes of `otel_logs` serve: a word of the body, a key of the attributes.
const SEARCH: &str = "SELECT count() FROM otel_logs \
                      WHERE hasToken(lower(Body), 'failed') AND has(mapKeys(LogAttributes), 'user.id')";

#[test]
fn new_parts_leave_skip_indexes_to_the_merge_and_searches_find_the_same_rows_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    migrations::up(&store, None).unwrap();
    store.insert("otel_logs", &logs(1000), "skip-index:0").unwrap();
    store.insert("otel_logs", &logs(1000), "skip-index:1").unwrap();
    assert_eq!(log_parts(&store), (2, 0), "inserted parts carry no skip index");
    assert_eq!(count(&store, SEARCH), 200);

    store.query("OPTIMIZE TABLE otel_logs FINAL", &[]).unwrap();
    let (parts, index_bytes) = log_parts(&store);
    assert_eq!(parts, 1);
    assert!(index_bytes > 0, "the merge built the skip indexes");
    assert_eq!(count(&store, SEARCH), 200);
}

#[test]
fn with_materialize_skip_indexes_on_insert_new_parts_have_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        EmbeddedStore::open(&EmbeddedOptions { materialize_skip_indexes_on_insert: true, ..options(dir.path()) })
            .unwrap();
    migrations::up(&store, None).unwrap();
    store.insert("otel_logs", &logs(1000), "skip-index:0").unwrap();
    let (parts, index_bytes) = log_parts(&store);
    assert_eq!(parts, 1);
    assert!(index_bytes > 0, "the insert built the skip indexes");
    assert_eq!(count(&store, SEARCH), 100);
}
