//! OTLP decode throughput on the captured payloads (OpenTelemetry Python SDK logs, spans and
//! metrics; k6's opentelemetry output): bytes/s of protobuf and items/s (log records, spans,
//! data points). `cargo bench -p chute-otlp --bench decode`.

use chute_otlp::{Encoding, Limits, Signal, decode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn fixture(path: &str) -> Vec<u8> {
    let p = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    let sdk =
        |n: u32| vec![format!("otel-python-sdk/http/body-{n:03}.bin"), format!("otel-python-sdk/grpc/grpc-{n:03}.bin")];
    let cases: [(&str, Signal, Vec<String>); 4] = [
        ("logs", Signal::Logs, sdk(3)),
        ("spans", Signal::Traces, sdk(2)),
        ("metrics", Signal::Metrics, sdk(1)),
        (
            "k6-metrics",
            Signal::Metrics,
            (1..=5).map(|n| format!("k6/outputs-small/otlp-http/body-{n:03}.bin")).collect(),
        ),
    ];
    for (name, signal, paths) in cases {
        let bodies: Vec<Vec<u8>> = paths.iter().map(|p| fixture(p)).collect();
        let bytes: usize = bodies.iter().map(Vec::len).sum();
        let items: u64 = bodies.iter().map(|b| decode(signal, Encoding::Protobuf, b, &limits).unwrap().accepted).sum();
        let run = |b: &mut criterion::Bencher<'_>| {
            b.iter(|| {
                for body in &bodies {
                    black_box(decode(signal, Encoding::Protobuf, black_box(body), &limits).unwrap());
                }
            })
        };
        let mut g = c.benchmark_group(format!("otlp/{name}"));
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function("bytes", run);
        g.throughput(Throughput::Elements(items));
        g.bench_function("items", run);
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
