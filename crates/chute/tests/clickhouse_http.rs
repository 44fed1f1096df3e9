//! chute's ClickHouse-compatible HTTP interface, driven by ClickHouse's own clients (the Python
//! `clickhouse-connect` package and the Rust `clickhouse` crate) and by raw HTTP for ClickHouse's
//! error codes; and `chute sql`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const USERS: &str = "clickhouse_http.users=[{name = \"default\", password = \"secret\"}, \
                     {name = \"reader\", password = \"r\", readonly = true}]";

fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

/// A chute with the interface on a free port: (chute, interface base URL).
fn start(dir: &Path) -> (Chute, String) {
    let chute = Chute::start(dir, &["clickhouse_http.enabled=true", "clickhouse_http.listen=127.0.0.1:0", USERS]);
    let url = banner_address(&chute, "ClickHouse HTTP interface on ");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    (chute, url)
}

/// A POST to the interface as `user`.
fn ch(url: &str, user: &str, key: &str, query_string: &str, body: &str) -> Response {
    http_post(
        &format!("{url}/?{query_string}"),
        &[("X-ClickHouse-User", user), ("X-ClickHouse-Key", key)],
        body.as_bytes(),
    )
    .unwrap()
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.1.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn clickhouse_connect_creates_a_table_inserts_and_reads_typed_values() {
    let dir = tempfile::tempdir().unwrap();
    let (_chute, url) = start(dir.path());
    let port = url.rsplit(':').next().unwrap().to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/clickhouse_connect_roundtrip.py");
    let out = Command::new(venv_python())
        .arg(&script)
        .args(["127.0.0.1", &port, "secret", "reader", "r"])
        .output()
        .expect("the project's .venv has python (run scripts/setup.sh)");
    assert!(out.status.success(), "clickhouse-connect failed: {}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["written"], 3, "{r}");
    assert_eq!(r["count"], 3, "{r}");
    assert_eq!(
        r["types"],
        serde_json::json!(["UInt32", "String", "Float64", "DateTime64(3, 'UTC')", "Array(String)", "Nullable(String)"])
    );
    assert_eq!(
        r["rows"],
        serde_json::json!([
            [1, "alpha", 1.5, "2026-11-23T10:00:00.125000+00:00", ["a", "b"], null],
            [2, "beta", -2.25, "2026-11-23T10:00:01.125000+00:00", [], "second"],
            [3, "gamma é", 1e300, "2026-11-24T10:00:00.125000+00:00", ["x"], ""]
        ])
    );
    assert_eq!(r["params"], 42, "query parameters are bound");
    assert_eq!(r["ro_rows"], 3, "a read-only user reads");
    assert_eq!(r["ro_code"], 164, "a read-only user's insert is refused with READONLY: {r}");
    assert!(r["bad_password_error"].as_str().unwrap_or("").contains("516"), "{r}");
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize, clickhouse::Row)]
struct Order {
    id: u64,
    customer: String,
    amount: f64,
    items: Vec<String>,
    paid: bool,
}

#[tokio::test]
async fn the_rust_clickhouse_crate_inserts_and_fetches_rows_in_row_binary() {
    let dir = tempfile::tempdir().unwrap();
    let (_chute, url) = start(dir.path());
    let client = clickhouse::Client::default().with_url(&url).with_user("default").with_password("secret");
    client
        .query(
            "CREATE TABLE orders (id UInt64, customer String, amount Float64, items Array(String), paid Bool) \
             ENGINE = MergeTree ORDER BY id",
        )
        .execute()
        .await
        .unwrap();
    let orders: Vec<Order> = (1..=500)
        .map(|i| Order {
            id: i,
            customer: format!("customer-{}", i % 7),
            amount: i as f64 * 1.25,
            items: (0..i % 3).map(|k| format!("sku-{k}")).collect(),
            paid: i % 2 == 0,
        })
        .collect();
    let mut insert = client.insert::<Order>("orders").await.unwrap();
    for o in &orders {
        insert.write(o).await.unwrap();
    }
    insert.end().await.unwrap();

    let back: Vec<Order> = client.query("SELECT ?fields FROM orders ORDER BY id").fetch_all().await.unwrap();
    assert_eq!(back, orders);
    let n: u64 = client
        .query("SELECT count() FROM orders WHERE customer = ? AND paid")
        .bind("customer-3")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(n, orders.iter().filter(|o| o.customer == "customer-3" && o.paid).count() as u64);
    let total: f64 = client
        .query("SELECT sum(amount) FROM orders WHERE id <= {max:UInt64}")
        .param("max", 10u64)
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(total, (1..=10).map(|i| i as f64 * 1.25).sum::<f64>());

    let wrong = clickhouse::Client::default().with_url(&url).with_user("default").with_password("nope");
    let e = wrong.query("SELECT 1").fetch_one::<u8>().await.unwrap_err().to_string();
    assert!(e.contains("516") && e.contains("Authentication failed"), "{e}");
}

#[test]
fn bad_input_gets_clickhouses_codes_and_statuses_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_chute, url) = start(dir.path());
    assert_eq!(ureq_get(&format!("{url}/ping")).unwrap(), (200, "Ok.\n".to_string()));
    assert_eq!(ureq_get(&format!("{url}/")).unwrap(), (200, "Ok.\n".to_string()));
    let r = ch(&url, "default", "secret", "", "CREATE TABLE t (a UInt8, s String) ENGINE = MergeTree ORDER BY a");
    assert_eq!(r.0, 200, "{r:?}");

    // Wrong password, unknown user: AUTHENTICATION_FAILED, 403 as ClickHouse answers.
    for (user, key) in [("default", "wrong"), ("nobody", "secret")] {
        let r = ch(&url, user, key, "", "SELECT 1");
        assert_eq!(r.0, 403, "{r:?}");
        assert_eq!(header(&r, "x-clickhouse-exception-code"), Some("516"), "{r:?}");
        assert!(r.2.starts_with("Code: 516. DB::Exception: ") && r.2.contains("Authentication failed"), "{r:?}");
    }
    // Basic authentication and URL parameters are other ways in.
    let r = http_post(&format!("{url}/"), &[("Authorization", "Basic ZGVmYXVsdDpzZWNyZXQ=")], b"SELECT 7").unwrap();
    assert_eq!((r.0, r.2.as_str()), (200, "7\n"), "{r:?}");
    let r = http_post(&format!("{url}/?user=default&password=secret&query=SELECT%208"), &[], b"").unwrap();
    assert_eq!((r.0, r.2.as_str()), (200, "8\n"), "{r:?}");

    // Syntax error: 62, ClickHouse's text, 400.
    let r = ch(&url, "default", "secret", "", "SELEC 1");
    assert_eq!(r.0, 400, "{r:?}");
    assert_eq!(header(&r, "x-clickhouse-exception-code"), Some("62"), "{r:?}");
    assert!(r.2.starts_with("Code: 62. DB::Exception: Syntax error"), "{r:?}");
    // Unknown table: 60, 404.
    let r = ch(&url, "default", "secret", "", "SELECT * FROM nosuch");
    assert_eq!((r.0, header(&r, "x-clickhouse-exception-code")), (404, Some("60")), "{r:?}");
    // Unknown format, in the statement or as default_format.
    let r = ch(&url, "default", "secret", "", "SELECT 1 FORMAT NoSuchFormat");
    assert_eq!(header(&r, "x-clickhouse-exception-code"), Some("73"), "{r:?}");
    assert!(r.2.contains("NoSuchFormat"), "{r:?}");
    let r = ch(&url, "default", "secret", "default_format=NoSuchFormat", "SELECT 1");
    assert_eq!(header(&r, "x-clickhouse-exception-code"), Some("73"), "{r:?}");
    // A read-only user, and any GET, cannot write: READONLY (164); nothing is stored.
    let r = ch(&url, "reader", "r", "query=INSERT%20INTO%20t%20FORMAT%20TSV", "1\tx\n");
    assert_eq!(header(&r, "x-clickhouse-exception-code"), Some("164"), "{r:?}");
    assert!(r.2.contains("readonly"), "{r:?}");
    let (status, body) =
        ureq_get(&format!("{url}/?user=default&password=secret&query=INSERT%20INTO%20t%20VALUES%20(1,'x')")).unwrap();
    assert!(status != 200 && body.contains("Code: 164"), "{status} {body}");
    let r = ch(&url, "reader", "r", "", "DROP TABLE t");
    assert_eq!(header(&r, "x-clickhouse-exception-code"), Some("164"), "{r:?}");
    // Data that does not parse: refused, and the table holds nothing of it.
    let r = ch(&url, "default", "secret", "query=INSERT%20INTO%20t%20FORMAT%20TSV", "1\tok\nnot-a-number\tx\n");
    assert_ne!(r.0, 200, "{r:?}");
    assert!(r.2.starts_with("Code: "), "{r:?}");
    let r = ch(&url, "default", "secret", "", "SELECT count() FROM t");
    assert_eq!(r.2, "0\n", "a refused insert stores nothing");

    // What works: an insert with the data in the body, a result in a named format, headers.
    let r = ch(&url, "default", "secret", "query=INSERT%20INTO%20t%20FORMAT%20CSV", "1,one\n2,two\n");
    assert_eq!(r.0, 200, "{r:?}");
    assert!(header(&r, "x-clickhouse-summary").unwrap().contains("\"written_rows\":\"2\""), "{r:?}");
    let r = ch(&url, "reader", "r", "default_format=JSONEachRow&query_id=q-1", "SELECT a, s FROM t ORDER BY a");
    assert_eq!(r.2, "{\"a\":1,\"s\":\"one\"}\n{\"a\":2,\"s\":\"two\"}\n", "{r:?}");
    assert_eq!(header(&r, "x-clickhouse-format"), Some("JSONEachRow"));
    assert_eq!(header(&r, "x-clickhouse-query-id"), Some("q-1"));
    assert!(header(&r, "x-clickhouse-server-display-name").is_some());
    let r = ch(&url, "default", "secret", "param_n=2", "SELECT s FROM t WHERE a = {n:UInt8}");
    assert_eq!(r.2, "two\n", "{r:?}");
}

