//! Plain HTTP JSON events over real HTTP against a real chute (embedded engine): NDJSON, JSON
//! arrays and gzip bodies land as rows of the built-in `events` table with their types; a table
//! declared in `[[events.tables]]` with its `table_sql` takes events with its own types (UUID,
//! addresses, decimals, dates, arrays and maps checked first); a bad
//! line refuses the whole request (400 naming the line, nothing stored); undeclared tables and
//! chute's own tables are 404; an oversized body is 413 naming the limit.

mod common;

use common::*;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const NDJSON: (&str, &str) = ("Content-Type", "application/x-ndjson");
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as i64
}

fn post(url: &str, table: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, serde_json::Value) {
    let (status, _, text) = http_post(&format!("{url}/api/v1/events/{table}"), headers, body).unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("JSON answer ({e}): {text:?}"));
    (status, v)
}

/// Stops chute (which delivers what its spool holds) and opens its store.
fn stop_and_open(chute: Chute) -> OpenStore {
    let dir = chute.dir.clone();
    let (status, _) = chute.term(Duration::from_secs(60));
    assert!(status.success());
    open_store(&dir)
}

/// The rows of `sql` as text; its columns must be named c0, c1, ... (in the order wanted).
fn strings(store: &dyn chute_store::Store, sql: &str) -> Vec<Vec<String>> {
    let batches = store.query(sql, &[]).unwrap();
    chute_store::rows::to_json_rows(&batches)
        .into_iter()
        .map(|r| {
            r.as_object()
                .unwrap()
                .values()
                .map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn ndjson_json_and_gzip_events_land_in_the_events_table_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &[]);
    let url = chute.url.clone();

    // NDJSON: an RFC 3339 time, an epoch-millisecond `Timestamp`, no time at all (arrival time),
    // a blank line and CRLF endings.
    let ndjson = "{\"timestamp\":\"2026-11-23T10:00:00.123456789Z\",\"name\":\"signup\",\"service\":\"accounts\",\"plan\":\"pro\"}\r\n\
                  \n\
                  {\"Timestamp\":1795428001000,\"name\":\"login\",\"type\":\"audit\",\"service\":\"accounts\"}\n\
                  {\"name\":\"no-time\",\"service\":\"accounts\",\"nested\":{\"a\":[1,2]}}\n";
    let before = now_ns();
    assert_eq!(post(&url, "events", &[NDJSON], ndjson.as_bytes()), (200, serde_json::json!({"accepted": 3})));
    let after = now_ns();

    // A JSON array, and a single JSON object.
    let array = r#"[{"name":"cart","service":"shop","timestamp":"2026-11-23T10:00:02Z"},
                    {"name":"cart","service":"shop","timestamp":"2026-11-23T10:00:03Z","qty":2}]"#;
    assert_eq!(post(&url, "events", &[JSON], array.as_bytes()).0, 200);
    let one = r#"{"name":"single","service":"shop","timestamp":"2026-11-23T10:00:04Z"}"#;
    assert_eq!(post(&url, "events", &[JSON], one.as_bytes()), (200, serde_json::json!({"accepted": 1})));

    // gzip: 500 events in one compressed NDJSON body.
    let many: String = (0..500)
        .map(|i| {
            format!("{{\"name\":\"bulk\",\"service\":\"gz\",\"timestamp\":{},\"i\":{i}}}\n", 1_795_428_100_000u64 + i)
        })
        .collect();
    let (s, v) = post(&url, "events", &[NDJSON, ("Content-Encoding", "gzip")], &gzip(many.as_bytes()));
    assert_eq!((s, v), (200, serde_json::json!({"accepted": 500})));

    let store = stop_and_open(chute);
    assert_eq!(scalar(&store, "SELECT count() FROM events"), 3 + 2 + 1 + 500);
    assert_eq!(
        strings(&store, "SELECT toTypeName(Timestamp) AS c0, toTypeName(Name) AS c1 FROM events LIMIT 1"),
        vec![vec!["DateTime64(9)".to_string(), "LowCardinality(String)".to_string()]]
    );
    let rows = strings(
        &store,
        "SELECT Name AS c0, Type AS c1, Service AS c2, toString(toUnixTimestamp64Nano(Timestamp)) AS c3, \
         Event AS c4 FROM events WHERE Service = 'accounts' ORDER BY Name",
    );
    assert_eq!(rows[0][..4], ["login", "audit", "accounts", "1795428001000000000"]);
    assert_eq!(rows[1][0], "no-time");
    let arrival: i64 = rows[1][3].parse().unwrap();
    assert!((before..=after).contains(&arrival), "arrival time {arrival} within the request ({before}..{after})");
    assert_eq!(rows[1][4], r#"{"name":"no-time","service":"accounts","nested":{"a":[1,2]}}"#, "kept as sent");
    assert_eq!(rows[2][..4], ["signup", "", "accounts", "1795428000123456789"]);
    assert_eq!(
        scalar(&store, "SELECT count() FROM events WHERE Service = 'gz' AND JSONExtractUInt(Event, 'i') < 500"),
        500
    );
    assert_eq!(
        scalar(
            &store,
            "SELECT JSONExtractUInt(Event, 'qty') FROM events WHERE Name = 'cart' ORDER BY Timestamp DESC LIMIT 1"
        ),
        2
    );
}

#[test]
fn a_declared_table_takes_events_with_its_own_types_after_its_table_sql_ran() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("checkout.sql");
    std::fs::write(
        &sql,
        "CREATE TABLE IF NOT EXISTS checkout (\n    at DateTime64(3),\n    order_id String,\n    amount Float64,\n    \
         items UInt16,\n    express Bool,\n    raw String\n) ENGINE = MergeTree ORDER BY at;\n",
    )
    .unwrap();
    let table = format!(
        r#"events.tables=[{{name = "checkout", table_sql = "{}", json_column = "raw", time_column = "at"}}]"#,
        sql.display()
    );
    let chute = Chute::start(dir.path(), &[&table]);
    let body = "{\"at\":\"2026-11-23T10:00:00.5Z\",\"order_id\":\"o-1\",\"amount\":12.5,\"items\":3,\"express\":true}\n\
                {\"order_id\":\"o-2\",\"amount\":\"7\",\"items\":1}\n";
    assert_eq!(post(&chute.url, "checkout", &[NDJSON], body.as_bytes()), (200, serde_json::json!({"accepted": 2})));
    // A value that does not fit its column: the whole request is refused, naming line, field, value.
    let bad = "{\"order_id\":\"o-3\",\"items\":1}\n{\"order_id\":\"o-4\",\"items\":70000}\n";
    let (s, v) = post(&chute.url, "checkout", &[NDJSON], bad.as_bytes());
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        v["error"],
        "line 2: field items: 70000 is out of range (at most 65535); nothing of this request was stored"
    );
    // The built-in table is still there; an undeclared table is not.
    assert_eq!(post(&chute.url, "events", &[NDJSON], b"{\"name\":\"x\"}\n").0, 200);
    let store = stop_and_open(chute);
    let rows = strings(
        &store,
        "SELECT order_id AS c0, toString(amount) AS c1, toString(items) AS c2, toString(express) AS c3, \
         toTypeName(at) AS c4, raw AS c5 FROM checkout ORDER BY order_id",
    );
    assert_eq!(rows.len(), 2, "o-3 of the refused request is not stored: {rows:?}");
    assert_eq!(rows[0][..5], ["o-1", "12.5", "3", "true", "DateTime64(3)"]);
    assert_eq!(rows[1][..4], ["o-2", "7", "1", "false"]);
    assert_eq!(rows[1][5], r#"{"order_id":"o-2","amount":"7","items":1}"#);
    assert_eq!(
        scalar(&store, "SELECT count() FROM checkout WHERE at > now64() - INTERVAL 1 HOUR"),
        1,
        "o-2 at arrival"
    );
}

