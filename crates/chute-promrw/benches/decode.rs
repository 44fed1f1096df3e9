//! Remote write decode throughput on the captured Prometheus and k6 bodies: bytes/s of snappy
//! bodies and samples/s (`cargo bench -p chute-promrw --bench decode`).

use chute_promrw::{Limits, decode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn bodies(folder: &str) -> Vec<Vec<u8>> {
    let dir = format!("{}/../../fixtures/{folder}", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for n in 1.. {
        match std::fs::read(format!("{dir}/body-{n:03}.bin")) {
            Ok(b) => out.push(b),
            Err(_) => break,
        }
    }
    assert!(!out.is_empty(), "no bodies in {dir}");
    out
}

fn bench(c: &mut Criterion) {
    let limits = Limits::default();
    for (name, folder) in [("prometheus", "prometheus/remote-write"), ("k6-prw", "k6/outputs-small/prw")] {
        let bodies = bodies(folder);
        let bytes: usize = bodies.iter().map(Vec::len).sum();
        let samples: u64 = bodies.iter().map(|b| decode(b, &limits).unwrap().samples).sum();
        let mut g = c.benchmark_group(format!("promrw/{name}"));
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_function("bytes", |b| {
            b.iter(|| {
                for body in &bodies {
                    black_box(decode(black_box(body), &limits).unwrap());
                }
            })
        });
        g.throughput(Throughput::Elements(samples));
        g.bench_function("samples", |b| {
            b.iter(|| {
                for body in &bodies {
                    black_box(decode(black_box(body), &limits).unwrap());
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
