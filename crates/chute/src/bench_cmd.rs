//! `chute bench`: throughput and latency figures of this machine.
//!
//! - `ceiling` (`bench_ceiling.rs`): the embedded engine alone, per input: its rows inserted
//!   straight into a fresh store (no chute pipeline). chute end to end should not beat it (it
//!   can, by the ceiling's own noise: see docs/benchmarks.md).
//! - `k6-import`: `chute import` (this binary, as a child process) of a generated k6 JSON file.
//! - `e2e`: `chute serve` (this binary, as a child process) fed by the load generator: the
//!   closed model finds the peak, the open model at 70% of it measures acknowledgement latency
//!   and visibility; peak RSS from /proc, flush latency from chute's /metrics. Variants: spool
//!   on, spool off, null store (the receive path alone). Any protocol the load generator
//!   speaks over HTTP: OTLP goes to chute's OTLP/HTTP listener, and markers are polled through
//!   its main address. [`Server`] is the child `chute serve` of `e2e` and `wrk`.
//! - `machine` (`bench_machine.rs`): the host's speed with work that owes nothing to chute,
//!   measured first and last by `make bench` so drift between runs can be told from changes.
//! - `report`: combines the steps' JSON with the machine's description into one file and
//!   prints the table; `compare`: two such files side by side, the machine's speed first.
//!
//! Benchmarks print figures; nothing here asserts a timing.

use crate::bench_machine::MachineSpeed;
use crate::table::{Table, thousands};
use anyhow::{Context, bail};
use chute_config::Config;
use chute_loadgen::{LoadOptions, Model, PayloadKind, Scenario, parse_duration};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Telemetry explorer: catalog upkeep cost against otel_logs ingest, and /attributes and
    /// /logs/patterns latency over a large generated log set.
    Explorer(crate::bench_explorer::ExplorerArgs),
    /// NATS JetStream to committed rows: a pre-filled stream of ~300-byte JSON messages consumed
    /// by `chute serve`; messages/s until the consumer's ack floor reaches the last message.
    Nats(crate::bench_nats::NatsArgs),
    /// The engine's ceiling: an input's rows (k6 samples, OTLP logs, remote write, events, ...)
    /// inserted directly into a fresh embedded store as Arrow batches.
    Ceiling(crate::bench_ceiling::CeilingArgs),
    /// `chute import` of a generated k6 --out json file (cached in --dir by size).
    K6Import {
        #[arg(long, default_value_t = 5_000_000)]
        samples: u64,
        /// Imports made, each into an empty store; the median is reported. Single imports
        /// varied by up to 22% between two runs on the shared machine.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// chute serve under the load generator: peak (closed model), latency at 70% of the peak
    /// (open model), peak RSS, flush latency, visibility; per variant.
    E2e {
        #[arg(long, default_value = "influx")]
        protocol: PayloadKind,
        /// Length of the open-model measurement.
        #[arg(long, default_value = "20s")]
        duration: String,
        /// Length of each closed-model run of the peak search.
        #[arg(long, default_value = "10s")]
        peak_duration: String,
        /// Connections tried by the peak search (the best one is the peak).
        #[arg(long, value_delimiter = ',', default_value = "4,8")]
        connections: Vec<usize>,
        /// spool (defaults), no-spool (--set spool.enabled=false), null (--set store.target=null).
        #[arg(long, value_delimiter = ',', default_value = "spool,no-spool,null")]
        variants: Vec<String>,
        /// Rows per request of the generated kinds (influx, k6-json, events); the replayed kinds
        /// (otlp-logs, otlp-traces, otlp-metrics, remote-write) send their captured bodies as
        /// they are.
        #[arg(long, default_value_t = 5000)]
        rows_per_request: usize,
        /// The fixtures folder the replayed kinds read their captured bodies from.
        #[arg(long, default_value = "fixtures")]
        fixtures: PathBuf,
        /// Extra setting for every chute started (repeatable), e.g. batch.max_rows=400000.
        #[arg(long = "server-set", value_name = "KEY=VALUE")]
        server_set: Vec<String>,
        /// The engine ceiling (rows/s) to compare with.
        #[arg(long)]
        ceiling: Option<f64>,
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Combines step results (--json outputs) with the machine's description; prints the table.
    Report {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the combined result here.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// A label for the run (e.g. the git commit).
        #[arg(long)]
        label: Option<String>,
    },
    /// Two combined results side by side, with the change in percent.
    Compare { a: PathBuf, b: PathBuf },
    /// How fast this machine is now, with work that owes nothing to chute (sorting keys on one
    /// core and on all, syncing 4 KiB writes) and the CPU share the hypervisor took: `make bench`
    /// measures it first and last, so host drift shows beside chute's figures.
    Machine(crate::bench_machine::MachineArgs),
    /// wrk with one fixture body per request (OTLP logs, remote write) against chute serve.
    Wrk(crate::bench_wrk::WrkArgs),
    /// Inserts into a remote ClickHouse (a child chute's ClickHouse HTTP interface) beside the
    /// same inserts into an embedded engine directly: the cost of going remote.
    Remote(crate::bench_remote::RemoteArgs),
}

/// One line of the results table.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BenchRow {
    pub scenario: String,
    /// Whose rows (k6, otlp-logs, remote-write, events, ...): a row is judged against the
    /// ceiling of the same input. Files written before this field hold only k6 ceilings.
    #[serde(default)]
    pub input: Option<String>,
    pub rows_per_s: f64,
    /// Rows the store confirmed per second while the load ran, where `rows_per_s` counts
    /// acknowledgements (wrk: acknowledged means in the spool, and the store drains behind it).
    #[serde(default)]
    pub stored_rows_per_s: Option<f64>,
    pub ack_p50_ms: Option<f64>,
    pub ack_p99_ms: Option<f64>,
    pub flush_p99_ms: Option<f64>,
    pub visibility_p99_ms: Option<f64>,
    pub peak_rss_bytes: Option<u64>,
    pub ratio_to_ceiling: Option<f64>,
}

/// What one step prints with --json.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepResult {
    pub kind: String,
    pub rows: Vec<BenchRow>,
    #[serde(default)]
    pub details: serde_json::Value,
}

/// The combined file `make bench` writes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchFile {
    pub date: String,
    pub label: Option<String>,
    pub machine: Machine,
    /// The k6 ceiling (kept for files compared with older ones).
    pub ceiling_rows_per_s: Option<f64>,
    /// Every input's ceiling, by input (k6, otlp-logs, remote-write, events, ...).
    #[serde(default)]
    pub ceilings: BTreeMap<String, f64>,
    /// The machine's speed when the run started and ended (`chute bench machine`).
    #[serde(default)]
    pub speed: Vec<MachineSpeed>,
    pub rows: Vec<BenchRow>,
    pub targets: Vec<TargetCheck>,
    pub steps: Vec<StepResult>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub ram_bytes: u64,
    pub kernel: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetCheck {
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

pub(crate) fn bench_dir(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let d = dir.unwrap_or_else(|| std::env::temp_dir().join("chute-bench"));
    std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    Ok(std::path::absolute(&d).unwrap_or(d))
}

/// A bench step's own embedded store at `path` (one ingest and one query connection), with
/// migrations applied up to `up_to` (all of them when None).
pub(crate) fn scratch_store(
    config: &Config,
    path: PathBuf,
    up_to: Option<u32>,
) -> anyhow::Result<chute_store::embedded::EmbeddedStore> {
    use chute_store::embedded::{EmbeddedOptions, EmbeddedStore};
    let store = EmbeddedStore::open(&EmbeddedOptions {
        chdb_library: config.store.embedded.chdb_library.clone(),
        libpython: config.store.embedded.libpython.clone(),
        merge_nice: config.store.embedded.merge_nice,
        // The engine alone: no receivers for its inserts to yield to.
        insert_nice: 0,
        materialize_skip_indexes_on_insert: config.store.embedded.materialize_skip_indexes_on_insert,
        path,
        ingest_connections: 1,
        query_connections: 1,
    })
    .map_err(|e| anyhow::anyhow!(e.message))?;
    chute_store::migrations::up(&store, up_to).with_context(|| match up_to {
        Some(n) => format!("applying migrations up to {n:04}"),
        None => "applying migrations".into(),
    })?;
    Ok(store)
}

pub(crate) fn emit(step: &StepResult, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(step)?);
    }
    Ok(())
}

