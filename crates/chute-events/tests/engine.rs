//! The decoders against the real engine: the worked example's table (examples/nats-envelope),
//! protobuf envelopes and JSON messages decoded, inserted through Arrow ingest and read back
//! with the right ClickHouse types (DateTime64 values, JSON paths); a typed table of arrays, maps,
//! UUIDs, addresses, decimals and dates.

use chute_events::{Column, Decoded, Decoder, Format, Message};
use chute_store::Store;
use chute_store::embedded::{EmbeddedOptions, EmbeddedStore, close_engine};
use prost::Message as _;
use prost_reflect::DynamicMessage;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/nats-envelope");

fn open(dir: &std::path::Path) -> EmbeddedStore {
    let s = EmbeddedStore::open(&EmbeddedOptions { path: dir.join("engine"), ..Default::default() })
        .expect("engine opens (run `make setup` first)");
    let sql = std::fs::read_to_string(format!("{EXAMPLE}/table.sql")).unwrap();
    for st in chute_store::migrations::statements(&sql) {
        s.execute(&st).unwrap();
    }
    s
}

fn columns(s: &EmbeddedStore) -> Vec<Column> {
    chute_store::queries::tables::insert_columns(s, "device_events")
        .unwrap()
        .into_iter()
        .map(|(n, t)| Column::new(&n, &t))
        .collect()
}

fn strings(s: &dyn Store, sql: &str) -> Vec<Vec<String>> {
    let batches = s.query(sql, &[]).unwrap();
    let mut out = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            out.push(
                b.columns()
                    .iter()
                    .map(|c| match chute_store::rows::value_at(c, i) {
                        serde_json::Value::String(s) => s,
                        v => v.to_string(),
                    })
                    .collect(),
            );
        }
    }
    out
}

fn insert(s: &EmbeddedStore, d: &Decoded, token: &str) {
    assert!(d.rejected.is_empty(), "{:?}", d.rejected);
    s.insert("device_events", &d.batch, token).unwrap();
}

#[test]
fn protobuf_envelopes_land_with_datetime64_and_json_columns() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let format = Format::protobuf_from_file(&format!("{EXAMPLE}/envelope.pb"), "envelope.v1.Envelope").unwrap();
    let Format::Protobuf(desc) = &format else { unreachable!() };
    let payload = |i: u32| {
        let json = format!(
            r#"{{"organization_id":"org-1","end_device_id":"dev-{i}","occurred_at":"2026-11-23T10:00:0{i}.123456789Z",
               "processed_at":"2026-11-23T10:00:1{i}Z","data":{{"temperature":21.5,"ok":true,"tags":["a","b"],"n":{{"i":{i}}}}}}}"#
        );
        let mut de = serde_json::Deserializer::from_str(&json);
        DynamicMessage::deserialize(desc.clone(), &mut de).unwrap().encode_to_vec()
    };
    let payloads: Vec<Vec<u8>> = (0..3).map(payload).collect();
    let msgs: Vec<Message> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| Message {
            payload: p,
            stream: "DEVICES",
            seq: i as u64 + 1,
            subject: "devices.org-1.x.events",
            published_ns: 1_795_428_000_000_000_000,
        })
        .collect();
    let d = Decoder::new(&columns(&s), format, None).unwrap();
    assert!(d.has_sequence_columns());
    insert(&s, &d.decode(&msgs), "t1");
    let rows = strings(
        &s,
        "SELECT end_device_id, toString(occurred_at), toString(processed_at), toTypeName(occurred_at), \
         toString(data.temperature), toTypeName(data.temperature), toString(data.n.i), toString(data.ok), _nats_seq, \
         _nats_stream, toString(_nats_published) FROM device_events ORDER BY _nats_seq",
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[1],
        vec![
            "dev-1",
            "2026-11-23 10:00:01.123456789",
            "2026-11-23 10:00:11.000000000",
            "DateTime64(9, 'UTC')",
            "21.5",
            "Dynamic",
            "1",
            "true",
            "2",
            "DEVICES",
            "2026-11-23 10:00:00.000000000",
        ]
    );
    // A truncated message is rejected with the reason, not half-decoded.
    let bad = [Message { payload: &payloads[0][..10], stream: "DEVICES", seq: 9, ..Default::default() }];
    let out = d.decode(&bad);
    assert_eq!(out.batch.num_rows(), 0);
    assert!(out.rejected[0].1.starts_with("invalid protobuf envelope.v1.Envelope"), "{:?}", out.rejected);
    close_engine();
}

