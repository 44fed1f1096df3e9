//! The engine side of the ClickHouse HTTP interface, on the real engine: results in ClickHouse's
//! formats written by the engine, inserts read from files in those formats, SHOW/DESCRIBE through
//! ADBC, read-only refusals, and settings that stay with their request.

use chute_store::embedded::{EmbeddedOptions, EmbeddedStore};
use chute_store::scan::Kind;
use chute_store::session::{Outcome, ReadOnly, Request, run};
use chute_store::{Store, StoreError};
use std::path::Path;

fn open(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open(&EmbeddedOptions {
        path: dir.join("engine"),
        ingest_connections: 1,
        query_connections: 2,
        ..Default::default()
    })
    .expect("engine opens (run `make setup` first)")
}

struct Ctx {
    store: EmbeddedStore,
    tmp: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Ctx {
    fn new() -> Ctx {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        Ctx { store, tmp: dir.path().join("tmp"), _dir: dir }
    }

    fn run_with(
        &self,
        text: &[u8],
        settings: &[(&str, &str)],
        params: &[(&str, &str)],
        ro: ReadOnly,
    ) -> Result<Outcome, StoreError> {
        let settings: Vec<(String, String)> = settings.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        run(
            &self.store,
            &Request {
                text,
                default_format: "TabSeparated",
                database: None,
                settings: &settings,
                params: &params,
                read_only: ro,
                user: "default",
                tmp_dir: &self.tmp,
            },
        )
    }

    fn text(&self, sql: &str) -> String {
        let o = self.run_with(sql.as_bytes(), &[], &[], ReadOnly::No).unwrap_or_else(|e| panic!("{sql}: {e}"));
        o.output.map(|f| std::fs::read_to_string(f.path()).unwrap_or_default()).unwrap_or_default()
    }
}

#[test]
fn results_come_back_in_clickhouse_formats_with_exact_types() {
    let c = Ctx::new();
    c.text("CREATE TABLE t (id UInt32, at DateTime64(3, 'UTC'), m Map(String, UInt8), tags Array(LowCardinality(String)), n Nullable(Float64)) ENGINE = MergeTree ORDER BY id");
    c.text("INSERT INTO t VALUES (1, '2026-11-23 10:00:00.125', {'a': 1}, ['x', 'y'], NULL), (2, '2026-11-23 10:00:01', {}, [], 2.5)");
    assert_eq!(c.text("SELECT id, n FROM t ORDER BY id"), "1\t\\N\n2\t2.5\n");
    assert_eq!(c.text("SELECT id FROM t ORDER BY id FORMAT CSVWithNames"), "\"id\"\n1\n2\n");
    let json: serde_json::Value = serde_json::from_str(&c.text("SELECT * FROM t ORDER BY id FORMAT JSON")).unwrap();
    let types: Vec<&str> = json["meta"].as_array().unwrap().iter().map(|m| m["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["UInt32", "DateTime64(3, 'UTC')", "Map(String, UInt8)", "Array(LowCardinality(String))", "Nullable(Float64)"]
    );
    assert_eq!(json["data"][0]["at"], "2026-11-23 10:00:00.125");
    assert_eq!(json["rows"], 2);
    let o = c.run_with(b"SELECT id FROM t FORMAT Parquet", &[], &[], ReadOnly::No).unwrap();
    assert_eq!(o.format.as_deref(), Some("Parquet"));
    assert!(std::fs::read(o.output.unwrap().path()).unwrap().starts_with(b"PAR1"));
    // No rows: the format's frame is still there.
    assert_eq!(c.text("SELECT id FROM t WHERE id > 10 FORMAT TSVWithNames"), "id\n");
}

#[test]
fn show_and_describe_are_answered_in_any_format() {
    let c = Ctx::new();
    c.text("CREATE TABLE t (a UInt8, s LowCardinality(String)) ENGINE = MergeTree ORDER BY a");
    assert_eq!(c.text("SHOW TABLES"), "t\n");
    assert_eq!(c.text("EXISTS TABLE t FORMAT TSVWithNamesAndTypes"), "result\nUInt8\n1\n");
    let d = c.text("DESCRIBE TABLE t FORMAT JSONEachRow");
    let first: serde_json::Value = serde_json::from_str(d.lines().next().unwrap()).unwrap();
    assert_eq!((first["name"].as_str(), first["type"].as_str()), (Some("a"), Some("UInt8")));
    assert_eq!(d.lines().nth(1).map(|l| l.contains("LowCardinality(String)")), Some(true));
}

#[test]
fn inserts_read_their_data_in_any_format_and_honour_dedup_tokens() {
    let c = Ctx::new();
    c.text("CREATE TABLE t (a UInt32, s String) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100");
    let o = c
        .run_with(
            b"INSERT INTO t FORMAT JSONEachRow {\"a\":1,\"s\":\"x\"}\n{\"a\":2,\"s\":\"y\"}",
            &[],
            &[],
            ReadOnly::No,
        )
        .unwrap();
    assert_eq!((o.kind, o.rows), (Kind::Insert, 2));
    let o = c
        .run_with(b"INSERT INTO t (a, s) SETTINGS max_insert_threads = 1 FORMAT CSV\n3,\"z\"\n", &[], &[], ReadOnly::No)
        .unwrap();
    assert_eq!(o.rows, 1);
    for _ in 0..2 {
        c.run_with(b"INSERT INTO t FORMAT TSV\n4\tw\n", &[("insert_deduplication_token", "tok-1")], &[], ReadOnly::No)
            .unwrap();
    }
    assert_eq!(c.text("SELECT count(), sum(a) FROM t"), "4\t10\n", "the second insert under the same token is dropped");
}

#[test]
fn read_only_requests_cannot_write_and_errors_keep_clickhouses_codes() {
    let c = Ctx::new();
    c.text("CREATE TABLE t (a UInt8) ENGINE = MergeTree ORDER BY a");
    let e = c.run_with(b"INSERT INTO t VALUES (1)", &[], &[], ReadOnly::User).err().unwrap();
    assert_eq!(e.code, Some(164));
    assert!(e.message.contains("readonly"), "{e}");
    let e = c.run_with(b"DROP TABLE t", &[], &[], ReadOnly::HttpGet).err().unwrap();
    assert!(e.code == Some(164) && e.message.contains("method GET implies readonly"), "{e}");
    assert!(c.run_with(b"SELECT 1", &[], &[], ReadOnly::User).is_ok());
    assert_eq!(c.run_with(b"SELEC 1", &[], &[], ReadOnly::No).err().unwrap().code, Some(62));
    assert_eq!(c.run_with(b"SELECT 1 FORMAT NoSuchFormat", &[], &[], ReadOnly::No).err().unwrap().code, Some(73));
    assert_eq!(c.run_with(b"SELECT * FROM nosuch", &[], &[], ReadOnly::No).err().unwrap().code, Some(60));
}

#[test]
fn settings_and_parameters_belong_to_their_request() {
    let c = Ctx::new();
    let o = c
        .run_with(
            b"SELECT getSetting('max_threads'), {p:String}",
            &[("max_threads", "3")],
            &[("p", "a\\tb")],
            ReadOnly::No,
        )
        .unwrap();
    assert_eq!(std::fs::read_to_string(o.output.unwrap().path()).unwrap(), "3\ta\\tb\n");
    // The next request on the engine does not see them.
    let b = c.store.query("SELECT toString(getSetting('max_threads'))", &[]).unwrap();
    assert_ne!(chute_store::rows::value_at(b[0].column(0), 0), "3");
    assert_eq!(c.text("SELECT getSetting('max_threads') = 3"), "0\n");
}
