//! `chute bench wrk`: the fixed-payload HTTP benchmark peers are measured with on this kind of
//! machine: wrk, 2 threads, 16 connections, 20 s after a 5 s warm-up, one captured fixture body
//! (for events, one generated NDJSON body) per request, against `chute serve` on the embedded
//! engine with the spool on (the durable path), a fresh chute per case. Reports items/s
//! (requests/s × items per body, acknowledged), what the store confirmed meanwhile, chute's CPU
//! (cores busy) and peak RSS.
//!
//! With `--null-store` the same cases run against a chute whose store discards what it is given
//! (spool still on): the receive path alone, durably acknowledged, as the peer's figures are
//! measured into a blackhole. Those rows are named `... into the null store` and judge no target.
//! The events case cannot run there: its decoder asks the store for the table's columns, which
//! the null store answers with an error (the probe request reports it, and the case is skipped).
//!
//! wrk is an external tool (Debian package `wrk`; `make bench` installs it). A case whose
//! endpoint this chute does not serve (a 404 on the probe request) is reported as skipped.

use crate::bench_cmd::{BenchRow, Server, StepResult, bench_dir, emit, rows_written, scrape, wait_ready};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct WrkArgs {
    /// The fixtures folder (the repository's `fixtures/`).
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    /// Length of the measured run.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Length of the warm-up run before it.
    #[arg(long, default_value_t = 5)]
    warmup_seconds: u64,
    #[arg(long, default_value_t = 2)]
    threads: u32,
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// Extra setting for the chute started (repeatable).
    #[arg(long = "server-set", value_name = "KEY=VALUE")]
    server_set: Vec<String>,
    /// Serve with `store.target = "null"` (spool on): the receive path alone.
    #[arg(long)]
    null_store: bool,
    /// Run only these cases (otlp-logs, otlp-traces, otlp-metrics, remote-write, events;
    /// repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// What the name of a case run with `--null-store` ends with.
pub const NULL_STORE: &str = " into the null store";

/// One fixed-payload case.
struct Case {
    name: &'static str,
    /// Which listener: the main one or OTLP/HTTP.
    otlp: bool,
    path: &'static str,
    body: PathBuf,
    headers: &'static [(&'static str, &'static str)],
    items_per_body: u64,
    /// The peer's figure (Vector 0.57 into its blackhole sink), items/s, where it was measured.
    peer: Option<f64>,
}

/// The peer's figures on this kind of machine (issue 8): Vector 0.57 into its blackhole sink, no
/// storage, no acknowledgements, items/s.
pub(crate) const PEER_OTLP_LOGS: f64 = 364_000.0;
pub(crate) const PEER_REMOTE_WRITE: f64 = 1_220_000.0;
pub(crate) const PEER_EVENTS: f64 = 578_000.0;

/// The NDJSON events body: 1,000 generated events of ~300 bytes.
pub(crate) fn events_body() -> Vec<u8> {
    chute_loadgen::events::events_body(1000, 0x6576_656e_7473, 1_795_433_093_000_000_000, "wrk")
}

/// [`events_body`], written to `dir`.
fn events_body_file(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("wrk-events-1000.ndjson");
    std::fs::write(&path, events_body()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn cases(fixtures: &Path, events_body: PathBuf) -> Vec<Case> {
    vec![
        Case {
            name: "otlp-logs (http protobuf, 40 records/body)",
            otlp: true,
            path: "/v1/logs",
            body: fixtures.join("otel-python-sdk/http/body-003.bin"),
            headers: &[("Content-Type", "application/x-protobuf")],
            items_per_body: 40,
            peer: Some(PEER_OTLP_LOGS),
        },
        Case {
            name: "otlp-traces (http protobuf, 80 spans/body)",
            otlp: true,
            path: "/v1/traces",
            body: fixtures.join("otel-python-sdk/http/body-002.bin"),
            headers: &[("Content-Type", "application/x-protobuf")],
            items_per_body: 80,
            peer: None,
        },
        Case {
            name: "otlp-metrics (http protobuf, 15 data points/body)",
            otlp: true,
            path: "/v1/metrics",
            body: fixtures.join("otel-python-sdk/http/body-001.bin"),
            headers: &[("Content-Type", "application/x-protobuf")],
            items_per_body: 15,
            peer: None,
        },
        Case {
            name: "remote-write (394 samples/body)",
            otlp: false,
            path: "/api/v1/write",
            body: fixtures.join("prometheus/remote-write/body-002.bin"),
            headers: &[
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
                ("X-Prometheus-Remote-Write-Version", "0.1.0"),
            ],
            items_per_body: 394,
            peer: Some(PEER_REMOTE_WRITE),
        },
        Case {
            name: "events (ndjson, 1,000 events of ~300 B/body)",
            otlp: false,
            path: "/api/v1/events/events",
            body: events_body,
            headers: &[("Content-Type", "application/x-ndjson")],
            items_per_body: 1000,
            peer: Some(PEER_EVENTS),
        },
    ]
}

/// The Lua script that makes wrk POST one body with the case's headers.
fn lua_script(case: &Case, dir: &Path) -> anyhow::Result<PathBuf> {
    let mut s = String::from("wrk.method = \"POST\"\n");
    s.push_str(&format!(
        "local f = assert(io.open({:?}, \"rb\"))\nwrk.body = f:read(\"*a\")\nf:close()\n",
        std::path::absolute(&case.body)?.display().to_string()
    ));
    for (k, v) in case.headers {
        s.push_str(&format!("wrk.headers[{k:?}] = {v:?}\n"));
    }
    let path = dir.join(format!("wrk-{}.lua", case.path.trim_matches('/').replace('/', "-")));
    std::fs::write(&path, s)?;
    Ok(path)
}

/// What wrk printed: requests/s and non-2xx responses.
struct WrkOutput {
    requests_per_s: f64,
    requests: u64,
    non_2xx: u64,
    latency_p99_ms: Option<f64>,
}

fn parse_wrk(out: &str) -> anyhow::Result<WrkOutput> {
    let requests_per_s = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{out}"))?;
    let requests = out
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let non_2xx = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let latency_p99_ms =
        out.lines().find_map(|l| l.trim().strip_prefix("99%")).and_then(|v| parse_duration_ms(v.trim()));
    Ok(WrkOutput { requests_per_s, requests, non_2xx, latency_p99_ms })
}

/// wrk's durations: `812.00us`, `3.41ms`, `1.02s`, `2.00m`.
fn parse_duration_ms(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn wrk(args: &WrkArgs, url: &str, script: &Path, seconds: u64) -> anyhow::Result<WrkOutput> {
    let out = Command::new("wrk")
        .args(["-t", &args.threads.to_string(), "-c", &args.connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .context("cannot run wrk (install the Debian package `wrk`; `make bench` does)")?;
    if !out.status.success() {
        bail!("wrk failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&String::from_utf8_lossy(&out.stdout))
}

/// A gauge's value from chute's Prometheus text (0 when absent).
fn gauge(text: &str, name: &str) -> f64 {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
}

pub async fn run(args: WrkArgs) -> anyhow::Result<i32> {
    let dir = bench_dir(args.dir.clone())?;
    let http = reqwest::Client::new();
    let mut rows = Vec::new();
    let mut details = Vec::new();
    let all = cases(&args.fixtures, events_body_file(&dir)?);
    // A case's short name is the first word of its name ("otlp-logs (http protobuf, ...)").
    fn short(c: &Case) -> &str {
        c.name.split(' ').next().unwrap_or_default()
    }
    if let Some(name) = args.only.iter().find(|n| !all.iter().any(|c| short(c) == **n)) {
        bail!("--only {name:?}: no such case (otlp-logs, otlp-traces, otlp-metrics, remote-write, events)");
    }
    let chosen = all.into_iter().filter(|c| args.only.is_empty() || args.only.iter().any(|n| n == short(c)));
    // Into the null store: its own data directories and logs, so a run of both keeps both.
    let mut sets = args.server_set.clone();
    let file_tag = if args.null_store {
        sets.push("store.target=null".into());
        "-null"
    } else {
        ""
    };
    for case in chosen {
        // Each case gets a chute of its own on an empty data directory, as each peer figure is a
        // run of its own: the previous case's backlog (acknowledged into the spool, still being
        // stored) would take CPU from this one, and the peak RSS would be the previous case's.
        let data = dir.join(format!("wrk-data-{}{file_tag}", short(&case)));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data)?;
        let server = Server::start(&data, &sets, true, &dir.join(format!("wrk-chute-{}{file_tag}.log", short(&case))))?;
        // Not-ready answers 503: a probe before that would skip the case as not served.
        wait_ready(&http, &server.url).await?;
        let base = match (&server.otlp_http, case.otlp) {
            (Some(otlp), true) => otlp,
            _ => &server.url,
        };
        let url = format!("{base}{}", case.path);
        let body = std::fs::read(&case.body).with_context(|| format!("cannot read {}", case.body.display()))?;
        let mut probe = http.post(&url).body(body);
        for (k, v) in case.headers {
            probe = probe.header(*k, *v);
        }
        let status = probe.send().await.with_context(|| format!("probe POST {url}"))?.status();
        if !status.is_success() {
            let why = format!("POST {} answered {status}: skipped", case.path);
            if args.json {
                eprintln!("{}: {why}", case.name);
            } else {
                println!("{}: {why}", case.name);
            }
            details.push(serde_json::json!({"case": case.name, "skipped": why}));
            continue;
        }
        let script = lua_script(&case, &dir)?;
        wrk(&args, &url, &script, args.warmup_seconds)?;
        let cpu0 = server.cpu_seconds();
        let stored0 = rows_written(&scrape(&http, &server.url).await);
        let t0 = Instant::now();
        let w = wrk(&args, &url, &script, args.seconds)?;
        let elapsed = t0.elapsed().as_secs_f64();
        let (cpu1, rss) = (server.cpu_seconds(), server.peak_rss());
        let after = scrape(&http, &server.url).await;
        // What the store confirmed while wrk ran, and what was acknowledged (spooled) but not
        // yet stored when it stopped: the durable path answers at the spool's pace, and the
        // store drains behind it.
        let stored = (rows_written(&after) - stored0).max(0.0) / elapsed;
        let backlog = gauge(&after, "chute_spool_rows");
        drop(server);
        // The backlog left in the spool is gigabytes after the events case.
        let _ = std::fs::remove_dir_all(&data);
        let cores = (cpu1 - cpu0) / elapsed;
        let items = w.requests_per_s * case.items_per_body as f64;
        let peer = match case.peer {
            Some(p) => format!("; peer (Vector, blackhole, no storage) {p:.0} items/s = {:.0}%", 100.0 * items / p),
            None => String::new(),
        };
        let name = if args.null_store { format!("{}{NULL_STORE}", case.name) } else { case.name.to_string() };
        let line = format!(
            "{}: {:.0} items/s ({:.0} requests/s, {} not 2xx, p99 {}), stored while running {:.0} items/s \
             ({:.0} left in the spool), chute {:.2} cores, peak RSS {} MiB{peer}",
            name,
            items,
            w.requests_per_s,
            w.non_2xx,
            w.latency_p99_ms.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "?".into()),
            stored,
            backlog,
            cores,
            rss.map(|b| b / (1024 * 1024)).unwrap_or(0),
        );
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
        rows.push(BenchRow {
            scenario: format!("wrk {name}"),
            input: Some(short(&case).into()),
            rows_per_s: items,
            stored_rows_per_s: Some(stored),
            ack_p99_ms: w.latency_p99_ms,
            peak_rss_bytes: rss,
            ..Default::default()
        });
        details.push(serde_json::json!({
            "case": name, "items_per_s": items, "requests_per_s": w.requests_per_s,
            "requests": w.requests, "non_2xx": w.non_2xx, "chute_cores": cores,
            "stored_items_per_s": stored, "spool_rows_left": backlog,
            "peak_rss_bytes": rss, "peer_items_per_s": case.peer,
        }));
    }
    emit(&StepResult { kind: "wrk".into(), rows, details: serde_json::Value::Array(details) }, args.json)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let out = "Running 20s test @ http://127.0.0.1:4318/v1/logs\n  2 threads and 16 connections\n  \
                   Latency Distribution\n     50%    1.20ms\n     99%    8.41ms\n  \
                   183912 requests in 20.00s, 20.17MB read\n  Non-2xx or 3xx responses: 12\n\
                   Requests/sec:   9195.43\nTransfer/sec:      1.01MB\n";
        let w = parse_wrk(out).unwrap();
        assert_eq!(w.requests, 183_912);
        assert_eq!(w.non_2xx, 12);
        assert!((w.requests_per_s - 9195.43).abs() < 1e-9);
        assert_eq!(w.latency_p99_ms, Some(8.41));
        assert_eq!(parse_duration_ms("812.00us"), Some(0.812));
        assert!(parse_wrk("garbage").is_err());
    }

    #[test]
    fn each_captured_body_holds_the_items_its_case_counts() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let all = cases(&fixtures, PathBuf::from("unused"));
        assert_eq!(all.len(), 5);
        for case in all.iter().filter(|c| !c.path.starts_with("/api/v1/events/")) {
            let body = std::fs::read(&case.body).unwrap();
            let rows = match case.path {
                "/api/v1/write" => chute_promrw::decode(&body, &Default::default()).unwrap().rows(),
                p => {
                    let signal = match p {
                        "/v1/logs" => chute_otlp::Signal::Logs,
                        "/v1/traces" => chute_otlp::Signal::Traces,
                        _ => chute_otlp::Signal::Metrics,
                    };
                    chute_otlp::decode(signal, chute_otlp::Encoding::Protobuf, &body, &Default::default())
                        .unwrap()
                        .rows()
                }
            };
            assert_eq!(rows as u64, case.items_per_body, "{}", case.name);
        }
        let events = events_body();
        assert_eq!(events.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), 1000);
    }

    #[test]
    fn reads_a_gauge_by_its_exact_name() {
        let text = "# HELP chute_spool_rows rows\nchute_spool_rows_limit 9\nchute_spool_rows 372000\n";
        assert_eq!(gauge(text, "chute_spool_rows"), 372_000.0);
        assert_eq!(gauge(text, "chute_spool_bytes"), 0.0);
    }
}