#[test]
fn json_messages_land_with_the_whole_message_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let d = Decoder::new(&columns(&s), Format::Json, Some("data")).unwrap();
    let p = [
        r#"{"organization_id":"org-2","end_device_id":"d","occurred_at":1795428000123,"processed_at":"2026-11-23T10:00:00+01:00","x":{"y":[1,2]}}"#,
        r#"{"organization_id":"org-2","end_device_id":"e","occurred_at":1795428000.5}"#,
    ];
    let msgs: Vec<Message> = p
        .iter()
        .enumerate()
        .map(|(i, p)| Message { payload: p.as_bytes(), stream: "S", seq: 10 + i as u64, ..Default::default() })
        .collect();
    insert(&s, &d.decode(&msgs), "t2");
    let rows = strings(
        &s,
        "SELECT end_device_id, toString(occurred_at), toString(processed_at), toString(data.x.y), toString(data.organization_id) \
         FROM device_events ORDER BY _nats_seq",
    );
    assert_eq!(rows[0], vec!["d", "2026-11-23 10:00:00.123000000", "2026-11-23 09:00:00.000000000", "[1,2]", "org-2"]);
    assert_eq!(rows[1], vec!["e", "2026-11-23 10:00:00.500000000", "1970-01-01 00:00:00.000000000", "", "org-2"]);
    close_engine();
}

#[test]
fn arrays_maps_uuids_addresses_decimals_and_dates_land_with_their_types() {
    let dir = tempfile::tempdir().unwrap();
    let s = EmbeddedStore::open(&EmbeddedOptions { path: dir.path().join("engine"), ..Default::default() })
        .expect("engine opens (run `make setup` first)");
    s.execute(
        "CREATE TABLE readings (device UUID, addr IPv4, peer Nullable(IPv6), price Decimal(18, 4), \
         day Date, born Date32, tags Array(LowCardinality(String)), samples Array(Nullable(Float64)), \
         seen Array(DateTime64(3)), labels Map(LowCardinality(String), String), counters Map(String, UInt64), \
         serial UInt128) ENGINE = MergeTree ORDER BY device",
    )
    .unwrap();
    let cols: Vec<Column> = chute_store::queries::tables::insert_columns(&s, "readings")
        .unwrap()
        .into_iter()
        .map(|(n, t)| Column::new(&n, &t))
        .collect();
    let d = Decoder::new(&cols, Format::Json, None).unwrap();
    let p = [
        r#"{"device":"6F9619FF-8B86-D011-B42D-00CF4FC964FF","addr":"10.1.2.3","peer":"2001:db8::1","price":"12345678901234.5678",
            "day":"2026-11-23","born":"1912-06-23","tags":["edge","eu"],"samples":[0.5,null,2],"seen":["2026-11-23T10:00:00.25Z",1795428001],
            "labels":{"env":"prod","rack":"r1"},"counters":{"rx":18446744073709551615},"serial":"340282366920938463463374607431768211455"}"#,
        r#"{"device":"00000000-0000-0000-0000-000000000001","addr":167838211}"#,
    ];
    let msgs: Vec<Message> = p.iter().map(|x| Message { payload: x.as_bytes(), ..Default::default() }).collect();
    let out = d.decode(&msgs);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    s.insert("readings", &out.batch, "typed-1").unwrap();
    let rows = strings(
        &s,
        "SELECT toString(device), toString(addr), toString(peer), toString(price), toString(day), toString(born), \
         toString(tags), toString(samples), toString(seen), toString(labels), toString(counters), toString(serial) \
         FROM readings ORDER BY device DESC",
    );
    assert_eq!(
        rows,
        vec![
            vec![
                "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
                "10.1.2.3",
                "2001:db8::1",
                "12345678901234.5678",
                "2026-11-23",
                "1912-06-23",
                "['edge','eu']",
                "[0.5,NULL,2]",
                "['2026-11-23 10:00:00.250','2026-11-23 10:00:01.000']",
                "{'env':'prod','rack':'r1'}",
                "{'rx':18446744073709551615}",
                "340282366920938463463374607431768211455",
            ],
            vec![
                "00000000-0000-0000-0000-000000000001",
                "10.1.2.3",
                "null",
                "0",
                "1970-01-01",
                "1970-01-01",
                "[]",
                "[]",
                "[]",
                "{}",
                "{}",
                "0",
            ],
        ]
    );
    close_engine();
}
