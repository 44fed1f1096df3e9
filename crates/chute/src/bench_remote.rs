//! `chute bench remote`: the cost of going remote. The same k6-shaped Arrow batches are inserted
//! (1) over HTTP into a ClickHouse-compatible server (a child `chute serve` with its ClickHouse
//! HTTP interface on, through `RemoteStore`, as `store.target = "clickhouse"` sends them), and
//! (2) straight into an embedded engine in this process. Prints rows/s of both and their ratio;
//! asserts nothing about timing (it checks the row counts).

use crate::bench_cmd::{BenchRow, StepResult, bench_dir, chute_command, emit, free_port, k6_batches};
use crate::table::thousands;
use anyhow::{Context, bail};
use chute_config::Config;
use chute_store::Store;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct RemoteArgs {
    /// Rows to insert each way.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Rows per insert.
    #[arg(long, default_value_t = 100_000)]
    batch_rows: usize,
    /// Request compression of the remote inserts: lz4, zstd or none.
    #[arg(long, default_value = "lz4")]
    compression: String,
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn say(json: bool, line: String) {
    if json {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
}

pub async fn run(config: &Config, args: RemoteArgs) -> anyhow::Result<i32> {
    let compression = match args.compression.as_str() {
        "lz4" => chute_store::remote::Compression::Lz4,
        "zstd" => chute_store::remote::Compression::Zstd,
        "none" => chute_store::remote::Compression::None,
        other => bail!("--compression {other:?}: use lz4, zstd or none"),
    };
    let batch_rows = args.batch_rows.max(1);
    let root = bench_dir(args.dir.clone())?.join(format!("chute-bench-remote-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let distinct = (args.rows.div_ceil(batch_rows as u64) as usize).min(10);
    let batches = k6_batches((distinct * batch_rows).min(args.rows as usize), batch_rows, "bench-remote");
    let arrow_bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum::<usize>() / batches.len();

    let remote = remote_step(&root.join("server"), &batches, args.rows, compression, args.json).await;
    let config = config.clone();
    let (root2, rows, json) = (root.clone(), args.rows, args.json);
    let embedded = tokio::task::spawn_blocking(move || embedded_step(&config, &root2, &batches, rows, json)).await?;
    let _ = std::fs::remove_dir_all(&root);
    let (remote, embedded) = (remote?, embedded?);
    let ratio = remote / embedded;
    say(
        args.json,
        format!(
            "remote / embedded: {:.2} ({} rows in inserts of {} rows, ~{:.0} MB of Arrow per insert, {} request \
             compression)",
            ratio,
            thousands(args.rows),
            thousands(batch_rows as u64),
            arrow_bytes as f64 / 1e6,
            args.compression
        ),
    );
    let step = StepResult {
        kind: "remote".into(),
        rows: vec![
            BenchRow {
                scenario: format!("remote inserts over HTTP (ArrowStream, {})", args.compression),
                rows_per_s: remote,
                ..Default::default()
            },
            BenchRow { scenario: "embedded inserts (Arrow ingest)".into(), rows_per_s: embedded, ..Default::default() },
        ],
        details: serde_json::json!({
            "rows": args.rows, "batch_rows": batch_rows, "compression": args.compression,
            "remote_to_embedded": ratio, "arrow_bytes_per_batch": arrow_bytes,
        }),
    };
    emit(&step, args.json)?;
    Ok(0)
}

fn insert_all(store: &dyn Store, batches: &[arrow_array::RecordBatch], rows: u64, tag: &str) -> anyhow::Result<f64> {
    let (mut left, mut i) = (rows, 0usize);
    let t0 = Instant::now();
    while left > 0 {
        let b = &batches[i % batches.len()];
        let b = if (b.num_rows() as u64) > left { b.slice(0, left as usize) } else { b.clone() };
        store.insert("k6_samples", &b, &format!("{tag}:{i}")).map_err(|e| anyhow::anyhow!("insert {i}: {e}"))?;
        left -= b.num_rows() as u64;
        i += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    let b = store.query("SELECT count() FROM k6_samples", &[]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let stored = b.first().and_then(|b| chute_store::rows::value_at(b.column(0), 0).as_u64()).unwrap_or(0);
    if stored != rows {
        bail!("{tag}: the store holds {stored} rows after inserting {rows}");
    }
    Ok(rows as f64 / secs)
}

async fn remote_step(
    dir: &Path,
    batches: &[arrow_array::RecordBatch],
    rows: u64,
    compression: chute_store::remote::Compression,
    json: bool,
) -> anyhow::Result<f64> {
    std::fs::create_dir_all(dir)?;
    let ch_port = free_port()?;
    let mut cmd = chute_command(dir)?;
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{}", free_port()?)]);
    for s in [
        "otlp.enabled=false".to_string(),
        "clickhouse_http.enabled=true".into(),
        format!("clickhouse_http.listen=127.0.0.1:{ch_port}"),
    ] {
        cmd.args(["--set", &s]);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().context("cannot start chute serve")?;
    let base = format!("http://127.0.0.1:{ch_port}");
    let result = remote_inserts(&base, batches, rows, compression).await;
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    let rate = result?;
    say(json, format!("remote inserts through chute's ClickHouse HTTP interface: {} rows/s", thousands(rate as u64)));
    Ok(rate)
}

async fn remote_inserts(
    base: &str,
    batches: &[arrow_array::RecordBatch],
    rows: u64,
    compression: chute_store::remote::Compression,
) -> anyhow::Result<f64> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/ping")).send().await
            && r.status().is_success()
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the child chute's ClickHouse HTTP interface did not answer /ping within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let batches = batches.to_vec();
    let endpoint = base.to_string();
    tokio::task::spawn_blocking(move || -> anyhow::Result<f64> {
        let store = chute_store::remote::RemoteStore::open(chute_store::remote::RemoteOptions {
            endpoints: vec![endpoint],
            compression,
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        chute_store::migrations::up(&store, None).context("applying migrations on the remote server")?;
        insert_all(&store, &batches, rows, "bench-remote")
    })
    .await?
}

fn embedded_step(
    config: &Config,
    root: &Path,
    batches: &[arrow_array::RecordBatch],
    rows: u64,
    json: bool,
) -> anyhow::Result<f64> {
    use chute_store::embedded::close_engine;
    let result = (|| {
        let store = crate::bench_cmd::scratch_store(config, root.join("embedded").join("clickhouse"), None)?;
        insert_all(&store, batches, rows, "bench-embedded")
    })();
    close_engine();
    let rate = result?;
    say(json, format!("embedded inserts (direct Arrow ingest): {} rows/s", thousands(rate as u64)));
    Ok(rate)
}
