//! Event decode throughput: an NDJSON body of 1,000 events of ~300 bytes (the shape of
//! `chute loadgen --protocol events`) split and decoded into the built-in `events` table's
//! batch, and the same events as a typed table (every field its own column). Bytes/s of JSON and
//! rows/s. Then the NATS worked example (examples/nats-envelope): 1,000 device envelopes as
//! protobuf (descriptor set, `Timestamp` and `Struct` fields) and as JSON, decoded into its
//! table with the `_nats_*` columns. `cargo bench -p chute-events --bench decode`.

use chute_events::{BodyFormat, Column, Decoder, DecoderOptions, Format, Message, split_documents};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Write;

const NAMES: [&str; 4] = ["checkout.completed", "cart.item_added", "user.signed_in", "search.performed"];

fn body(rows: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows * 320);
    for i in 0..rows {
        let _ = writeln!(
            out,
            "{{\"timestamp\":\"2026-11-23T11:24:{:02}.{:03}Z\",\"name\":\"{}\",\"type\":\"business\",\
             \"service\":\"checkout\",\"run_id\":\"bench\",\"user_id\":\"u-{:06}\",\"session_id\":\"{:016x}\",\
             \"amount\":{}.{:02},\"currency\":\"EUR\",\"items\":{},\"attributes\":{{\"region\":\"eu-west-1\",\
             \"browser\":\"firefox\",\"plan\":\"free\",\"experiment\":\"exp-{}\"}}}}",
            i % 60,
            i % 1000,
            NAMES[i % NAMES.len()],
            i * 7919 % 1_000_000,
            (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            i % 500,
            i % 100,
            1 + i % 9,
            i % 20
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    let body = body(1000);
    let builtin = [
        Column::new("Timestamp", "DateTime64(9)"),
        Column::new("Name", "LowCardinality(String)"),
        Column::new("Type", "LowCardinality(String)"),
        Column::new("Service", "LowCardinality(String)"),
        Column::new("Event", "String"),
    ];
    let typed = [
        Column::new("timestamp", "DateTime64(3)"),
        Column::new("name", "LowCardinality(String)"),
        Column::new("service", "LowCardinality(String)"),
        Column::new("user_id", "String"),
        Column::new("session_id", "String"),
        Column::new("amount", "Float64"),
        Column::new("currency", "LowCardinality(String)"),
        Column::new("items", "UInt16"),
        Column::new("attributes", "String"),
    ];
    let cases: [(&str, &[Column], DecoderOptions<'_>); 2] = [
        (
            "builtin-table",
            &builtin,
            DecoderOptions {
                json_column: Some("Event"),
                arrival_time_column: Some("Timestamp"),
                lowercase_fields: true,
                nats_metadata: false,
            },
        ),
        ("typed-table", &typed, DecoderOptions::default()),
    ];
    for (name, cols, opts) in cases {
        let d = Decoder::with_options(cols, Format::Json, &opts).unwrap();
        let run = |b: &mut criterion::Bencher<'_>| {
            b.iter(|| {
                let docs = split_documents(black_box(&body), BodyFormat::Ndjson).unwrap();
                let msgs: Vec<Message<'_>> =
                    docs.iter().map(|d| Message { payload: d.bytes, published_ns: 1, ..Default::default() }).collect();
                let out = d.decode(&msgs);
                assert!(out.rejected.is_empty());
                black_box(out.batch)
            })
        };
        let mut g = c.benchmark_group(format!("events/ndjson-1000/{name}"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("bytes", run);
        g.throughput(Throughput::Elements(1000));
        g.bench_function("rows", run);
        g.finish();
    }
}

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/nats-envelope");

/// The example's envelope `i` as JSON text (protobuf JSON mapping).
fn envelope_json(i: usize) -> String {
    format!(
        r#"{{"organization_id":"org-{}","end_device_id":"dev-{i:05}","occurred_at":"2026-11-23T11:00:00.{:09}Z","processed_at":"2026-11-23T11:00:01Z","data":{{"battery":0.75,"temperature":21.5,"i":{i},"firmware":"1.4.2","nested":{{"ok":true}}}}}}"#,
        i % 7,
        i * 1000
    )
}

fn bench_envelopes(c: &mut Criterion) {
    let table = [
        Column::new("organization_id", "LowCardinality(String)"),
        Column::new("end_device_id", "String"),
        Column::new("occurred_at", "DateTime64(9, 'UTC')"),
        Column::new("processed_at", "DateTime64(9, 'UTC')"),
        Column::new("data", "JSON"),
        Column::new("_nats_stream", "LowCardinality(String)"),
        Column::new("_nats_seq", "UInt64"),
        Column::new("_nats_subject", "LowCardinality(String)"),
        Column::new("_nats_published", "DateTime64(9, 'UTC')"),
    ];
    let proto = Format::protobuf_from_file(&format!("{EXAMPLE}/envelope.pb"), "envelope.v1.Envelope").unwrap();
    let Format::Protobuf(desc) = &proto else { unreachable!("a protobuf format") };
    let json: Vec<Vec<u8>> = (0..1000).map(|i| envelope_json(i).into_bytes()).collect();
    let protobuf: Vec<Vec<u8>> = json
        .iter()
        .map(|j| {
            let mut de = serde_json::Deserializer::from_slice(j);
            prost::Message::encode_to_vec(&prost_reflect::DynamicMessage::deserialize(desc.clone(), &mut de).unwrap())
        })
        .collect();
    let opts = DecoderOptions { nats_metadata: true, ..Default::default() };
    for (name, format, payloads) in [("protobuf", proto.clone(), &protobuf), ("json", Format::Json, &json)] {
        let d = Decoder::with_options(&table, format, &opts).unwrap();
        let bytes: usize = payloads.iter().map(Vec::len).sum();
        let run = |b: &mut criterion::Bencher<'_>| {
            b.iter(|| {
                let msgs: Vec<Message<'_>> = payloads
                    .iter()
                    .enumerate()
                    .map(|(i, p)| Message {
                        payload: p,
                        stream: "DEVICES",
                        subject: "devices.org.dev.events",
                        seq: i as u64 + 1,
                        published_ns: 1,
                    })
                    .collect();
                let out = d.decode(black_box(&msgs));
                assert!(out.rejected.is_empty());
                black_box(out.batch)
            })
        };
        let mut g = c.benchmark_group(format!("nats-envelope-1000/{name}"));
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function("bytes", run);
        g.throughput(Throughput::Elements(1000));
        g.bench_function("rows", run);
        g.finish();
    }
}

criterion_group!(benches, bench, bench_envelopes);
criterion_main!(benches);
