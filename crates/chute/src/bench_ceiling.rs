//! `chute bench ceiling`: the embedded engine alone, per input. The rows an input's decoder
//! builds (k6 samples from the load generator's model; the captured fixture bodies of OTLP and
//! remote write; the generated NDJSON events body) are inserted straight into a fresh store as
//! Arrow batches: no receiver, spool or batcher. chute end to end on the same rows cannot beat it.

use crate::bench_cmd::{BenchRow, StepResult, k6_batches, median_low_high, scratch_store};
use crate::table::thousands;
use anyhow::{Context, bail};
use arrow_array::RecordBatch;
use chute_config::Config;
use chute_store::Store;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which input's rows the ceiling inserts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// k6_samples rows as the fixture's run has them (the load generator's k6 model).
    K6,
    /// otel_logs rows of the OpenTelemetry Python SDK's captured logs body (40 records).
    OtlpLogs,
    /// otel_traces rows of its captured traces body.
    OtlpTraces,
    /// otel_metrics_* rows of its captured metrics body.
    OtlpMetrics,
    /// otel_metrics_* rows of Prometheus 2.42's captured remote-write body (394 samples).
    RemoteWrite,
    /// Rows of the built-in events table from a generated NDJSON body of 1,000 events.
    Events,
}

impl Shape {
    /// The input's name, as `chute bench wrk` and the load generator call it.
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::K6 => "k6",
            Shape::OtlpLogs => "otlp-logs",
            Shape::OtlpTraces => "otlp-traces",
            Shape::OtlpMetrics => "otlp-metrics",
            Shape::RemoteWrite => "remote-write",
            Shape::Events => "events",
        }
    }
}