#[tokio::test]
async fn request_and_response_bodies_are_compressed_as_clickhouse_clients_send_them() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (_chute, url) = start(dir.path());
    let http = reqwest::Client::new();
    let post = |q: &str, body: Vec<u8>| {
        http.post(format!("{url}/?{q}"))
            .header("X-ClickHouse-User", "default")
            .header("X-ClickHouse-Key", "secret")
            .body(body)
    };
    let r = post("", b"CREATE TABLE c (n UInt32) ENGINE = MergeTree ORDER BY n".to_vec()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let rows: String = (0..10_000).map(|i| format!("{i}\n")).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(rows.as_bytes()).unwrap();
    let r = post("query=INSERT%20INTO%20c%20FORMAT%20TSV", gz.finish().unwrap())
        .header("Content-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = post("", b"SELECT n FROM c ORDER BY n".to_vec())
        .query(&[("enable_http_compression", "1")])
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers().get("content-encoding").unwrap(), "gzip");
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.len() < rows.len() / 2);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
    assert_eq!(text, rows);
    // Without enable_http_compression the answer is plain, whatever Accept-Encoding says.
    let r = post("", b"SELECT count() FROM c".to_vec()).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.text().await.unwrap(), "10000\n");
    // An encoding chute cannot read is refused by name.
    let r = post("query=INSERT%20INTO%20c%20FORMAT%20TSV", b"1\n".to_vec())
        .header("Content-Encoding", "br")
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("\"br\""));
}