/// Human lines go to stderr when stdout carries JSON.
macro_rules! say {
    ($json:expr, $($t:tt)*) => {
        if $json { eprintln!($($t)*) } else { println!($($t)*) }
    };
}

pub async fn run(config: &Config, cmd: BenchCommand) -> anyhow::Result<i32> {
    match cmd {
        BenchCommand::Ceiling(args) => crate::bench_ceiling::run(config, args).await,
        BenchCommand::K6Import { samples, rounds, dir, json } => {
            let step = k6_import(samples, rounds, &bench_dir(dir)?, json).await?;
            emit(&step, json)?;
            Ok(0)
        }
        BenchCommand::E2e {
            protocol,
            duration,
            peak_duration,
            connections,
            variants,
            rows_per_request,
            fixtures,
            server_set,
            ceiling,
            dir,
            json,
        } => {
            let spec = E2eSpec {
                protocol,
                duration: parse_duration(&duration)?,
                peak_duration: parse_duration(&peak_duration)?,
                connections: if connections.is_empty() { vec![4] } else { connections },
                rows_per_request,
                fixtures,
                server_set,
                ceiling,
                json,
            };
            let dir = bench_dir(dir)?;
            let mut rows = Vec::new();
            let mut details = Vec::new();
            for v in &variants {
                let (row, detail) = e2e_variant(&spec, v, &dir).await?;
                rows.push(row);
                details.push(detail);
            }
            if !json {
                print!("{}", render_rows(&rows));
            }
            emit(&StepResult { kind: "e2e".into(), rows, details: serde_json::Value::Array(details) }, json)?;
            Ok(0)
        }
        BenchCommand::Report { files, out, label } => report(&files, out.as_deref(), label),
        BenchCommand::Compare { a, b } => compare(&a, &b),
        BenchCommand::Wrk(args) => crate::bench_wrk::run(args).await,
        BenchCommand::Machine(args) => crate::bench_machine::run(args).await,
        BenchCommand::Remote(args) => crate::bench_remote::run(config, args).await,
        BenchCommand::Explorer(args) => crate::bench_explorer::run(config, args).await,
        BenchCommand::Nats(args) => crate::bench_nats::run(args).await,
    }
}

// ---------------------------------------------------------------------------------------------
// ceiling

/// k6_samples batches built from the load generator's k6 model, as the InfluxDB decoder builds
/// them (tags in line order, `url` back among the tags, empty tags left out).
pub(crate) fn k6_batches(rows: usize, batch_rows: usize, testid: &str) -> Vec<arrow_array::RecordBatch> {
    use chute_tables::k6::{SampleRow, SamplesBuilder};
    let mut model = chute_loadgen::k6gen::K6Model::new(42, 1_795_433_093_000_000_000);
    let mut out = Vec::new();
    let mut b = SamplesBuilder::new();
    for _ in 0..rows {
        let s = model.next_sample();
        let mut url = None;
        let mut testid_done = false;
        for (k, v) in s.tags.iter() {
            if !testid_done && k > "testid" {
                b.tags.insert("testid", testid);
                testid_done = true;
            }
            if k == "url" {
                url = Some(v);
            } else if !v.is_empty() {
                b.tags.insert(k, v);
            }
        }
        if !testid_done {
            b.tags.insert("testid", testid);
        }
        if let Some(u) = url {
            b.tags.insert("url", u);
        }
        b.end_row(&SampleRow {
            run_id: testid,
            timestamp_us: s.time_ns.div_euclid(1000),
            metric: s.metric,
            metric_type: chute_loadgen::k6gen::metric_kind(s.metric).0,
            value: s.value,
            vu: None,
            iter: None,
            source: "influxdb:k6",
        });
        if b.len() >= batch_rows {
            out.push(b.finish());
        }
    }
    if !b.is_empty() {
        out.push(b.finish());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// k6 import

/// This binary, for child processes; CHUTE_* variables of the caller are not passed on.
pub(crate) fn chute_command(data_dir: &Path) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("cannot find the chute binary")?;
    let mut c = Command::new(exe);
    for (k, _) in std::env::vars() {
        if k.starts_with("CHUTE_") {
            c.env_remove(k);
        }
    }
    c.env("RUST_LOG", "warn");
    c.arg("--data-dir").arg(data_dir);
    Ok(c)
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn k6_import(samples: u64, rounds: u32, dir: &Path, json: bool) -> anyhow::Result<StepResult> {
    let file = dir.join(format!("k6-{samples}.json.gz"));
    if !file.is_file() {
        say!(json, "generating {} ({} samples, k6 --out json shape)…", file.display(), thousands(samples));
        let tmp = dir.join(format!("k6-{samples}.json.gz.tmp"));
        let t0 = Instant::now();
        let tmp2 = tmp.clone();
        tokio::task::spawn_blocking(move || {
            chute_loadgen::k6gen::write_k6_json_file(
                &tmp2,
                samples,
                "bench-k6-import",
                7,
                1_795_433_093_000_000_000,
                true,
            )
        })
        .await??;
        std::fs::rename(&tmp, &file)?;
        say!(json, "  generated in {:.1} s", t0.elapsed().as_secs_f64());
    }
    let size = std::fs::metadata(&file)?.len();
    let mut rates = Vec::new();
    let mut details = Vec::new();
    for round in 1..=rounds.max(1) {
        let (wall, r) = k6_import_once(&file, samples, dir).await?;
        say!(
            json,
            "k6 import {round}/{}: {} samples ({:.0} MB gzip) in {wall:.2} s: {} samples/s (process start to \
             exit; the import itself {:.2} s, {} samples/s)",
            rounds.max(1),
            thousands(samples),
            size as f64 / 1e6,
            thousands((samples as f64 / wall) as u64),
            r["seconds"].as_f64().unwrap_or(0.0),
            thousands(r["samples_per_second"].as_f64().unwrap_or(0.0) as u64)
        );
        rates.push(samples as f64 / wall);
        details.push(serde_json::json!({
            "wall_seconds": wall, "import_seconds": r["seconds"],
            "import_samples_per_second": r["samples_per_second"],
        }));
    }
    let (rate, low, high) = median_low_high(&rates);
    if rates.len() > 1 {
        say!(
            json,
            "k6 import: median {} samples/s (lowest {}, highest {})",
            thousands(rate as u64),
            thousands(low as u64),
            thousands(high as u64)
        );
    }
    Ok(StepResult {
        kind: "k6_import".into(),
        rows: vec![BenchRow {
            scenario: format!("k6 import ({} samples, json.gz)", thousands(samples)),
            input: Some("k6".into()),
            rows_per_s: rate,
            ..Default::default()
        }],
        details: serde_json::json!({ "samples": samples, "file_bytes": size, "rounds": details }),
    })
}

/// The median, lowest and highest of repeated measurements (at least one).
pub(crate) fn median_low_high(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    (sorted[sorted.len() / 2], sorted[0], sorted[sorted.len() - 1])
}

/// One `chute import` of `file` into an empty store: (wall seconds, the import's JSON report).
async fn k6_import_once(file: &Path, samples: u64, dir: &Path) -> anyhow::Result<(f64, serde_json::Value)> {
    let data = dir.join(format!("k6-import-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    // A port nothing listens on: the import opens the store itself instead of finding a server.
    let port = free_port()?;
    let mut cmd = chute_command(&data)?;
    cmd.args(["--set", &format!("server.listen=127.0.0.1:{port}"), "import", "--json"]).arg(file);
    let t0 = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
    let wall = t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&data);
    if !out.status.success() {
        bail!("chute import failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).context("chute import --json output")?;
    let imported = r["samples"].as_u64().unwrap_or(0);
    if imported != samples {
        bail!("chute import stored {imported} samples of {samples}");
    }
    Ok((wall, r))
}

// ---------------------------------------------------------------------------------------------
// e2e

struct E2eSpec {
    protocol: PayloadKind,
    duration: Duration,
    peak_duration: Duration,
    connections: Vec<usize>,
    rows_per_request: usize,
    fixtures: PathBuf,
    server_set: Vec<String>,
    ceiling: Option<f64>,
    json: bool,
}

impl E2eSpec {
    /// Load options against `target` with the spec's payload settings.
    fn load(&self, target: &str, model: Model, profile: chute_loadgen::Profile) -> LoadOptions {
        let mut o = LoadOptions::new(target, self.protocol, model, profile);
        o.scenario = Scenario::Baseline;
        o.rows_per_request = self.rows_per_request;
        o.fixtures = self.fixtures.clone();
        o.progress = !self.json;
        o
    }
}

/// Waits until the chute at `url` answers `/health/ready` with success (60 s at most).
pub(crate) async fn wait_ready(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{url}/health/ready")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("chute at {url} not ready within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A `chute serve` child: its main address, and its OTLP/HTTP address when it was asked for.
/// Dropping it kills the process.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
    pub(crate) otlp_http: Option<String>,
}

impl Server {
    /// Starts `chute serve` on `data` with `sets` (and OTLP's listeners on free ports when
    /// `otlp`), its log in `log`; returns once it printed its addresses.
    pub(crate) fn start(data: &Path, sets: &[String], otlp: bool, log: &Path) -> anyhow::Result<Server> {
        let mut c = chute_command(data)?;
        c.args(["serve", "--listen", "127.0.0.1:0"]);
        if otlp {
            c.args(["--set", "otlp.grpc_listen=127.0.0.1:0", "--set", "otlp.http_listen=127.0.0.1:0"]);
        }
        for s in sets {
            c.args(["--set", s]);
        }
        let log_file = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log_file);
        let mut child = c.spawn().context("cannot start chute serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Reads (and drops) everything, so the child never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let (mut url, mut otlp_http) = (None, None);
        while url.is_none() || (otlp && otlp_http.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                let _ = child.kill();
                let _ = child.wait();
                bail!("chute serve printed no listening line within 60 s (log: {})", log.display());
            };
            let address = |marker: &str| line.split(marker).nth(1)?.split_whitespace().next().map(str::to_string);
            url = url.or_else(|| address("listening on "));
            otlp_http = otlp_http.or_else(|| address("OTLP/HTTP on "));
        }
        Ok(Server { child, url: url.unwrap_or_default(), otlp_http })
    }

    /// User and system CPU seconds the process has used so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .ok()
            .and_then(|s| {
                // Fields after the command name (which is in parentheses and may hold spaces).
                let f: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
                let utime: f64 = f.get(11)?.parse().ok()?;
                let stime: f64 = f.get(12)?.parse().ok()?;
                // SAFETY: sysconf has no preconditions.
                let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
                Some((utime + stime) / hz)
            })
            .unwrap_or(0.0)
    }

    /// VmHWM: the most resident memory the process ever had.
    pub(crate) fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib: u64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// SIGTERM, then waits (SIGKILL after 60 s).
    async fn stop(mut self) {
        // SAFETY: a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Cumulative bucket counts (by upper bound) of a histogram in Prometheus text, summed over
/// its series.
fn histogram_buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let mut by_le: std::collections::BTreeMap<u64, (f64, f64)> = Default::default();
    for line in text.lines().filter(|l| l.starts_with(&prefix)) {
        // The `le` label, not the end of another label's name (`table="..."` ends in `le="`).
        let Some(le) = line.split([',', '{']).find_map(|l| l.strip_prefix("le=\"")).and_then(|r| r.split('"').next())
        else {
            continue;
        };
        let le: f64 = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::NAN) };
        let Some(v) = line.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) else { continue };
        if le.is_nan() {
            continue;
        }
        let e = by_le.entry(le.to_bits()).or_insert((le, 0.0));
        e.1 += v;
    }
    let mut v: Vec<(f64, f64)> = by_le.into_values().collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

/// The upper bound (ms) of the bucket holding the 99th percentile of what was observed between
/// two scrapes; None without observations.
fn p99_between(before: &[(f64, f64)], after: &[(f64, f64)]) -> Option<f64> {
    let diff: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, n)| (*le, n - before.iter().find(|(l, _)| l == le).map(|(_, m)| *m).unwrap_or(0.0)))
        .collect();
    let total = diff.last().map(|(_, n)| *n).unwrap_or(0.0);
    if total <= 0.0 {
        return None;
    }
    let want = (0.99 * total).ceil();
    diff.iter().find(|(_, n)| *n >= want).map(|(le, _)| le * 1000.0)
}