#[test]
fn uuids_addresses_decimals_arrays_and_maps_are_checked_before_they_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("devices.sql");
    std::fs::write(
        &sql,
        "CREATE TABLE IF NOT EXISTS devices (id UUID, addr IPv4, balance Decimal(12, 2), installed Date, \
         tags Array(String), labels Map(String, String)) ENGINE = MergeTree ORDER BY id;\n",
    )
    .unwrap();
    let table = format!(r#"events.tables=[{{name = "devices", table_sql = "{}"}}]"#, sql.display());
    let chute = Chute::start(dir.path(), &[&table]);
    let good = "{\"id\":\"9B2C5E1A-0F3D-4C8E-A1B2-C3D4E5F60718\",\"addr\":\"192.0.2.7\",\"balance\":\"1234.50\",\
                \"installed\":\"2026-11-23\",\"tags\":[\"roof\",\"solar\"],\"labels\":{\"site\":\"north\"}}\n";
    assert_eq!(post(&chute.url, "devices", &[NDJSON], good.as_bytes()), (200, serde_json::json!({"accepted": 1})));
    // Each of these would be stored as a zero value by the engine: chute refuses the request.
    for (body, error) in [
        (
            "{\"id\":\"00000000-0000-0000-0000-000000000002\"}\n{\"id\":\"device-7\"}\n",
            "line 2: field id: \"device-7\" is not a UUID",
        ),
        ("{\"addr\":\"192.0.2.300\"}\n", "line 1: field addr: \"192.0.2.300\" is not an IPv4 address"),
        ("{\"balance\":0.125}\n", "line 1: field balance: 0.125 has more than 2 decimal places (Decimal(12, 2))"),
        ("{\"installed\":\"2026-02-30\"}\n", "line 1: field installed: \"2026-02-30\" is not a date (YYYY-MM-DD)"),
        ("{\"tags\":\"roof,solar\"}\n", "line 1: field tags: an Array column needs an array, got a string"),
        ("{\"labels\":[\"site\"]}\n", "line 1: field labels: a Map column needs an object, got an array"),
    ] {
        let (s, v) = post(&chute.url, "devices", &[NDJSON], body.as_bytes());
        assert_eq!(s, 400, "{body}: {v}");
        assert_eq!(v["error"], format!("{error}; nothing of this request was stored"), "{body}");
    }
    let store = stop_and_open(chute);
    let rows = strings(
        &store,
        "SELECT toString(id) AS c0, toString(addr) AS c1, toString(balance) AS c2, toString(installed) AS c3, \
         toString(tags) AS c4, toString(labels) AS c5 FROM devices",
    );
    assert_eq!(
        rows,
        vec![vec![
            "9b2c5e1a-0f3d-4c8e-a1b2-c3d4e5f60718",
            "192.0.2.7",
            "1234.5",
            "2026-11-23",
            "['roof','solar']",
            "{'site':'north'}"
        ]]
    );
}

