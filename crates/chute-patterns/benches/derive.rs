//! What delivery derives from stored logs, per record: the log-pattern rows and the attribute
//! catalog feed of an `otel_logs` chunk the size delivery inserts (the OpenTelemetry Python
//! SDK's captured logs body, 40 records, repeated to ~137k rows). `cargo bench -p chute-patterns
//! --bench derive`.

use arrow_array::RecordBatch;
use chute_otlp::{Encoding, Limits, Signal, decode};
use chute_patterns::batch::log_patterns;
use chute_patterns::catalog::{MAX_REMEMBERED_VALUES, SeenValues, attribute_feed};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// Rows of a chunk: what 64 MiB (`batch.max_bytes`) of these logs hold.
const CHUNK_ROWS: usize = 137_000;

fn chunk() -> RecordBatch {
    let p = format!("{}/../../fixtures/otel-python-sdk/http/body-003.bin", env!("CARGO_MANIFEST_DIR"));
    let body = std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"));
    let decoded = decode(Signal::Logs, Encoding::Protobuf, &body, &Limits::default()).unwrap();
    let (_, once) = decoded.batches.into_iter().find(|(t, _)| *t == "otel_logs").unwrap();
    let copies = CHUNK_ROWS.div_ceil(once.num_rows());
    arrow_select::concat::concat_batches(&once.schema(), std::iter::repeat_n(&once, copies)).unwrap()
}

fn bench(c: &mut Criterion) {
    let logs = chunk();
    let mut g = c.benchmark_group("derive/otel_logs");
    g.sample_size(20);
    g.throughput(Throughput::Elements(logs.num_rows() as u64));
    g.bench_function("log_patterns", |b| b.iter(|| black_box(log_patterns(black_box(&logs)))));
    // Values already remembered, as in a steady stream of the same services.
    let seen = SeenValues::new(MAX_REMEMBERED_VALUES);
    if let Some(f) = attribute_feed("otel_logs", &logs, &seen) {
        seen.remember(&f.pending);
    }
    g.bench_function("attribute_feed", |b| b.iter(|| black_box(attribute_feed("otel_logs", black_box(&logs), &seen))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
