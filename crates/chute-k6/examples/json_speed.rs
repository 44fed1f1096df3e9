//! How fast the k6 JSON importer decodes: generates about a million lines shaped like
//! `fixtures/k6/basic-run/basic.k6.json.gz` in memory and prints lines per second.
//!
//! `cargo run --release -p chute-k6 --example json_speed [lines]`

use chute_k6::ImportOptions;
use chute_k6::json::JsonImport;
use std::fmt::Write;
use std::time::Instant;

const METRICS: &[(&str, &str, &str)] = &[
    ("http_reqs", "counter", "default"),
    ("http_req_duration", "trend", "time"),
    ("http_req_blocked", "trend", "time"),
    ("http_req_connecting", "trend", "time"),
    ("http_req_tls_handshaking", "trend", "time"),
    ("http_req_sending", "trend", "time"),
    ("http_req_waiting", "trend", "time"),
    ("http_req_receiving", "trend", "time"),
    ("http_req_failed", "rate", "default"),
];

fn generate(lines: usize) -> Vec<u8> {
    let mut s = String::with_capacity(lines * 420);
    for (name, ty, contains) in METRICS {
        let _ = writeln!(
            s,
            r#"{{"type":"Metric","data":{{"name":"{name}","type":"{ty}","contains":"{contains}","thresholds":[],"submetrics":null}},"metric":"{name}"}}"#
        );
    }
    let mut n = METRICS.len();
    let mut i = 0u64;
    while n < lines {
        let (name, _, _) = METRICS[(i % METRICS.len() as u64) as usize];
        let nanos = 125_392_368 + i * 1_000;
        let (sec, ns) = (53 + nanos / 1_000_000_000, nanos % 1_000_000_000);
        let value = (i % 997) as f64 * 0.013 + 0.25;
        let _ = writeln!(
            s,
            r#"{{"metric":"{name}","type":"Point","data":{{"time":"2026-11-23T11:{:02}:{:02}.{ns:09}Z","value":{value},"tags":{{"expected_response":"true","group":"::home","method":"GET","name":"http://127.0.0.1:18000/","page":"home","proto":"HTTP/1.0","scenario":"browse","status":"200","testid":"speed-001","url":"http://127.0.0.1:18000/"}},"metadata":{{"vu":"{}","iter":"{}"}}}}}}"#,
            24 + sec / 60 % 60,
            sec % 60,
            i % 50 + 1,
            i / 9
        );
        n += 1;
        i += 1;
    }
    s.into_bytes()
}

fn main() {
    let lines: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let data = generate(lines);
    println!("generated {lines} lines, {:.1} MB", data.len() as f64 / 1e6);
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let mut rows = 0usize;
        let import = JsonImport::new(ImportOptions::default());
        let summary = import.run(&data[..], |b| {
            rows += b.num_rows();
            Ok::<(), std::io::Error>(())
        });
        let secs = start.elapsed().as_secs_f64();
        match summary {
            Ok(s) => assert_eq!(s.samples as usize, rows),
            Err(e) => {
                eprintln!("import failed: {e}");
                std::process::exit(1);
            }
        }
        best = best.min(secs);
    }
    println!(
        "json import: {:.0} lines/s, {:.0} MB/s (best of 3, {best:.3} s)",
        lines as f64 / best,
        data.len() as f64 / best / 1e6
    );
}