#[test]
fn bad_bodies_undeclared_tables_and_chutes_own_tables_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let chute = Chute::start(dir.path(), &["limits.max_body_bytes=64KiB"]);
    let url = chute.url.clone();
    // Line 3 is not an object: 400 naming the line; lines 1-2 are not stored either.
    let body = "{\"name\":\"a\"}\n{\"name\":\"b\"}\n[1,2]\n{\"name\":\"c\"}\n";
    let (s, v) = post(&url, "events", &[NDJSON], body.as_bytes());
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error"], "line 3: expected a JSON object, got an array; nothing of this request was stored");
    let (s, v) = post(&url, "events", &[NDJSON], b"{\"name\":\"a\"}\n{\"name\": oops}\n");
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("line 2: invalid JSON"), "{v}");
    let (s, v) = post(&url, "events", &[NDJSON], b"{\"name\":\"a\",\"timestamp\":\"last tuesday\"}\n");
    assert_eq!(s, 400);
    assert_eq!(
        v["error"],
        "line 1: field Timestamp: \"last tuesday\" is neither an RFC 3339 time nor an epoch number; nothing of this request was stored"
    );
    let (s, v) = post(&url, "events", &[JSON], b"[{\"name\":\"a\"},\n{\"name\":]");
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().starts_with("line 2: invalid JSON array"), "{v}");
    // Undeclared and chute's own tables: 404 naming the table, whatever the body.
    for t in ["checkout", "otel_logs", "k6_samples", "schema_migrations", "chute_dead_letters"] {
        let (s, v) = post(&url, t, &[NDJSON], b"{\"name\":\"a\"}\n");
        assert_eq!(s, 404, "{t}: {v}");
        assert!(v["error"].as_str().unwrap().contains(&format!("table \"{t}\" does not take events")), "{v}");
    }
    // Over the limit (on the wire, or once decompressed): 413 naming it.
    let big: String = (0..4000).map(|i| format!("{{\"name\":\"big\",\"i\":{i}}}\n")).collect();
    assert!(big.len() > 64 * 1024);
    let (s, v) = post(&url, "events", &[NDJSON], big.as_bytes());
    assert_eq!(s, 413);
    assert_eq!(v["error"], "request body is larger than the limit of 65536 bytes (limits.max_body_bytes)");
    let (s, _) = post(&url, "events", &[NDJSON, ("Content-Encoding", "gzip")], &gzip(big.as_bytes()));
    assert_eq!(s, 413);
    let (s, _) = post(&url, "events", &[("Content-Type", "application/xml")], b"<a/>");
    assert_eq!(s, 415);
    // A retry of an acknowledged request is a new request: its events are stored again.
    let once = b"{\"name\":\"retried\"}\n";
    assert_eq!(post(&url, "events", &[NDJSON], once).0, 200);
    assert_eq!(post(&url, "events", &[NDJSON], once).0, 200);
    let store = stop_and_open(chute);
    assert_eq!(scalar(&store, "SELECT count() FROM events WHERE Name != 'retried'"), 0, "nothing of a refused request");
    assert_eq!(scalar(&store, "SELECT count() FROM events WHERE Name = 'retried'"), 2);
    assert_eq!(scalar(&store, "SELECT count() FROM otel_logs"), 0);
}

#[test]
fn a_declared_table_with_a_column_chute_cannot_fill_fails_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("orders.sql");
    std::fs::write(
        &sql,
        "CREATE TABLE IF NOT EXISTS orders (at DateTime64(3), id String, pair Tuple(String, Int64)) ENGINE = MergeTree ORDER BY at;\n",
    )
    .unwrap();
    let table = format!(r#"events.tables=[{{name = "orders", table_sql = "{}"}}]"#, sql.display());
    let (code, _, err) =
        run(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--set", "otlp.enabled=false", "--set", &table]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("events.tables[0]") && err.contains("pair") && err.contains("Tuple(String, Int64)"), "{err}");
}