/// Rows the store confirmed so far (`chute_rows_written_total`, all tables and sources except
/// `derived`: the catalog and log-pattern rows chute makes from what it stored).
pub(crate) fn rows_written(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("chute_rows_written_total") && !l.contains("source=\"derived\""))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

pub(crate) async fn scrape(http: &reqwest::Client, url: &str) -> String {
    match http.get(format!("{url}/metrics")).send().await {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn variant_sets(variant: &str) -> anyhow::Result<Vec<String>> {
    Ok(match variant {
        "spool" => vec![],
        "no-spool" => vec!["spool.enabled=false".into()],
        "null" => vec!["store.target=null".into()],
        other => bail!("unknown variant {other:?} (spool, no-spool, null)"),
    })
}

/// The ceiling shape whose rows a protocol's requests become: k6 samples for both k6 inputs.
fn input_of(protocol: PayloadKind) -> &'static str {
    match protocol {
        PayloadKind::Influx | PayloadKind::K6Json => "k6",
        other => other.as_str(),
    }
}

fn variant_label(protocol: PayloadKind, variant: &str) -> String {
    let v = match variant {
        "spool" => "spool on",
        "no-spool" => "spool off",
        "null" => "null store",
        other => other,
    };
    format!("e2e {} ({v})", protocol.as_str())
}

async fn e2e_variant(spec: &E2eSpec, variant: &str, dir: &Path) -> anyhow::Result<(BenchRow, serde_json::Value)> {
    let json = spec.json;
    let mut sets = variant_sets(variant)?;
    sets.extend(spec.server_set.iter().cloned());
    let data = dir.join(format!("e2e-{variant}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data)?;
    let log = dir.join(format!("e2e-{variant}.log"));
    let http = reqwest::Client::new();
    let label = variant_label(spec.protocol, variant);
    let sets = e2e_server_sets(variant, spec.protocol, &sets);
    let server = Server::start(&data, &sets, spec.protocol.is_otlp(), &log)?;
    let result = async {
        wait_ready(&http, &server.url).await?;
        // Where the load goes: OTLP to its own listener; chute's API (metrics) stays on the main one.
        let target = server.otlp_http.clone().unwrap_or_else(|| server.url.clone());
        let otlp = server.otlp_http.as_ref().map(|u| format!(", OTLP/HTTP at {u}")).unwrap_or_default();
        say!(json, "{label}: chute at {}{otlp} (sets: {sets:?})", server.url);
        let (peak, sustained, tries) = peak_search(spec, &http, &server.url, &target).await?;
        // 70% of the peak: open model, with visibility markers; flush latency over this phase.
        // The rows of a request: the replayed kinds send their captured bodies as they are.
        let rows_per_request = peak.payload.rows_per_request.max(1) as f64;
        let rate = 0.7 * sustained / rows_per_request;
        let text = scrape(&http, &server.url).await;
        let before = histogram_buckets(&text, "chute_flush_duration_seconds");
        let commits_before = histogram_buckets(&text, "chute_spool_commit_duration_seconds");
        let mut o = spec.load(&target, Model::Open, Scenario::Baseline.profile(rate, spec.duration, 1.0));
        // Markers are polled through chute's API, on its main address.
        o.api = Some(server.url.clone());
        let open = chute_loadgen::run(o).await?;
        let text = scrape(&http, &server.url).await;
        let after = histogram_buckets(&text, "chute_flush_duration_seconds");
        let flush_p99 = p99_between(&before, &after);
        // The spool's share of the acknowledgement latency (none with the spool off).
        let commit_p99 = p99_between(&commits_before, &histogram_buckets(&text, "chute_spool_commit_duration_seconds"));
        let rss = server.peak_rss();
        let ack = open.ack_latency.clone().unwrap_or_default();
        let vis = open.visibility.latency.as_ref().map(|l| l.p99_ms);
        say!(
            json,
            "  open at 70% ({rate:.1} requests/s): {} rows/s, ack p50 {:.1} ms p99 {:.1} ms, visibility p99 {}, \
             flush p99 {}, spool commit p99 {}, 429 {}, errors {}, overflow {}; peak RSS {}",
            thousands(open.rows.per_second as u64),
            ack.p50_ms,
            ack.p99_ms,
            vis.map(|v| format!("{v:.0} ms")).unwrap_or_else(|| "-".into()),
            flush_p99.map(|v| format!("≤{v:.0} ms")).unwrap_or_else(|| "-".into()),
            commit_p99.map(|v| format!("≤{v:.1} ms")).unwrap_or_else(|| "-".into()),
            open.requests.rejected,
            open.requests.errors,
            open.requests.overflow,
            rss.map(mib).unwrap_or_else(|| "-".into()),
        );
        let row = BenchRow {
            scenario: label,
            input: Some(input_of(spec.protocol).into()),
            rows_per_s: sustained,
            ack_p50_ms: open.ack_latency.as_ref().map(|l| l.p50_ms),
            ack_p99_ms: open.ack_latency.as_ref().map(|l| l.p99_ms),
            flush_p99_ms: flush_p99,
            visibility_p99_ms: vis,
            peak_rss_bytes: rss,
            ratio_to_ceiling: spec.ceiling.filter(|c| *c > 0.0).map(|c| sustained / c),
            stored_rows_per_s: None,
        };
        let detail = serde_json::json!({
            "variant": variant, "sets": sets, "peak_search": tries,
            "peak": {"rows_per_s": sustained, "acknowledged_rows_per_s": peak.rows.per_second,
                     "connections": peak.profile.start,
                     "ack_latency": peak.ack_latency},
            "open": open,
            "spool_commit_p99_ms": commit_p99,
        });
        Ok((row, detail))
    }
    .await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&data);
    result
}

/// The settings of the variant's chute: the variant's own, and with the spool on a bound of
/// [`PEAK_SEARCH_SPOOL`] (k6's inputs) or [`PEAK_SEARCH_SPOOL_LARGE_ROWS`] (the others). At
/// 70% of the peak the spool holds a few segments, below the bound (a 429 would be counted and
/// printed).
fn e2e_server_sets(variant: &str, protocol: PayloadKind, sets: &[String]) -> Vec<String> {
    let mut s = sets.to_vec();
    if variant == "spool" && !sets.iter().any(|s| s.starts_with("spool.max_bytes=")) {
        let bound = if input_of(protocol) == "k6" { PEAK_SEARCH_SPOOL } else { PEAK_SEARCH_SPOOL_LARGE_ROWS };
        s.push(format!("spool.max_bytes={bound}"));
    }
    s
}

/// The spool bound of the peak search (spool on). Under a sustained overload the spool fills
/// whatever its size, and from then on backpressure (429 with Retry-After) holds what chute
/// acknowledges to what the store confirms: that balance is the sustained peak. A small bound
/// reaches it within a short run; with the default 8 GiB, a 10 s run ends while the spool is
/// still absorbing, its receiving starves the store of CPU, and the stored rate under load
/// understates what chute sustains (by half for k6 samples on 2 cores).
const PEAK_SEARCH_SPOOL: &str = "256MiB";

/// The spool bound of the peak search for the inputs other than k6's. Their rows take ~600
/// bytes each in the spool (an OTLP log record), and with batches of 64 MiB (`batch.max_bytes`)
/// three segments are in flight at any time (one inserted, one sealed and waiting, one open):
/// ~200-270 MiB for OTLP logs even at 70% of the peak, where 256 MiB refused thousands of
/// requests (2026-12-07). These inputs are acknowledged about as fast as they are stored, so the
/// spool need not fill for the peak to be judged on what was stored.
const PEAK_SEARCH_SPOOL_LARGE_ROWS: &str = "1GiB";

/// How often the peak search reads how many rows the store has written (`/metrics`, ~0.2 ms of
/// chute's CPU each time).
const STORED_POLL: Duration = Duration::from_millis(50);

/// The rate at which the store wrote rows, from samples (seconds, rows written so far) taken
/// over a window. Rows are written a batch at a time (~115k OTLP log records each), so the rows
/// written between a window's edges count whole batches, and a 5.5 s window of OTLP logs held
/// 11, 12 or 13 of them: its rate moved in steps of ~9% with where the edges fell. Measured
/// from the first write in the window to the last, it counts the batches written between two
/// writes, each built in the time between writes. With fewer than two writes in the window, the
/// rate between its edges.
pub(crate) fn stored_rate(samples: &[(f64, f64)]) -> f64 {
    let mut writes = samples.windows(2).filter(|w| w[1].1 > w[0].1).map(|w| w[1]);
    let (first, last) = match (writes.next(), writes.next_back()) {
        (Some(a), Some(b)) => (a, b),
        _ => match (samples.first(), samples.last()) {
            (Some(a), Some(b)) => (*a, *b),
            _ => return 0.0,
        },
    };
    (last.1 - first.1).max(0.0) / (last.0 - first.0).max(1e-9)
}

/// The peak: closed model, the best of the connection counts tried, judged on what is
/// sustained: the rows the store confirmed per second *while the load ran* (measured over the
/// run's last 55%, once the spool is full, see [`PEAK_SEARCH_SPOOL`], from its first write to
/// its last, see [`stored_rate`]), never more than the rate acknowledged. The drain time after
/// each run is printed beside it. Returns the best run, its sustained rate, and every run's
/// figures.
async fn peak_search(
    spec: &E2eSpec,
    http: &reqwest::Client,
    url: &str,
    target: &str,
) -> anyhow::Result<(chute_loadgen::Report, f64, Vec<serde_json::Value>)> {
    let json = spec.json;
    let mut best: Option<(chute_loadgen::Report, f64)> = None;
    let mut tries = Vec::new();
    for &c in &spec.connections {
        let written_before = rows_written(&scrape(http, url).await);
        let level = c as f64;
        let mut o = spec.load(target, Model::Closed, Scenario::Baseline.profile(level, spec.peak_duration, 1.0));
        o.visibility_interval = None;
        let window = async {
            let d = spec.peak_duration.as_secs_f64();
            tokio::time::sleep(Duration::from_secs_f64(0.4 * d)).await;
            let start = Instant::now();
            let end = start + Duration::from_secs_f64(0.55 * d);
            let mut samples = Vec::new();
            loop {
                samples.push((start.elapsed().as_secs_f64(), rows_written(&scrape(http, url).await)));
                if Instant::now() >= end {
                    break;
                }
                tokio::time::sleep(STORED_POLL.min(end.saturating_duration_since(Instant::now()))).await;
            }
            stored_rate(&samples)
        };
        let (r, stored_under_load) = tokio::join!(chute_loadgen::run(o), window);
        let r = r?;
        let drain = Instant::now();
        let deadline = drain + Duration::from_secs(120);
        loop {
            let written = rows_written(&scrape(http, url).await) - written_before;
            if written >= r.rows.acked as f64 || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let drain_s = drain.elapsed().as_secs_f64();
        let sustained = stored_under_load.min(r.rows.per_second);
        say!(
            json,
            "  closed, {c} connections: {} rows/s acknowledged, {} rows/s stored under load (the rest \
             stored {drain_s:.1} s after the run), ack p50 {:.1} ms p99 {:.1} ms, 429 {}, errors {}",
            thousands(r.rows.per_second as u64),
            thousands(sustained as u64),
            r.ack_latency.as_ref().map(|l| l.p50_ms).unwrap_or(0.0),
            r.ack_latency.as_ref().map(|l| l.p99_ms).unwrap_or(0.0),
            r.requests.rejected,
            r.requests.errors
        );
        tries.push(serde_json::json!({"connections": c, "rows_per_s": r.rows.per_second,
            "sustained_rows_per_s": sustained, "drain_s": drain_s,
            "ack_p50_ms": r.ack_latency.as_ref().map(|l| l.p50_ms), "ack_p99_ms": r.ack_latency.as_ref().map(|l| l.p99_ms),
            "rejected": r.requests.rejected, "errors": r.requests.errors}));
        if best.as_ref().is_none_or(|(_, s)| sustained > *s) {
            best = Some((r, sustained));
        }
    }
    let (peak, sustained) = best.context("no closed-model run")?;
    if peak.rows.acked == 0 {
        bail!("nothing was acknowledged in the peak search: {:?}", peak.requests.error_examples);
    }
    Ok((peak, sustained, tries))
}

fn mib(b: u64) -> String {
    format!("{} MiB", thousands(b / (1 << 20)))
}

// ---------------------------------------------------------------------------------------------
// report and compare

fn opt_ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_infinite() => ">60 s".into(),
        Some(v) if v >= 100.0 => format!("{v:.0} ms"),
        Some(v) => format!("{v:.1} ms"),
        None => "-".into(),
    }
}

fn render_rows(rows: &[BenchRow]) -> String {
    let mut t = Table::new(&[
        "scenario",
        "rows/s",
        "stored/s",
        "ack p50",
        "ack p99",
        "flush p99",
        "visibility p99",
        "peak RSS",
        "of ceiling",
    ]);
    for r in rows {
        t.row(vec![
            r.scenario.clone(),
            thousands(r.rows_per_s.round() as u64),
            r.stored_rows_per_s.map(|v| thousands(v.round() as u64)).unwrap_or_else(|| "-".into()),
            opt_ms(r.ack_p50_ms),
            opt_ms(r.ack_p99_ms),
            r.flush_p99_ms.map(|v| format!("≤{}", opt_ms(Some(v)))).unwrap_or_else(|| "-".into()),
            opt_ms(r.visibility_p99_ms),
            r.peak_rss_bytes.map(mib).unwrap_or_else(|| "-".into()),
            r.ratio_to_ceiling.map(|x| format!("{:.0}%", x * 100.0)).unwrap_or_else(|| "-".into()),
        ]);
    }
    t.render()
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let ram_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Machine {
        nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        cpu,
        ram_bytes: ram_kib * 1024,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string(),
    }
}

fn describe(m: &Machine) -> String {
    format!("{} CPUs ({}), {:.1} GiB RAM, Linux {}", m.nproc, m.cpu, m.ram_bytes as f64 / (1u64 << 30) as f64, m.kernel)
}

fn utc_now() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64 * 1_000_000_000)
        .unwrap_or(0);
    chute_loadgen::k6gen::rfc3339_nano(ns)
}

