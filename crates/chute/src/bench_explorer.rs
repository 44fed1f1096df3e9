//! `chute bench explorer`: what the telemetry explorer costs and how fast it answers. Prints
//! figures only (no pass/fail): Arrow ingest of `otel_logs` batches without and with the catalog
//! (the attribute catalog feed and log-pattern rows chute computes at ingest, and the services
//! view), then the latency of the `/attributes` and `/logs/patterns` queries over the whole
//! generated log set.

use crate::table::thousands;
use anyhow::Context;
use chute_config::Config;
use chute_store::Store;
use chute_store::queries::explorer::{self, Filters, Page};
use chute_tables::otel::{LogRow, LogsBuilder};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct ExplorerArgs {
    /// Log records ingested in total (the query latencies are measured over all of them).
    #[arg(long, default_value_t = 10_000_000)]
    logs: u64,
    /// Records measured without and then with the catalog.
    #[arg(long, default_value_t = 2_000_000)]
    compare: u64,
    /// Records per Arrow batch (one insert each).
    #[arg(long, default_value_t = 100_000)]
    batch_rows: usize,
    /// Where the temporary store goes (default: the system's temp directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Times each query is run.
    #[arg(long, default_value_t = 20)]
    repeat: usize,
}

const SERVICES: [&str; 5] = ["checkout", "payments", "search", "auth", "inventory"];
const ROUTES: [&str; 20] = [
    "/",
    "/cart",
    "/login",
    "/logout",
    "/search",
    "/items",
    "/items/{id}",
    "/orders",
    "/orders/{id}",
    "/pay",
    "/refund",
    "/profile",
    "/settings",
    "/help",
    "/health",
    "/api/v1/a",
    "/api/v1/b",
    "/api/v1/c",
    "/api/v2/a",
    "/api/v2/b",
];

/// One batch of realistic log records: 3 resource and 4 record attributes (user.id 1 of 100,000,
/// request.id unique), ~60-byte bodies from 12 templates.
fn log_batch(rows: usize, seed: usize) -> arrow_array::RecordBatch {
    let mut b = LogsBuilder::new();
    let t0: i64 = 1_795_433_093_000_000_000;
    for j in 0..rows {
        let i = seed * rows + j;
        let svc = SERVICES[i % SERVICES.len()];
        let host = format!("{svc}-{}", i % 10);
        let user = format!("user-{}", (i * 7919) % 100_000);
        b.resource_attributes.insert("service.name", svc);
        b.resource_attributes.insert("host.name", &host);
        b.resource_attributes.insert("deployment.environment.name", "prod");
        b.log_attributes.insert("user.id", &user);
        b.log_attributes.insert("http.route", ROUTES[i % ROUTES.len()]);
        b.log_attributes.insert("http.status_code", &(200 + i % 17).to_string());
        b.log_attributes.insert("request.id", &format!("{i:016x}"));
        let body = match i % 12 {
            0 => format!("user {user} logged in from 10.0.{}.{}", i % 256, i % 200),
            1 => format!("GET /items/{i} returned {} in {}ms", 200 + i % 17, i % 900),
            2 => format!("payment {i:08x}-1b4d-4e8f-9a6b-{:012x} declined: insufficient funds", i * 31),
            3 => "cache warmed".to_string(),
            4 => format!("slow query took {}ms rows={}", i % 5000, i % 1000),
            5 => format!("connection to db-{}:5432 reset by peer", i % 4),
            6 => format!("job {} finished in {}.{}s", i % 9999, i % 60, i % 10),
            7 => format!("order {i} shipped to customer {user}"),
            8 => format!("retrying request {i:x} attempt {}", i % 5),
            9 => format!("cache miss for key \"session:{i}\""),
            10 => "health check ok".to_string(),
            _ => format!("queue depth {} above threshold {}", i % 1000, 500),
        };
        let (sev, num) = if i % 12 == 2 { ("ERROR", 17) } else { ("INFO", 9) };
        b.end_row(&LogRow {
            timestamp_ns: t0 + i as i64 * 100_000,
            severity_text: sev,
            severity_number: num,
            service_name: svc,
            body: &body,
            scope_name: "bench",
            ..Default::default()
        });
    }
    b.finish()
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub async fn run(config: &Config, a: ExplorerArgs) -> anyhow::Result<i32> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || bench(&config, a)).await??;
    Ok(0)
}

