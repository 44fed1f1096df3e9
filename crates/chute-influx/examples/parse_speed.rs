//! Parse-speed check: parses the captured k6 bodies repeatedly and prints lines/s and MB/s.
//!
//! Run with `cargo run -p chute-influx --release --example parse_speed`. The work is split
//! into rounds and the best round is reported too, since a shared machine is noisy.

use std::time::Instant;

use chute_influx::{FieldValue, Precision, parse_each};

const ROUNDS: usize = 5;
const ITERATIONS_PER_ROUND: usize = 40;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/k6/basic-run/influx");
    let mut bodies = Vec::new();
    for n in 2..=10 {
        bodies.push(std::fs::read(format!("{dir}/body-{n:03}.bin"))?);
    }
    let bytes_per_pass: usize = bodies.iter().map(Vec::len).sum();

    let mut checksum = 0f64;
    let mut best_lines_per_sec = 0f64;
    let mut best_bytes_per_sec = 0f64;
    let (mut all_lines, mut all_secs) = (0usize, 0f64);
    for round in 1..=ROUNDS {
        let mut lines = 0usize;
        let started = Instant::now();
        for _ in 0..ITERATIONS_PER_ROUND {
            for body in &bodies {
                lines += parse_each(body, Precision::Nanoseconds, |p| {
                    // Touch the point so the work cannot be optimized away.
                    if let Some(FieldValue::Float(v)) = p.field("value") {
                        checksum += v;
                    }
                    checksum += p.tags.len() as f64;
                })?;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let lines_per_sec = lines as f64 / secs;
        let bytes_per_sec = (bytes_per_pass * ITERATIONS_PER_ROUND) as f64 / secs;
        println!(
            "round {round}: {lines} lines in {secs:.3} s: {:.2} M lines/s, {:.0} MB/s",
            lines_per_sec / 1e6,
            bytes_per_sec / 1e6
        );
        best_lines_per_sec = best_lines_per_sec.max(lines_per_sec);
        best_bytes_per_sec = best_bytes_per_sec.max(bytes_per_sec);
        all_lines += lines;
        all_secs += secs;
    }
    println!(
        "overall: {:.2} M lines/s, {:.0} MB/s; best round: {:.2} M lines/s, {:.0} MB/s \
         ({:.0} bytes/line, checksum {checksum:.0})",
        all_lines as f64 / all_secs / 1e6,
        (bytes_per_pass * ITERATIONS_PER_ROUND * ROUNDS) as f64 / all_secs / 1e6,
        best_lines_per_sec / 1e6,
        best_bytes_per_sec / 1e6,
        (bytes_per_pass * ITERATIONS_PER_ROUND * ROUNDS) as f64 / all_lines as f64,
    );
    Ok(())
}