/// The issues' targets, judged on the measured rows.
fn check_targets(ceilings: &BTreeMap<String, f64>, rows: &[BenchRow]) -> Vec<TargetCheck> {
    let ceiling = ceilings.get("k6").copied();
    // k6's rows: the other inputs have end-to-end rows of their own (judged in `wrk_targets`).
    let find = |needle: &str| {
        rows.iter().find(|r| r.scenario.contains(needle) && r.input.as_deref().is_none_or(|i| i == "k6"))
    };
    let spool = find("(spool on)");
    let no_spool = find("(spool off)");
    let import = find("k6 import");
    let mut out = Vec::new();
    let mut add = |target: &str, measured: String, met: Option<bool>| {
        out.push(TargetCheck { target: target.into(), measured, met })
    };
    // Judged on what is sustained into the engine: the import (every row stored when it ends),
    // and the InfluxDB peak (what the store confirmed while the load ran, once the spool was
    // full: see `peak_search`), only if its markers became visible at 70% of it (else delivery
    // fell behind).
    match (import, spool) {
        (Some(i), Some(s)) => {
            let sustained = s.visibility_p99_ms.is_some();
            add(
                "k6 end to end ≥ 500,000 samples/s",
                format!(
                    "import {} rows/s; influx writes {} rows/s{}",
                    thousands(i.rows_per_s as u64),
                    thousands(s.rows_per_s as u64),
                    if sustained { "" } else { " accepted, delivery fell behind (markers not visible)" }
                ),
                Some(i.rows_per_s >= 500_000.0 && s.rows_per_s >= 500_000.0 && sustained),
            )
        }
        _ => add("k6 end to end ≥ 500,000 samples/s", "not measured".into(), None),
    }
    match ceiling {
        Some(c) => add("engine alone ~1 M rows/s", format!("{} rows/s", thousands(c as u64)), Some(c >= 900_000.0)),
        None => add("engine alone ~1 M rows/s", "not measured".into(), None),
    }
    match spool.and_then(|r| r.ack_p99_ms) {
        Some(p) => add("ack p99 ≤ 25 ms at 70% of peak", format!("{p:.1} ms"), Some(p <= 25.0)),
        None => add("ack p99 ≤ 25 ms at 70% of peak", "not measured".into(), None),
    }
    match (spool, no_spool) {
        // Spool off, a request is answered after its insert, which waits up to batch.max_age for
        // the batch to fill: at the bench's concurrency that bounds it, not the spool's cost.
        (Some(_), Some(b)) if b.ack_p50_ms.is_some_and(|p| p >= 500.0) => add(
            "the spool costs ≤ 15% of throughput",
            "not comparable: spool off is bound by batch.max_age per request at this concurrency".into(),
            None,
        ),
        (Some(a), Some(b)) if b.rows_per_s > 0.0 => {
            let cost = 1.0 - a.rows_per_s / b.rows_per_s;
            add("the spool costs ≤ 15% of throughput", format!("{:.0}%", cost * 100.0), Some(cost <= 0.15))
        }
        _ => add("the spool costs ≤ 15% of throughput", "not measured".into(), None),
    }
    match (spool, ceiling) {
        (Some(a), Some(c)) if c > 0.0 => {
            let r = a.rows_per_s / c;
            add("k6 end to end ≥ 60% of the engine ceiling", format!("{:.0}%", r * 100.0), Some(r >= 0.6))
        }
        _ => add("k6 end to end ≥ 60% of the engine ceiling", "not measured".into(), None),
    }
    wrk_targets(ceilings, rows, &mut add);
    match spool.and_then(|r| r.peak_rss_bytes.map(|b| (b, r.rows_per_s))) {
        Some((b, rate)) => add(
            "peak RSS ≤ 1.5 GiB at 500k rows/s",
            format!("{} at up to {} rows/s", mib(b), thousands(rate as u64)),
            // Only judged when the load reached 500k rows/s.
            (rate >= 500_000.0 || b as f64 > 1.5 * (1u64 << 30) as f64)
                .then_some(b as f64 <= 1.5 * (1u64 << 30) as f64),
        ),
        None => add("peak RSS ≤ 1.5 GiB at 500k rows/s", "not measured".into(), None),
    }
    out
}

