//! k6 output file decode throughput on the recorded basic run (`--out json` NDJSON and `--out csv`,
//! decompressed once in setup): bytes/s and samples/s. `cargo bench -p chute-k6 --bench decode`.
//!
//! Each iteration decodes the whole file with [`JsonImport`] / [`CsvImport`] into `k6_samples`
//! batches, with the options `chute import` passes (both digests known, so samples stream to
//! their run and the stored bytes are hashed as they are read); the batches are dropped instead
//! of submitted.

use chute_k6::{CsvImport, ImportFormat, ImportOptions, ImportSummary, JsonImport, file_digests};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::convert::Infallible;
use std::hint::black_box;
use std::io::Read;
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

criterion_group!(benches, bench);
criterion_main!(benches);
