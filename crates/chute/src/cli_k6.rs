//! `chute import`, `chute k6 runs`, `chute k6 summary`: through a running chute's API when one
//! answers, else on the store directly.

use crate::client::{Client, connect};
use crate::local;
use crate::table::{Table, thousands};
use anyhow::{Context, bail};
use chute_config::Config;
use chute_ingest::{ImportRequest, K6Importer};
use chute_k6::summary::SummaryRequest;
use chute_k6::{ImportFormat, MetricType};
use clap::Subcommand;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum K6Command {
    /// List runs, newest first.
    Runs {
        #[arg(long, default_value_t = 50)]
        limit: u64,
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
    /// A run's summary, as k6 prints it at the end of a test.
    Summary {
        run: String,
        /// Extra threshold, METRIC:EXPRESSION, e.g. 'http_req_duration:p(95)<200' (repeatable).
        #[arg(long = "threshold", value_name = "METRIC:EXPR")]
        thresholds: Vec<String>,
        /// A metric's type when the source did not say (InfluxDB, CSV), e.g. orders:counter.
        #[arg(long = "metric-type", value_name = "METRIC:TYPE")]
        metric_types: Vec<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "URL")]
        server: Option<String>,
    },
}

/// Samples per insert of a local `chute import` (at least): just under the engine's own block
/// size (`max_insert_block_size`, 1,048,449 rows), so one insert is one part, and few parts are
/// merged again in the background (see docs/k6.md). Memory: ~350 bytes per sample, for the
/// block being inserted and the next one being decoded.
const LOCAL_IMPORT_ROWS: usize = 1_000_000;

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub async fn import(
    config: &Config,
    files: Vec<PathBuf>,
    run_id: Option<String>,
    replace: bool,
    format: Option<String>,
    json: bool,
    server: Option<String>,
) -> anyhow::Result<i32> {
    let format = match format.as_deref() {
        None => None,
        Some("json") => Some(ImportFormat::Json),
        Some("csv") => Some(ImportFormat::Csv),
        Some(other) => bail!("--format: expected json or csv, got {other:?}"),
    };
    for f in &files {
        if !f.is_file() {
            bail!("{}: no such file", f.display());
        }
    }
    let client = connect(config, server).await?;
    let local = match &client {
        Some(_) => None,
        None => {
            let store = local::open_migrated(config)?;
            // Few large inserts: each insert makes a part, and parts are merged again in the
            // background; an import inserts in blocks of LOCAL_IMPORT_ROWS (or batch.max_rows
            // when larger), decoding the next block while one is inserted.
            let mut import_config = config.clone();
            import_config.batch.max_rows = import_config.batch.max_rows.max(LOCAL_IMPORT_ROWS as u64);
            let pipeline = local::pipeline(&import_config, store.clone())?;
            Some(K6Importer::new(pipeline, store, import_config.batch.max_rows as usize))
        }
    };
    let mut failed = 0;
    for file in files {
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let progress = Arc::new(AtomicU64::new(0));
        let ticker = show_progress(&name, size, progress.clone());
        let result: anyhow::Result<serde_json::Value> = match (&client, &local) {
            (Some(c), _) => {
                let mut q = format!("/api/v1/k6/import?name={}", percent_encode(&name));
                if let Some(r) = &run_id {
                    q.push_str(&format!("&run_id={}", percent_encode(r)));
                }
                if replace {
                    q.push_str("&replace=true");
                }
                if let Some(f) = format {
                    q.push_str(&format!("&format={}", f.as_str()));
                }
                c.post_file(&q, &file, progress.clone()).await
            }
            (None, Some(importer)) => importer
                .import(
                    ImportRequest { path: file.clone(), name: name.clone(), run_id: run_id.clone(), replace, format },
                    progress.clone(),
                )
                .await
                .map(|r| serde_json::to_value(r).unwrap_or_default())
                .map_err(|e| anyhow::anyhow!("{e}")),
            (None, None) => unreachable!("either a server or a local importer"),
        };
        ticker.abort();
        if std::io::stderr().is_terminal() {
            eprint!("\r\x1b[2K");
        }
        if let (Ok(report), Some(c)) = (&result, &client) {
            wait_visible(c, report).await;
        }
        match result {
            Ok(report) => {
                if json {
                    println!("{report}");
                } else {
                    print_report(&report);
                }
            }
            Err(e) => {
                eprintln!("chute: {}: {e:#}", file.display());
                failed += 1;
            }
        }
    }
    if let Some(importer) = local {
        importer.pipeline.shutdown(Duration::from_secs(60)).await;
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// After a remote import the samples are durable in the server's spool; wait (bounded) until
/// the store shows them, so `chute k6 runs` right after the import lists the run.
async fn wait_visible(c: &Client, report: &serde_json::Value) {
    let Some(per_run) = report["samples_per_run"].as_object() else { return };
    let until = std::time::Instant::now() + Duration::from_secs(60);
    for (run, n) in per_run {
        let want = n.as_u64().unwrap_or(0);
        loop {
            let have = c
                .get_json(&format!("/api/v1/k6/runs/{}", percent_encode(run)))
                .await
                .ok()
                .and_then(|r| r["samples"].as_u64())
                .unwrap_or(0);
            if have >= want {
                break;
            }
            if std::time::Instant::now() >= until {
                eprintln!("chute: run {run} is accepted but still being delivered ({have} of {want} samples visible)");
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn show_progress(name: &str, size: u64, read: Arc<AtomicU64>) -> tokio::task::JoinHandle<()> {
    let name = name.to_string();
    tokio::spawn(async move {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let start = std::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let n = read.load(Ordering::Relaxed);
            let pct = if size > 0 { n as f64 * 100.0 / size as f64 } else { 0.0 };
            let width = 30usize;
            let filled = ((pct / 100.0) * width as f64).round() as usize;
            eprint!(
                "\r\x1b[2Kimporting {name} [{}{}] {pct:5.1}%  {:.1} MB/s",
                "#".repeat(filled.min(width)),
                " ".repeat(width - filled.min(width)),
                n as f64 / 1e6 / start.elapsed().as_secs_f64().max(1e-3),
            );
        }
    })
}

fn print_report(r: &serde_json::Value) {
    let runs: Vec<String> = r["run_ids"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let samples = r["samples"].as_u64().unwrap_or(0);
    let secs = r["seconds"].as_f64().unwrap_or(0.0);
    println!(
        "imported {}: {} samples into run {} ({}, {:.2} s, {} samples/s)",
        r["file"].as_str().unwrap_or(""),
        thousands(samples),
        runs.join(", "),
        r["format"].as_str().unwrap_or(""),
        secs,
        thousands(r["samples_per_second"].as_f64().unwrap_or(0.0) as u64),
    );
    if let Some(replaced) = r["replaced"].as_array().filter(|a| !a.is_empty()) {
        let names: Vec<&str> = replaced.iter().filter_map(|v| v.as_str()).collect();
        println!("  replaced what run {} held before", names.join(", "));
    }
}

pub async fn run(config: &Config, command: K6Command) -> anyhow::Result<i32> {
    match command {
        K6Command::Runs { limit, json, server } => {
            let runs: serde_json::Value = match connect(config, server).await? {
                Some(c) => c.get_json(&format!("/api/v1/k6/runs?limit={limit}")).await?,
                None => {
                    let store = local::open_migrated(config)?;
                    // As the server lists them: sample runs and k6 output runs (otlp, prometheus-rw).
                    let runs = tokio::task::spawn_blocking(move || {
                        let mut runs = chute_store::queries::k6::runs(store.as_ref(), limit, 0)?;
                        runs.extend(chute_store::queries::k6_outputs::runs(store.as_ref())?.iter().map(|r| r.info()));
                        runs.sort_by(|a, b| {
                            b.last_sample_us.cmp(&a.last_sample_us).then_with(|| a.run_id.cmp(&b.run_id))
                        });
                        runs.truncate(limit as usize);
                        Ok::<_, chute_store::StoreError>(runs)
                    })
                    .await??;
                    let v: Vec<chute_k6::summary::RunOverview> = runs.into_iter().map(Into::into).collect();
                    serde_json::json!({ "runs": v })
                }
            };
            if json {
                println!("{runs}");
                return Ok(0);
            }
            let mut t = Table::new(&["run", "first sample (UTC)", "duration", "samples", "sources"]);
            for r in runs["runs"].as_array().into_iter().flatten() {
                t.row(vec![
                    r["run_id"].as_str().unwrap_or("").to_string(),
                    r["first_sample"].as_str().unwrap_or("").replace('T', " ").chars().take(19).collect(),
                    format!("{:.1}s", r["duration_s"].as_f64().unwrap_or(0.0)),
                    thousands(r["samples"].as_u64().unwrap_or(0)),
                    r["sources"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(","))
                        .unwrap_or_default(),
                ]);
            }
            print!("{}", t.render());
            Ok(0)
        }
        K6Command::Summary { run, thresholds, metric_types, json, server } => {
            let mut req = SummaryRequest::default();
            for t in &thresholds {
                let (m, e) = chute_k6::thresholds::split_metric_expression(t)
                    .with_context(|| format!("--threshold {t:?}: expected METRIC:EXPRESSION"))?;
                req.thresholds.entry(m.to_string()).or_default().push(e.to_string());
            }
            for mt in &metric_types {
                let (m, t) =
                    mt.split_once(':').with_context(|| format!("--metric-type {mt:?}: expected METRIC:TYPE"))?;
                let t: MetricType = t.parse().map_err(|e| anyhow::anyhow!("--metric-type {mt:?}: {e}"))?;
                req.metric_types.insert(m.to_string(), t);
            }
            match connect(config, server).await? {
                Some(c) => summary_remote(&c, &run, &req, json).await,
                None => {
                    let store = local::open_migrated(config)?;
                    // As the server answers: a sample run, else a k6 output run (otlp, prometheus-rw).
                    let summary =
                        tokio::task::spawn_blocking(move || chute_k6::summary::any_summary(store.as_ref(), &run, &req))
                            .await??;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&summary)?);
                    } else {
                        print!("{}", summary.render_text());
                    }
                    Ok(if summary.thresholds_ok() { 0 } else { 99 })
                }
            }
        }
    }
}

async fn summary_remote(c: &Client, run: &str, req: &SummaryRequest, json: bool) -> anyhow::Result<i32> {
    let mut q = String::new();
    for (m, exprs) in &req.thresholds {
        for e in exprs {
            q.push_str(&format!("&threshold={}", percent_encode(&format!("{m}:{e}"))));
        }
    }
    for (m, t) in &req.metric_types {
        q.push_str(&format!("&metric_type={}", percent_encode(&format!("{m}:{}", t.as_str()))));
    }
    let path = format!("/api/v1/k6/runs/{}/summary?format=json{q}", percent_encode(run));
    let summary = c.get_json(&path).await?;
    let all_ok = summary["thresholds"].as_array().is_none_or(|a| a.iter().all(|t| t["ok"].as_bool().unwrap_or(false)));
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        let text = c.get_text(&format!("/api/v1/k6/runs/{}/summary?format=text{q}", percent_encode(run))).await?;
        print!("{text}");
    }
    // Like k6: exit code 99 when a threshold failed.
    Ok(if all_ok { 0 } else { 99 })
}