/// The targets of the inputs other than k6: issue 8's against the peer (wrk's fixed bodies) and
/// the OTLP logs ceiling, issue 4's rates per protocol. A rate is judged on the input's end-to-end
/// row (the load generator's sustained peak: what the store confirmed while the load ran) when
/// the run has one, else on what the store confirmed under wrk; each beside the engine's own
/// ceiling for the same rows.
fn wrk_targets(ceilings: &BTreeMap<String, f64>, rows: &[BenchRow], add: &mut impl FnMut(&str, String, Option<bool>)) {
    use crate::bench_wrk::{NULL_STORE, PEER_EVENTS, PEER_OTLP_LOGS, PEER_REMOTE_WRITE};
    let wrk_row = |input: &str, into_null: bool| {
        rows.iter().find(|r| {
            r.scenario.starts_with("wrk ")
                && r.scenario.ends_with(NULL_STORE) == into_null
                && r.input.as_deref() == Some(input)
        })
    };
    // Judged on the durable path into the engine only, never on a run into the null store.
    let wrk = |input: &str| wrk_row(input, false);
    // The same bodies into the null store: shown beside a target, so the report tells the
    // receive path's share of a gap from the store's.
    let null = |input: &str| wrk_row(input, true);
    let stored = |r: &BenchRow| r.stored_rows_per_s.unwrap_or(r.rows_per_s);
    let k = |v: f64| thousands(v.round() as u64);
    let e2e = |input: &str| {
        rows.iter().find(|r| {
            r.scenario.starts_with("e2e ") && r.scenario.ends_with("(spool on)") && r.input.as_deref() == Some(input)
        })
    };
    // The figure a rate is judged on, and how it reads.
    let judged = |input: &str| -> Option<(f64, String)> {
        match (e2e(input), wrk(input)) {
            (Some(e), w) => {
                let beside = w.map(|w| format!("; under wrk {} stored/s", k(stored(w)))).unwrap_or_default();
                Some((e.rows_per_s, format!("{} stored/s end to end{beside}", k(e.rows_per_s))))
            }
            (None, Some(w)) => {
                Some((stored(w), format!("{} stored/s ({} acknowledged/s) under wrk", k(stored(w)), k(w.rows_per_s))))
            }
            (None, None) => None,
        }
    };
    let target = "OTLP logs ≥ 60% of their engine ceiling";
    match (judged("otlp-logs"), ceilings.get("otlp-logs").filter(|c| **c > 0.0)) {
        (Some((v, text)), Some(c)) => {
            add(target, format!("{:.0}%: {text}, the engine alone {}/s", 100.0 * v / c, k(*c)), Some(v >= 0.6 * c))
        }
        _ => add(target, "not measured".into(), None),
    }
    for (input, share, peer, target) in [
        ("otlp-logs", 1.0, PEER_OTLP_LOGS, "wrk OTLP logs ≥ the peer's 364k/s"),
        ("events", 1.0, PEER_EVENTS, "wrk NDJSON events ≥ the peer's 578k/s"),
        ("remote-write", 0.6, PEER_REMOTE_WRITE, "wrk remote write ≥ 60% of the peer's 1.22M/s"),
    ] {
        match wrk(input) {
            Some(r) => {
                let alone = null(input)
                    .map(|n| {
                        format!("; into the null store {}/s, {:.0}%", k(n.rows_per_s), 100.0 * n.rows_per_s / peer)
                    })
                    .unwrap_or_default();
                add(
                    target,
                    format!(
                        "{} acknowledged/s, {:.0}% of the peer{alone}",
                        k(r.rows_per_s),
                        100.0 * r.rows_per_s / peer
                    ),
                    Some(r.rows_per_s >= share * peer),
                )
            }
            None => add(target, "not measured".into(), None),
        }
    }
    for (input, goal, target) in [
        ("otlp-logs", 500_000.0, "OTLP log records ≥ 500k/s stored"),
        ("otlp-traces", 120_000.0, "OTLP spans ≥ 120k/s stored"),
        ("otlp-metrics", 500_000.0, "OTLP metric points ≥ 500k/s stored"),
        ("remote-write", 500_000.0, "remote-write samples ≥ 500k/s stored"),
    ] {
        match judged(input) {
            Some((v, text)) => {
                let alone = ceilings.get(input).map(|c| format!(", the engine alone {}/s", k(*c))).unwrap_or_default();
                add(target, format!("{text}{alone}"), Some(v >= goal))
            }
            None => add(target, "not measured".into(), None),
        }
    }
}