#[test]
fn chute_sql_prints_a_table_locally_and_through_a_running_chute() {
    let dir = tempfile::tempdir().unwrap();
    // No server: the command opens the engine itself.
    let (code, out, err) =
        run(dir.path(), &["sql", "SELECT number AS n, concat('row-', toString(number)) AS name FROM numbers(3)"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["n  name", "-  -----", "0  row-0", "1  row-1", "2  row-2"], "{out}");
    let (code, out, _) = run(dir.path(), &["sql", "SELECT 1 AS one FORMAT JSONEachRow"]);
    assert_eq!((code, out.as_str()), (0, "{\"one\":1}\n"));
    let (code, _, err) = run(dir.path(), &["sql", "SELEC 1"]);
    assert_ne!(code, 0);
    assert!(err.contains("Syntax error"), "{err}");

    // A server holds the data directory: the command goes through its ClickHouse HTTP interface.
    let (chute, url) = start(dir.path());
    let listen = url.trim_start_matches("http://");
    let sets = ["--set", "clickhouse_http.enabled=true", "--set", USERS];
    let mut args: Vec<&str> = sets.to_vec();
    let listen_set = format!("clickhouse_http.listen={listen}");
    args.extend(["--set", &listen_set, "sql", "SELECT count() AS tables FROM system.tables WHERE name = 'k6_samples'"]);
    let (code, out, err) = run(dir.path(), &args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["tables", "------", "     1"], "{out}");
    // With the interface off, the command says what to do.
    let (code, _, err) = run(dir.path(), &["sql", "SELECT 1"]);
    assert_ne!(code, 0);
    assert!(err.contains("clickhouse_http.enabled"), "{err}");
    drop(chute);
}