fn bench(config: &Config, a: ExplorerArgs) -> anyhow::Result<()> {
    use chute_store::embedded::{EmbeddedStore, close_engine};
    let batch_rows = a.batch_rows.max(1);
    let t = Instant::now();
    let batches: Vec<_> = (0..10).map(|s| log_batch(batch_rows, s)).collect();
    println!(
        "built 10 distinct batches of {} log records in {:.2} s",
        thousands(batch_rows as u64),
        t.elapsed().as_secs_f64()
    );

    // Pattern extraction alone (CPU, no store).
    let t = Instant::now();
    let mut pattern_rows = 0;
    for b in &batches {
        pattern_rows += chute_patterns::batch::log_patterns(b).map(|p| p.num_rows()).unwrap_or(0);
    }
    let secs = t.elapsed().as_secs_f64();
    let n = (batches.len() * batch_rows) as f64;
    println!(
        "log patterns at ingest: {} records/s on one core ({:.0} ns per record; {} pattern rows for {} records)",
        thousands((n / secs) as u64),
        secs * 1e9 / n,
        pattern_rows,
        thousands(n as u64)
    );

    // The attribute catalog feed alone (CPU, no store): every value new, then every value known.
    let cpu_seen = chute_patterns::catalog::SeenValues::new(chute_patterns::catalog::MAX_REMEMBERED_VALUES);
    for pass in ["every value new", "every value already sent"] {
        let t = Instant::now();
        let mut feed_rows = 0;
        let mut pending = Vec::new();
        for b in &batches {
            if let Some(f) = chute_patterns::catalog::attribute_feed("otel_logs", b, &cpu_seen) {
                feed_rows += f.batch.num_rows();
                pending.push(f.pending);
            }
        }
        let secs = t.elapsed().as_secs_f64();
        for p in pending {
            cpu_seen.remember(&p);
        }
        println!(
            "attribute catalog feed at ingest ({pass}): {} records/s on one core ({:.0} ns per record; {} feed rows)",
            thousands((n / secs) as u64),
            secs * 1e9 / n,
            thousands(feed_rows as u64)
        );
    }

    let parent = a.dir.clone().unwrap_or_else(std::env::temp_dir);
    let root = parent.join(format!("chute-bench-explorer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let result = (|| -> anyhow::Result<()> {
        let store = crate::bench_cmd::scratch_store(config, root.join("clickhouse"), Some(4))?;
        let mut token = 0usize;
        let seen = chute_patterns::catalog::SeenValues::new(chute_patterns::catalog::MAX_REMEMBERED_VALUES);
        // Seconds spent per step: logs insert, pattern rows (derive, insert), catalog feed
        // (derive, insert).
        let mut spent = [0f64; 5];
        let mut ingest =
            |store: &EmbeddedStore, rows: u64, catalog: bool, spent: &mut [f64; 5]| -> anyhow::Result<f64> {
                let (mut left, t0) = (rows, Instant::now());
                let err = |e: chute_store::StoreError| anyhow::anyhow!(e.message);
                while left > 0 {
                    let b = &batches[token % batches.len()];
                    let b = if (b.num_rows() as u64) > left { b.slice(0, left as usize) } else { b.clone() };
                    let t = Instant::now();
                    store.insert("otel_logs", &b, &format!("bench-explorer:{token}")).map_err(err)?;
                    spent[0] += t.elapsed().as_secs_f64();
                    if catalog {
                        let t = Instant::now();
                        let p = chute_patterns::batch::log_patterns(&b);
                        spent[1] += t.elapsed().as_secs_f64();
                        let t = Instant::now();
                        if let Some(p) = p {
                            store.insert("otel_log_patterns", &p, &format!("bench-explorer-p:{token}")).map_err(err)?;
                        }
                        spent[2] += t.elapsed().as_secs_f64();
                        let t = Instant::now();
                        let f = chute_patterns::catalog::attribute_feed("otel_logs", &b, &seen);
                        spent[3] += t.elapsed().as_secs_f64();
                        let t = Instant::now();
                        if let Some(f) = f {
                            let token = format!("bench-explorer-c:{token}");
                            store.insert("otel_attribute_catalog_feed", &f.batch, &token).map_err(err)?;
                            seen.remember(&f.pending);
                        }
                        spent[4] += t.elapsed().as_secs_f64();
                    }
                    left -= b.num_rows() as u64;
                    token += 1;
                }
                Ok(rows as f64 / t0.elapsed().as_secs_f64())
            };
        let compare = a.compare.min(a.logs).max(1);
        let without = ingest(&store, compare, false, &mut spent)?;
        println!("otel_logs ingest without the catalog: {} records/s", thousands(without as u64));
        chute_store::migrations::up(&store, None).context("applying the catalog migrations")?;
        spent = [0.0; 5];
        let with = ingest(&store, compare, true, &mut spent)?;
        println!(
            "otel_logs ingest with the attribute catalog and log patterns: {} records/s ({:.1}% less)",
            thousands(with as u64),
            (1.0 - with / without) * 100.0
        );
        let per = |x: f64| x * 1e9 / compare as f64;
        println!(
            "  per record with the catalog: logs insert {:.0} ns; patterns {:.0} ns derive + {:.0} ns insert; \
             attribute catalog {:.0} ns derive + {:.0} ns insert ({:.1}% of the logs insert)",
            per(spent[0]),
            per(spent[1]),
            per(spent[2]),
            per(spent[3]),
            per(spent[4]),
            (spent[3] + spent[4]) / spent[0] * 100.0
        );
        let rest = a.logs.saturating_sub(2 * compare);
        if rest > 0 {
            let r = ingest(&store, rest, true, &mut spent)?;
            println!("{} more records with the catalog: {} records/s", thousands(rest), thousands(r as u64));
        }
        let q = |sql: &str| -> anyhow::Result<u64> {
            let b = store.query(sql, &[]).map_err(|e| anyhow::anyhow!(e.message))?;
            Ok(chute_store::rows::value_at(b[0].column(0), 0).as_u64().unwrap_or(0))
        };
        println!(
            "stored: {} log records; catalog rows: {} attribute, {} pattern",
            thousands(q("SELECT count() FROM otel_logs")?),
            thousands(q("SELECT count() FROM otel_attribute_catalog")?),
            thousands(q("SELECT count() FROM otel_log_patterns")?)
        );
        let page = Page { limit: 100, offset: 0 };
        for (name, run) in [
            (
                "/api/v1/attributes",
                Box::new(|s: &EmbeddedStore| explorer::attributes(s, &Filters::default(), page).map(|r| r.items.len()))
                    as Box<dyn Fn(&EmbeddedStore) -> Result<usize, chute_store::StoreError>>,
            ),
            (
                "/api/v1/attributes?service=checkout",
                Box::new(|s: &EmbeddedStore| {
                    explorer::attributes(s, &Filters { service: Some("checkout".into()), ..Default::default() }, page)
                        .map(|r| r.items.len())
                }),
            ),
            (
                "/api/v1/logs/patterns",
                Box::new(|s: &EmbeddedStore| {
                    explorer::log_patterns(s, &Filters::default(), page).map(|r| r.items.len())
                }),
            ),
            (
                "/api/v1/logs/patterns?severity=ERROR",
                Box::new(|s: &EmbeddedStore| {
                    explorer::log_patterns(s, &Filters { severity: Some("ERROR".into()), ..Default::default() }, page)
                        .map(|r| r.items.len())
                }),
            ),
        ] {
            let mut times = Vec::new();
            let mut items = 0;
            for _ in 0..a.repeat.max(1) {
                let t = Instant::now();
                items = run(&store).map_err(|e| anyhow::anyhow!(e.message))?;
                times.push(ms(t.elapsed()));
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{name}: median {:.1} ms, max {:.1} ms ({} runs, {items} items)",
                times[times.len() / 2],
                times[times.len() - 1],
                times.len()
            );
        }
        Ok(())
    })();
    close_engine();
    let _ = std::fs::remove_dir_all(&root);
    result
}