fn render_targets(t: &[TargetCheck]) -> String {
    let mut s = String::new();
    for c in t {
        let mark = match c.met {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not judged",
        };
        s.push_str(&format!("  {mark:<10} {:<46} {}\n", c.target, c.measured));
    }
    s
}

/// Each input's ceiling. Steps written before rows named their input hold one ceiling, of k6 rows.
fn ceilings_of(steps: &[StepResult]) -> BTreeMap<String, f64> {
    steps
        .iter()
        .filter(|s| s.kind == "ceiling")
        .flat_map(|s| s.rows.iter())
        .map(|r| (r.input.clone().unwrap_or_else(|| "k6".into()), r.rows_per_s))
        .collect()
}

/// Each row against the ceiling of its own input: what the store confirmed where the row has
/// that figure, else its rate. Rows of older files without an input are k6 rows, except wrk's.
fn set_ratios(rows: &mut [BenchRow], ceilings: &BTreeMap<String, f64>) {
    for r in rows.iter_mut() {
        let input = match r.input.as_deref() {
            Some(i) => i,
            None if r.scenario.starts_with("wrk ") => continue,
            None => "k6",
        };
        if let Some(c) = ceilings.get(input).filter(|c| **c > 0.0) {
            r.ratio_to_ceiling = Some(r.stored_rows_per_s.unwrap_or(r.rows_per_s) / c);
        }
    }
}

fn report(files: &[PathBuf], out: Option<&Path>, label: Option<String>) -> anyhow::Result<i32> {
    let mut steps: Vec<StepResult> = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
        let step: StepResult =
            serde_json::from_str(&text).with_context(|| format!("{}: not a bench step result", f.display()))?;
        steps.push(step);
    }
    let file = combine(steps, label);
    print_file(&file);
    if let Some(out) = out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(&file)?)?;
        println!("\nwritten to {}", out.display());
    }
    Ok(0)
}

/// The step results of one run, combined: rows judged against their input's ceilings, the
/// targets checked, the machine's speed at the start and end.
fn combine(steps: Vec<StepResult>, label: Option<String>) -> BenchFile {
    let ceilings = ceilings_of(&steps);
    let mut rows: Vec<BenchRow> = steps.iter().flat_map(|s| s.rows.iter().cloned()).collect();
    set_ratios(&mut rows, &ceilings);
    let speed = steps
        .iter()
        .filter(|s| s.kind == "machine")
        .filter_map(|s| serde_json::from_value::<MachineSpeed>(s.details.clone()).ok())
        .collect();
    BenchFile {
        date: utc_now(),
        label,
        machine: machine(),
        ceiling_rows_per_s: ceilings.get("k6").copied(),
        targets: check_targets(&ceilings, &rows),
        ceilings,
        speed,
        rows,
        steps,
    }
}

fn print_file(f: &BenchFile) {
    println!(
        "chute bench, {}{}: {}",
        f.date,
        f.label.as_deref().map(|l| format!(" ({l})")).unwrap_or_default(),
        describe(&f.machine)
    );
    for s in &f.speed {
        println!("{}", crate::bench_machine::describe(s));
    }
    println!();
    print!("{}", render_rows(&f.rows));
    println!();
    println!("targets:");
    print!("{}", render_targets(&f.targets));
}

/// How far two runs' throughput figures may be apart and still agree (issue 8's ±15%).
const AGREEMENT: f64 = 0.15;

