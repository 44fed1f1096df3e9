//! Line protocol parse throughput on k6's own InfluxDB writes (the nine bodies of the recorded
//! basic run): bytes/s and points/s. `cargo bench -p chute-influx --bench parse`.

use chute_influx::{Precision, parse_each};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn fixture(path: &str) -> Vec<u8> {
    let p = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
}

fn bench(c: &mut Criterion) {
    let bodies: Vec<Vec<u8>> = (2..=10).map(|n| fixture(&format!("k6/basic-run/influx/body-{n:03}.bin"))).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let points: usize = bodies.iter().map(|b| parse_each(b, Precision::Nanoseconds, |_| {}).unwrap()).sum();
    let run = |b: &mut criterion::Bencher<'_>| {
        b.iter(|| {
            for body in &bodies {
                let mut fields = 0usize;
                parse_each(black_box(body), Precision::Nanoseconds, |p| fields += p.fields.len()).unwrap();
                black_box(fields);
            }
        })
    };
    let mut g = c.benchmark_group("influx/k6-writes");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("bytes", run);
    g.throughput(Throughput::Elements(points as u64));
    g.bench_function("points", run);
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