/// The rows of one insert per table (several tables for metrics).
type Unit = Vec<(&'static str, RecordBatch)>;

/// Rows of a unit over all its tables.
fn unit_rows(u: &Unit) -> usize {
    u.iter().map(|(_, b)| b.num_rows()).sum()
}

/// The captured body `shape` decodes, as `chute bench wrk` sends it.
fn fixture_body(shape: Shape, fixtures: &Path) -> anyhow::Result<Vec<u8>> {
    let file = match shape {
        Shape::OtlpLogs => "otel-python-sdk/http/body-003.bin",
        Shape::OtlpTraces => "otel-python-sdk/http/body-002.bin",
        Shape::OtlpMetrics => "otel-python-sdk/http/body-001.bin",
        Shape::RemoteWrite => "prometheus/remote-write/body-002.bin",
        Shape::K6 | Shape::Events => return Ok(Vec::new()),
    };
    let path = fixtures.join(file);
    std::fs::read(&path).with_context(|| format!("cannot read {} (--fixtures)", path.display()))
}

/// One body's rows per table, as chute's receiver decodes it.
fn decode_once(shape: Shape, store: &dyn Store, fixtures: &Path) -> anyhow::Result<Unit> {
    let body = fixture_body(shape, fixtures)?;
    let otlp = |signal| -> anyhow::Result<Unit> {
        let d = chute_otlp::decode(signal, chute_otlp::Encoding::Protobuf, &body, &chute_otlp::Limits::default())?;
        Ok(d.batches)
    };
    match shape {
        Shape::OtlpLogs => otlp(chute_otlp::Signal::Logs),
        Shape::OtlpTraces => otlp(chute_otlp::Signal::Traces),
        Shape::OtlpMetrics => otlp(chute_otlp::Signal::Metrics),
        Shape::RemoteWrite => Ok(chute_promrw::decode(&body, &chute_promrw::Limits::default())?.batches),
        Shape::Events => {
            let decoder = chute_server::events::builtin_decoder(store).map_err(anyhow::Error::msg)?;
            let body = crate::bench_wrk::events_body();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as i64;
            let batch = chute_server::events::decode_body(&decoder, &body, chute_events::BodyFormat::Ndjson, now)
                .map_err(|e| anyhow::anyhow!("the events body: {e}"))?;
            Ok(vec![(chute_server::events::DEFAULT_TABLE, batch)])
        }
        Shape::K6 => bail!("k6 rows are generated, not decoded"),
    }
}

/// The batches a round inserts in turn: for k6 up to 10 distinct generated batches of
/// `batch_rows`; for the others one body's rows repeated to about `batch_rows` per table (the
/// same rows again and again, as `chute bench wrk` sends one body again and again).
fn units(shape: Shape, store: &dyn Store, fixtures: &Path, rows: u64, batch_rows: usize) -> anyhow::Result<Vec<Unit>> {
    if shape == Shape::K6 {
        let distinct = (rows.div_ceil(batch_rows as u64) as usize).min(10);
        let built = (distinct * batch_rows).min(rows as usize);
        return Ok(k6_batches(built, batch_rows, "bench-ceiling")
            .into_iter()
            .map(|b| vec![("k6_samples", b)])
            .collect());
    }
    let once = decode_once(shape, store, fixtures)?;
    let body_rows = unit_rows(&once);
    if body_rows == 0 {
        bail!("the {} body decodes to no rows", shape.as_str());
    }
    let copies = (batch_rows / body_rows).max(1);
    let mut unit = Unit::new();
    for (table, b) in once {
        let repeated = arrow_select::concat::concat_batches(&b.schema(), std::iter::repeat_n(&b, copies))?;
        unit.push((table, repeated));
    }
    Ok(vec![unit])
}

#[derive(clap::Args, Debug)]
pub struct CeilingArgs {
    /// Rows to insert per round (rounded up to whole inserts).
    #[arg(long, default_value_t = 2_000_000)]
    rows: u64,
    /// Whose rows: the input they come from.
    #[arg(long, value_enum, default_value = "k6")]
    shape: Shape,
    /// Rows per Arrow batch (one insert each, per table).
    #[arg(long, default_value_t = 100_000)]
    batch_rows: usize,
    /// Measured rounds of `--rows` each (the tables emptied between them); the median is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Rounds before those, not counted: the engine's first inserts into a fresh process are
    /// markedly slower (its allocator and caches are cold).
    #[arg(long, default_value_t = 1)]
    warmup_rounds: usize,
    /// The fixtures folder (the repository's `fixtures/`), for the captured bodies.
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    /// Where the temporary store goes (default: the system's temp directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub async fn run(config: &Config, args: CeilingArgs) -> anyhow::Result<i32> {
    let dir = match args.dir.clone() {
        Some(d) => Some(crate::bench_cmd::bench_dir(Some(d))?),
        None => None,
    };
    let config = config.clone();
    let json = args.json;
    let step = tokio::task::spawn_blocking(move || ceiling(&config, &args, dir)).await??;
    crate::bench_cmd::emit(&step, json)?;
    Ok(0)
}

/// Inserts about `rows` rows of the shape per round into a fresh store, the warm-up rounds then
/// the measured ones (the tables emptied between rounds); reports the median rate of the
/// measured rounds.
fn ceiling(config: &Config, args: &CeilingArgs, dir: Option<PathBuf>) -> anyhow::Result<StepResult> {
    use chute_store::embedded::close_engine;
    let (shape, rows, json) = (args.shape, args.rows, args.json);
    let (batch_rows, warmup_rounds, rounds) = (args.batch_rows.max(1), args.warmup_rounds, args.rounds.max(1));
    let say = |line: String| if json { eprintln!("{line}") } else { println!("{line}") };
    let parent = dir.unwrap_or_else(std::env::temp_dir);
    let root = parent.join(format!("chute-ceiling-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let result = (|| -> anyhow::Result<StepResult> {
        let store = scratch_store(config, root.join("clickhouse"), None)?;
        let t_build = Instant::now();
        let units = units(shape, &store, &args.fixtures, rows, batch_rows)?;
        let build_s = t_build.elapsed().as_secs_f64();
        let per_unit = unit_rows(&units[0]) as u64;
        // Whole units only: a round inserts `rows` rounded up to the unit.
        let inserts_per_round = rows.div_ceil(per_unit) as usize;
        let round_rows: u64 = (0..inserts_per_round).map(|i| unit_rows(&units[i % units.len()]) as u64).sum();
        let arrow_bytes: usize = units[0].iter().map(|(_, b)| b.get_array_memory_size()).sum();
        let mut tables: Vec<&str> = units.iter().flatten().map(|(t, _)| *t).collect();
        tables.sort_unstable();
        tables.dedup();
        let name = shape.as_str();
        // One engine per process, so the rounds share it: the tables are emptied (and their
        // parts dropped) between rounds, and every round's tokens are its own.
        let mut rates: Vec<f64> = Vec::with_capacity(rounds);
        let mut seconds: Vec<f64> = Vec::with_capacity(rounds);
        for round in 0..warmup_rounds + rounds {
            if round > 0 {
                for t in &tables {
                    store.execute(&format!("TRUNCATE TABLE {t} SYNC")).map_err(|e| anyhow::anyhow!(e.message))?;
                }
            }
            let t0 = Instant::now();
            for i in 0..inserts_per_round {
                for (table, b) in &units[i % units.len()] {
                    store
                        .insert(table, b, &format!("bench-ceiling:{round}:{i}:{table}"))
                        .map_err(|e| anyhow::anyhow!("insert {i} into {table}: {}", e.message))?;
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            let mut stored = 0u64;
            for t in &tables {
                let b =
                    store.query(&format!("SELECT count() FROM {t}"), &[]).map_err(|e| anyhow::anyhow!(e.message))?;
                stored += chute_store::rows::value_at(b[0].column(0), 0).as_u64().unwrap_or(0);
            }
            if stored != round_rows {
                bail!("the store holds {stored} rows after inserting {round_rows}");
            }
            let rate = round_rows as f64 / secs;
            let warmup = round < warmup_rounds;
            let which = if warmup {
                format!("warm-up round {}/{warmup_rounds}", round + 1)
            } else {
                format!("round {}/{rounds}", round + 1 - warmup_rounds)
            };
            say(format!(
                "engine ceiling ({name} rows into {}), {which}: {} rows in {inserts_per_round} inserts of {} rows: \
                 {secs:.2} s, {} rows/s (~{:.0} MB/s of Arrow; {} rows stored)",
                tables.join(", "),
                thousands(round_rows),
                thousands(per_unit),
                thousands(rate as u64),
                rate * arrow_bytes as f64 / per_unit as f64 / 1e6,
                thousands(stored),
            ));
            if !warmup {
                rates.push(rate);
                seconds.push(secs);
            }
        }
        let (rate, low, high) = median_low_high(&rates);
        say(format!(
            "engine ceiling ({name} rows): median of {rounds} rounds {} rows/s (lowest {}, highest {})",
            thousands(rate as u64),
            thousands(low as u64),
            thousands(high as u64)
        ));
        Ok(StepResult {
            kind: "ceiling".into(),
            rows: vec![BenchRow {
                scenario: format!("engine ceiling ({name} rows, Arrow ingest)"),
                input: Some(name.into()),
                rows_per_s: rate,
                ratio_to_ceiling: Some(1.0),
                ..Default::default()
            }],
            details: serde_json::json!({
                "shape": name, "tables": tables, "rows": round_rows, "inserts": inserts_per_round,
                "batch_rows": per_unit, "rounds": rounds, "warmup_rounds": warmup_rounds,
                "seconds": seconds, "rows_per_s": rates, "build_seconds": build_s,
                "arrow_bytes_per_batch": arrow_bytes,
            }),
        })
    })();
    close_engine();
    let _ = std::fs::remove_dir_all(&root);
    result
}