/// The throughput figures (rows/s and stored rows/s) of the scenarios in both `a` and `b`: how
/// many there are, and each that moved by more than `tolerance` (a fraction of `a`'s value),
/// as "scenario figure change".
fn throughput_disagreements(a: &[BenchRow], b: &[BenchRow], tolerance: f64) -> (usize, Vec<String>) {
    let mut compared = 0;
    let mut apart = Vec::new();
    for ra in a {
        let Some(rb) = b.iter().find(|r| r.scenario == ra.scenario) else { continue };
        let mut figures = vec![("rows/s", ra.rows_per_s, rb.rows_per_s)];
        if let (Some(x), Some(y)) = (ra.stored_rows_per_s, rb.stored_rows_per_s) {
            figures.push(("stored rows/s", x, y));
        }
        for (figure, x, y) in figures.into_iter().filter(|(_, x, _)| *x > 0.0) {
            compared += 1;
            let change = (y - x) / x;
            if change.abs() > tolerance {
                apart.push(format!("{} {figure} {:+.1}%", ra.scenario, change * 100.0));
            }
        }
    }
    (compared, apart)
}

fn compare(a: &Path, b: &Path) -> anyhow::Result<i32> {
    let load = |p: &Path| -> anyhow::Result<BenchFile> {
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a bench result file", p.display()))
    };
    let (fa, fb) = (load(a)?, load(b)?);
    println!("A: {} {}: {}", a.display(), fa.date, describe(&fa.machine));
    println!("B: {} {}: {}", b.display(), fb.date, describe(&fb.machine));
    println!();
    let mut t = Table::new(&["scenario", "figure", "A", "B", "change"]);
    let change = |x: f64, y: f64| if x == 0.0 { "-".to_string() } else { format!("{:+.1}%", (y - x) / x * 100.0) };
    // The host's own drift first: a figure below that moved as much as these did is the machine.
    for sa in &fa.speed {
        let Some(sb) = fb.speed.iter().find(|s| s.when == sa.when) else { continue };
        let figures: [(&str, f64, f64); 5] = [
            ("M keys sorted/s, one core", sa.one_core_mkeys_per_s, sb.one_core_mkeys_per_s),
            ("M keys sorted/s, all cores", sa.all_cores_mkeys_per_s, sb.all_cores_mkeys_per_s),
            ("fsyncs/s", sa.fsyncs_per_s, sb.fsyncs_per_s),
            ("file creates/s", sa.file_creates_per_s, sb.file_creates_per_s),
            ("steal %", sa.steal_pct, sb.steal_pct),
        ];
        for (i, (name, x, y)) in figures.into_iter().enumerate() {
            let scenario = if i == 0 { format!("machine ({})", sa.when) } else { String::new() };
            t.row(vec![scenario, name.into(), format!("{x:.1}"), format!("{y:.1}"), change(x, y)]);
        }
    }
    for ra in &fa.rows {
        let Some(rb) = fb.rows.iter().find(|r| r.scenario == ra.scenario) else {
            t.row(vec![ra.scenario.clone(), "(only in A)".into(), String::new(), String::new(), String::new()]);
            continue;
        };
        t.row(vec![
            ra.scenario.clone(),
            "rows/s".into(),
            thousands(ra.rows_per_s as u64),
            thousands(rb.rows_per_s as u64),
            change(ra.rows_per_s, rb.rows_per_s),
        ]);
        if let (Some(x), Some(y)) = (ra.stored_rows_per_s, rb.stored_rows_per_s) {
            t.row(vec![String::new(), "stored rows/s".into(), thousands(x as u64), thousands(y as u64), change(x, y)]);
        }
        let figures: [(&str, Option<f64>, Option<f64>); 4] = [
            ("ack p50 ms", ra.ack_p50_ms, rb.ack_p50_ms),
            ("ack p99 ms", ra.ack_p99_ms, rb.ack_p99_ms),
            ("flush p99 ms", ra.flush_p99_ms, rb.flush_p99_ms),
            ("visibility p99 ms", ra.visibility_p99_ms, rb.visibility_p99_ms),
        ];
        for (name, x, y) in figures {
            if let (Some(x), Some(y)) = (x, y) {
                t.row(vec![String::new(), name.into(), format!("{x:.1}"), format!("{y:.1}"), change(x, y)]);
            }
        }
        if let (Some(x), Some(y)) = (ra.peak_rss_bytes, rb.peak_rss_bytes) {
            t.row(vec![String::new(), "peak RSS".into(), mib(x), mib(y), change(x as f64, y as f64)]);
        }
    }
    for rb in fb.rows.iter().filter(|r| !fa.rows.iter().any(|x| x.scenario == r.scenario)) {
        t.row(vec![rb.scenario.clone(), "(only in B)".into(), String::new(), String::new(), String::new()]);
    }
    print!("{}", t.render());
    let (compared, apart) = throughput_disagreements(&fa.rows, &fb.rows, AGREEMENT);
    println!();
    println!(
        "throughput (rows/s, stored rows/s) within ±{:.0}%: {} of {compared} figures{}",
        AGREEMENT * 100.0,
        compared - apart.len(),
        if apart.is_empty() { String::new() } else { format!("; further apart: {}", apart.join(", ")) }
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_spool_variant_runs_with_a_small_spool_unless_one_was_set() {
        let sets = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let k6 = PayloadKind::Influx;
        assert_eq!(e2e_server_sets("spool", k6, &[]), sets(&["spool.max_bytes=256MiB"]));
        // Rows that take more room in the spool get a larger bound.
        assert_eq!(e2e_server_sets("spool", PayloadKind::OtlpLogs, &[]), sets(&["spool.max_bytes=1GiB"]));
        let own = sets(&["spool.max_bytes=2GiB"]);
        assert_eq!(e2e_server_sets("spool", k6, &own), own, "a bound the user set is kept");
        let off = sets(&["spool.enabled=false"]);
        assert_eq!(e2e_server_sets("no-spool", k6, &off), off);
        let null = sets(&["store.target=null"]);
        assert_eq!(e2e_server_sets("null", k6, &null), null);
    }

    #[test]
    fn the_stored_rate_counts_the_batches_written_between_the_first_and_the_last_write_of_the_window() {
        // A batch of 100 rows every second, written at 0.5 s, 1.5 s, ...; polled every 0.25 s
        // over a window of 2.75 s. Between its edges the window saw 300 rows (109/s) or 200
        // (73/s) depending on where it started; between its first and last write, 100/s.
        let written_by = |t: f64| 100.0 * (t + 0.5).floor();
        for start in [0.0, 0.3, 0.6, 0.9] {
            let samples: Vec<(f64, f64)> =
                (0..=11).map(|i| start + 0.25 * i as f64).map(|t| (t, written_by(t))).collect();
            let rate = stored_rate(&samples);
            assert!((rate - 100.0).abs() < 1e-9, "window from {start} s: {rate} rows/s");
        }
        // One write or none in the window: the rate between its edges.
        assert_eq!(stored_rate(&[(0.0, 100.0), (1.0, 100.0), (2.0, 300.0)]), 100.0);
        assert_eq!(stored_rate(&[(0.0, 100.0), (2.0, 100.0)]), 0.0);
        assert_eq!(stored_rate(&[]), 0.0);
    }

    #[test]
    fn flush_p99_comes_from_the_bucket_differences() {
        let before = "chute_flush_duration_seconds_bucket{table=\"k6_samples\",le=\"0.01\"} 10\n\
                      chute_flush_duration_seconds_bucket{table=\"k6_samples\",le=\"0.1\"} 10\n\
                      chute_flush_duration_seconds_bucket{table=\"k6_samples\",le=\"+Inf\"} 10\n";
        let after = "chute_flush_duration_seconds_bucket{table=\"k6_samples\",le=\"0.01\"} 10\n\
                     chute_flush_duration_seconds_bucket{table=\"k6_samples\",le=\"0.1\"} 110\n\
                     chute_flush_duration_seconds_bucket{table=\"k6_samples\",le=\"+Inf\"} 110\n\
                     chute_flush_duration_seconds_count{table=\"k6_samples\"} 110\n";
        let b = histogram_buckets(before, "chute_flush_duration_seconds");
        let a = histogram_buckets(after, "chute_flush_duration_seconds");
        assert_eq!(a.len(), 3);
        assert_eq!(p99_between(&b, &a), Some(100.0));
        assert_eq!(p99_between(&a, &a), None);
    }

    #[test]
    fn each_row_is_judged_against_the_ceiling_of_its_own_input() {
        let row = |scenario: &str, input: Option<&str>, rate: f64, stored: Option<f64>| BenchRow {
            scenario: scenario.into(),
            input: input.map(str::to_string),
            rows_per_s: rate,
            stored_rows_per_s: stored,
            ..Default::default()
        };
        let steps = vec![
            // A file from before rows named their input: its ceiling is k6's.
            StepResult {
                kind: "ceiling".into(),
                rows: vec![row("engine ceiling", None, 800_000.0, None)],
                details: serde_json::Value::Null,
            },
            StepResult {
                kind: "ceiling".into(),
                rows: vec![row("engine ceiling (otlp-logs rows)", Some("otlp-logs"), 350_000.0, None)],
                details: serde_json::Value::Null,
            },
        ];
        let ceilings = ceilings_of(&steps);
        assert_eq!(ceilings.get("k6"), Some(&800_000.0));
        let mut rows = vec![
            row("e2e influx (spool on)", None, 200_000.0, None),
            // The receive path alone beats every target; none may be judged on it.
            row("wrk otlp-logs (...) into the null store", Some("otlp-logs"), 900_000.0, Some(900_000.0)),
            row("wrk remote-write (...) into the null store", Some("remote-write"), 900_000.0, Some(900_000.0)),
            row("wrk events (...) into the null store", Some("events"), 900_000.0, Some(900_000.0)),
            row("wrk otlp-logs (...)", Some("otlp-logs"), 140_000.0, Some(122_500.0)),
            row("wrk remote-write (...)", Some("remote-write"), 300_000.0, Some(190_000.0)),
            row("wrk old file", None, 300_000.0, None),
        ];
        set_ratios(&mut rows, &ceilings);
        let ratios: Vec<Option<f64>> = rows.iter().map(|r| r.ratio_to_ceiling).collect();
        // The wrk row is judged on what was stored, not acknowledged; without a ceiling of
        // their own, rows get no ratio.
        assert_eq!(ratios[0], Some(0.25));
        assert_eq!(ratios[4..], [Some(0.35), None, None]);

        let targets = check_targets(&ceilings, &rows);
        let get = |name: &str| targets.iter().find(|t| t.target.starts_with(name)).unwrap_or_else(|| panic!("{name}"));
        let logs = get("OTLP logs ≥ 60% of their engine ceiling");
        assert_eq!(
            (logs.met, logs.measured.as_str()),
            (Some(false), "35%: 122,500 stored/s (140,000 acknowledged/s) under wrk, the engine alone 350,000/s")
        );
        assert_eq!(get("wrk OTLP logs ≥ the peer").met, Some(false));
        let rw = get("wrk remote write ≥ 60% of the peer");
        // Beside it, the same bodies into the null store (the receive path alone), not judged.
        assert_eq!(
            (rw.met, rw.measured.as_str()),
            (Some(false), "300,000 acknowledged/s, 25% of the peer; into the null store 900,000/s, 74%")
        );
        assert_eq!(get("wrk NDJSON events").met, None);
        let stored = get("remote-write samples ≥ 500k/s stored");
        assert_eq!(stored.measured, "190,000 stored/s (300,000 acknowledged/s) under wrk");
        assert_eq!(stored.met, Some(false));

        // With an end-to-end row of its own (the load generator's sustained peak), an input is
        // judged on it, and the wrk figure stays beside it; k6's targets keep to k6's rows even
        // when another input's end-to-end row comes first.
        rows.insert(0, row("e2e otlp-logs (spool on)", Some("otlp-logs"), 245_000.0, None));
        let targets = check_targets(&ceilings, &rows);
        let get = |name: &str| targets.iter().find(|t| t.target.starts_with(name)).unwrap_or_else(|| panic!("{name}"));
        let logs = get("OTLP logs ≥ 60% of their engine ceiling");
        assert_eq!(
            (logs.met, logs.measured.as_str()),
            (Some(true), "70%: 245,000 stored/s end to end; under wrk 122,500 stored/s, the engine alone 350,000/s")
        );
        assert_eq!(get("OTLP log records ≥ 500k/s stored").met, Some(false));
        assert_eq!(get("k6 end to end ≥ 60% of the engine ceiling").measured, "25%");
    }

    #[test]
    fn the_machine_speed_at_start_and_end_is_kept_and_old_files_without_it_still_read() {
        let speed = |when: &str, one: f64| MachineSpeed {
            when: when.into(),
            one_core_mkeys_per_s: one,
            all_cores_mkeys_per_s: 2.0 * one,
            fsyncs_per_s: 900.0,
            file_creates_per_s: 20_000.0,
            steal_pct: 0.5,
        };
        let step = |s: &MachineSpeed| StepResult {
            kind: "machine".into(),
            rows: vec![],
            details: serde_json::to_value(s).unwrap(),
        };
        let ceiling = StepResult {
            kind: "ceiling".into(),
            rows: vec![BenchRow {
                scenario: "engine ceiling".into(),
                input: Some("k6".into()),
                rows_per_s: 1e6,
                ..Default::default()
            }],
            details: serde_json::Value::Null,
        };
        let file = combine(vec![step(&speed("start", 30.0)), ceiling, step(&speed("end", 24.0))], None);
        assert_eq!(file.speed, vec![speed("start", 30.0), speed("end", 24.0)]);
        // Machine steps add no rows to the table.
        assert_eq!(file.rows.len(), 1);
        let text = serde_json::to_string(&file).unwrap();
        let back: BenchFile = serde_json::from_str(&text).unwrap();
        assert_eq!(back.speed, file.speed);

        // A file written before file creations were measured.
        let mut older: serde_json::Value = serde_json::from_str(&text).unwrap();
        for s in older["speed"].as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("file_creates_per_s");
        }
        let older: BenchFile = serde_json::from_value(older).unwrap();
        assert_eq!(older.speed[0].file_creates_per_s, 0.0);
        assert_eq!(older.speed[0].fsyncs_per_s, 900.0);

        // A file written before the machine's speed was measured.
        let mut old: serde_json::Value = serde_json::from_str(&text).unwrap();
        old.as_object_mut().unwrap().remove("speed");
        let old: BenchFile = serde_json::from_value(old).unwrap();
        assert!(old.speed.is_empty());
    }

    #[test]
    fn two_runs_agree_on_the_throughput_figures_within_the_tolerance_and_name_the_others() {
        let row = |scenario: &str, rows: f64, stored: Option<f64>| BenchRow {
            scenario: scenario.into(),
            rows_per_s: rows,
            stored_rows_per_s: stored,
            ..Default::default()
        };
        let a = [
            row("e2e influx", 600_000.0, None),
            row("wrk otlp-logs", 300_000.0, Some(200_000.0)),
            row("engine ceiling", 1_000_000.0, None),
            row("only in a", 1.0, None),
            row("nothing measured", 0.0, None),
        ];
        let b = [
            row("e2e influx", 650_000.0, None),
            row("wrk otlp-logs", 290_000.0, Some(240_000.0)),
            row("engine ceiling", 800_000.0, None),
            row("nothing measured", 5.0, None),
        ];
        let (compared, apart) = throughput_disagreements(&a, &b, AGREEMENT);
        // influx +8.3% and logs -3.3% agree; stored +20% and the ceiling -20% do not.
        assert_eq!(compared, 4);
        assert_eq!(apart, ["wrk otlp-logs stored rows/s +20.0%", "engine ceiling rows/s -20.0%"]);
        let (_, none) = throughput_disagreements(&a, &a, AGREEMENT);
        assert!(none.is_empty());
    }

    #[test]
    fn ceiling_batches_have_the_k6_samples_schema() {
        let b = k6_batches(2500, 1000, "t");
        assert_eq!(b.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), vec![1000, 1000, 500]);
        assert_eq!(b[0].schema(), chute_tables::k6::samples_schema());
    }
}
