//! k6 output file decode throughput on the recorded basic run (`--out json` NDJSON and `--out csv`,
//! decompressed once in setup): bytes/s and samples/s. `cargo bench -p chute-k6 --bench decode`.
//!
//! Each iteration decodes the whole file with [`JsonImport`] / [`CsvImport`] into `k6_samples`
//! batches, with the options `chute import` passes (both digests known, so samples stream to
//! their run and the stored bytes are hashed as they are read); the batches are dropped instead
//! of submitted.
//!
//! Then k6's own InfluxDB writes of the same run (the nine bodies of `--out influxdb`, ~560 lines
//! each) decoded as chute's `/write` endpoint does, into `k6_samples` batches.

use chute_k6::runs::{DEFAULT_GAP, NoLookup};
use chute_k6::{
    CsvImport, ImportFormat, ImportOptions, ImportSummary, InfluxWriteContext, JsonImport, RunAssigner,
    decode_influx_write, file_digests,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::convert::Infallible;
use std::hint::black_box;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

fn fixture(path: &str) -> Vec<u8> {
    let p = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let gz = std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"));
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap_or_else(|e| panic!("fixture {p}: {e}"));
    out
}

fn decode(format: ImportFormat, content: &[u8], opts: &ImportOptions) -> ImportSummary {
    let emit = |batch| -> Result<(), Infallible> {
        black_box(batch);
        Ok(())
    };
    match format {
        ImportFormat::Json => JsonImport::new(opts.clone()).run(content, emit),
        ImportFormat::Csv => CsvImport::new(opts.clone()).run(content, emit),
    }
    .unwrap()
}

fn bench(c: &mut Criterion) {
    for (format, path) in
        [(ImportFormat::Json, "k6/basic-run/basic.k6.json.gz"), (ImportFormat::Csv, "k6/basic-run/basic.k6.csv.gz")]
    {
        let content = fixture(path);
        let digests = file_digests(&content[..]).unwrap();
        let opts = ImportOptions {
            content_sha256: Some(digests.content_sha256),
            file_sha256: Some(digests.file_sha256),
            ..ImportOptions::default()
        };
        let samples = decode(format, &content, &opts).samples;
        assert!(samples > 0, "no samples in {path}");
        let run = |b: &mut criterion::Bencher<'_>| b.iter(|| decode(format, black_box(&content), &opts));
        let mut g = c.benchmark_group(format!("k6/basic-run/{}", format.as_str()));
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        g.throughput(Throughput::Bytes(content.len() as u64));
        g.bench_function("bytes", run);
        g.throughput(Throughput::Elements(samples));
        g.bench_function("samples", run);
        g.finish();
    }
}

fn influx_writes(c: &mut Criterion) {
    let bodies: Vec<Vec<u8>> = (2..=10)
        .map(|n| {
            let p = format!("{}/../../fixtures/k6/basic-run/influx/body-{n:03}.bin", env!("CARGO_MANIFEST_DIR"));
            std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
        })
        .collect();
    let ctx = InfluxWriteContext { database: "k6".into(), k6: true, received_at_ns: 1_795_433_100_000_000_000 };
    let runs = RunAssigner::new(DEFAULT_GAP, Arc::new(NoLookup));
    let decode_all = || -> usize {
        bodies
            .iter()
            .map(|b| decode_influx_write(black_box(b), chute_influx::Precision::Nanoseconds, &ctx, &runs).unwrap())
            .map(|d| black_box(d).sample_count)
            .sum()
    };
    let samples = decode_all();
    assert!(samples > 0, "no samples in the influx bodies");
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let mut g = c.benchmark_group("k6/basic-run/influx-writes");
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("bytes", |b| b.iter(decode_all));
    g.throughput(Throughput::Elements(samples as u64));
    g.bench_function("samples", |b| b.iter(decode_all));
    g.finish();
}

criterion_group!(benches, bench, influx_writes);
criterion_main!(benches);
