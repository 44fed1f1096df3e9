//! `chute bench nats`: NATS JetStream to committed rows. Starts a `nats-server -js` (temporary
//! store), pre-fills a stream with ~300-byte JSON messages, starts `chute serve` (this binary, a
//! child process, embedded engine) with a consumer on it, and measures messages/s from the first
//! delivery until the consumer's ack floor reaches the last message (chute acks only committed
//! rows). Prints figures; asserts nothing.
//!
//! `--noop-consumer` measures nats-server's side alone: the same stream consumed by a client in
//! this process that pulls and acks every message (explicit acks, as chute does) and does
//! nothing else. No JetStream consumer with explicit acks can beat it on this machine.

use anyhow::{Context, bail};
use async_nats::jetstream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct NatsArgs {
    /// Messages pre-filled into the stream.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// The consumer's batch_size.
    #[arg(long, default_value_t = 20_000)]
    batch_size: u32,
    /// The consumer's max_in_flight.
    #[arg(long, default_value_t = 2)]
    max_in_flight: u32,
    /// Consume with a client in this process that acks every message and does nothing else
    /// (no chute, no decoding, no store): the ceiling nats-server sets for explicit acks.
    #[arg(long)]
    noop_consumer: bool,
    /// Extra setting for the chute started (repeatable), e.g. spool.fsync_interval=5ms. (The
    /// null store cannot serve: a consumer's decoder needs its table's columns.)
    #[arg(long = "server-set", value_name = "KEY=VALUE")]
    server_set: Vec<String>,
    /// Where the temporary NATS store and chute data go (default: the system's temp directory).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const TABLE_SQL: &str = "CREATE TABLE IF NOT EXISTS bench_nats_events (
    ts DateTime64(3, 'UTC'),
    service LowCardinality(String),
    host LowCardinality(String),
    level LowCardinality(String),
    status UInt16,
    duration_ms Float64,
    user_id UInt64,
    message String,
    _nats_stream LowCardinality(String),
    _nats_seq UInt64,
    INDEX nats_seq _nats_seq TYPE minmax GRANULARITY 1
) ENGINE = MergeTree ORDER BY (service, ts)
SETTINGS non_replicated_deduplication_window = 1000;
";

fn message(i: u64) -> Vec<u8> {
    format!(
        r#"{{"ts":"2026-11-23T10:{:02}:{:02}.{:03}Z","service":"checkout-{}","host":"node-{:02}.eu-west-1.internal","level":"{}","status":{},"duration_ms":{}.{:03},"user_id":{},"message":"order {} processed for customer {} with 3 items; payment authorised; inventory reserved; shipping queued"}}"#,
        (i / 60_000) % 60,
        (i / 1000) % 60,
        i % 1000,
        i % 7,
        i % 16,
        if i.is_multiple_of(50) { "warn" } else { "info" },
        if i.is_multiple_of(97) { 500 } else { 200 },
        i % 900,
        i % 1000,
        1_000_000 + i % 100_000,
        i,
        i * 7 % 1_000_003,
    )
    .into_bytes()
}

pub async fn run(a: NatsArgs) -> anyhow::Result<i32> {
    let base =
        a.dir.clone().unwrap_or_else(std::env::temp_dir).join(format!("chute-bench-nats-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base)?;
    let result = bench(&a, &base).await;
    let _ = std::fs::remove_dir_all(&base);
    result
}

async fn bench(a: &NatsArgs, base: &std::path::Path) -> anyhow::Result<i32> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let url = format!("nats://127.0.0.1:{port}");
    let _nats = Kill(
        Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(base.join("nats"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start nats-server (scripts/setup.sh installs it)")?,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        match async_nats::connect(&url).await {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => bail!("nats-server on {url} does not answer: {e}"),
        }
    };
    let js = jetstream::new(client.clone());
    let stream_cfg =
        jetstream::stream::Config { name: "BENCH".into(), subjects: vec!["bench.>".into()], ..Default::default() };
    let t = Instant::now();
    loop {
        match js.create_stream(stream_cfg.clone()).await {
            Ok(_) => break,
            Err(_) if t.elapsed() < Duration::from_secs(10) => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => bail!("cannot create the stream: {e}"),
        }
    }

    let t = Instant::now();
    let mut bytes = 0u64;
    let mut acks = Vec::with_capacity(4096);
    for i in 1..=a.messages {
        let m = message(i);
        bytes += m.len() as u64;
        acks.push(js.publish("bench.events", m.into()).await?);
        if acks.len() == 4096 {
            for f in acks.drain(..) {
                f.await?;
            }
        }
    }
    for f in acks {
        f.await?;
    }
    let fill = t.elapsed();
    let avg = bytes / a.messages.max(1);
    println!(
        "pre-filled {} messages of {avg} bytes on average in {:.1} s ({:.0} msgs/s)",
        a.messages,
        fill.as_secs_f64(),
        a.messages as f64 / fill.as_secs_f64()
    );

    let sql = base.join("table.sql");
    std::fs::write(&sql, TABLE_SQL)?;
    let consumer = format!(
        r#"nats.consumers=[{{servers = ["{url}"], stream = "BENCH", durable = "bench", table = "bench_nats_events", table_sql = "{}", batch_size = {}, max_in_flight = {}, max_wait = "200ms"}}]"#,
        sql.display(),
        a.batch_size,
        a.max_in_flight
    );
    let mut chute = None;
    let mut noop = None;
    if a.noop_consumer {
        noop = Some(tokio::spawn(noop_consume(js.clone(), a.batch_size, a.max_in_flight)));
    } else {
        let mut c = Command::new(std::env::current_exe()?);
        c.arg("--data-dir").arg(base.join("chute"));
        c.args(["serve", "--listen", "127.0.0.1:0", "--set", "otlp.enabled=false", "--set", &consumer]);
        for s in &a.server_set {
            c.args(["--set", s]);
        }
        chute = Some(Kill(c.env("RUST_LOG", "warn").stdout(Stdio::null()).spawn()?));
    }

    // From the first delivery to the ack floor at the last message: every row committed.
    // Bounded: chute exiting, the ack floor standing still for a minute, or 10 minutes end it.
    let mut first: Option<Instant> = None;
    let give_up = Instant::now() + Duration::from_secs(600);
    let (mut floor_seen, mut moved) = (0u64, Instant::now());
    let done = loop {
        if Instant::now() > give_up {
            bail!("the consumer did not ack every message within 10 minutes (ack floor at {floor_seen})");
        }
        if let Some(status) = chute.as_mut().map(|c| c.0.try_wait()).transpose()?.flatten() {
            bail!(
                "chute serve exited ({status}) with the ack floor at {floor_seen} of {}; its log is above",
                a.messages
            );
        }
        if let Some(task) = noop.take_if(|t| t.is_finished()) {
            bail!("the no-op consumer stopped with the ack floor at {floor_seen}: {:?}", task.await);
        }
        if moved.elapsed() > Duration::from_secs(60) {
            bail!("the ack floor stood at {floor_seen} of {} for 60 s", a.messages);
        }
        let info = tokio::time::timeout(Duration::from_secs(5), async {
            let s = js.get_stream("BENCH").await.ok()?;
            let mut c: jetstream::consumer::PullConsumer = s.get_consumer("bench").await.ok()?;
            c.info().await.ok().map(|i| (i.delivered.stream_sequence, i.ack_floor.stream_sequence))
        })
        .await
        .ok()
        .flatten();
        if let Some((delivered, floor)) = info {
            if floor > floor_seen || (delivered > 0 && first.is_none()) {
                (floor_seen, moved) = (floor.max(floor_seen), Instant::now());
            }
            if delivered > 0 && first.is_none() {
                first = Some(Instant::now());
            }
            if floor >= a.messages {
                break Instant::now();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = done.duration_since(first.unwrap_or(done)).as_secs_f64().max(1e-9);
    let rate = a.messages as f64 / took;
    if let Some(task) = noop {
        task.abort();
    }
    let who = if a.noop_consumer { "a no-op consumer (nats-server alone)" } else { "committed rows" };
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "bench": "nats", "messages": a.messages, "avg_message_bytes": avg, "seconds": took,
                "messages_per_second": rate, "mb_per_second": bytes as f64 / took / 1e6,
                "batch_size": a.batch_size, "max_in_flight": a.max_in_flight,
                "noop_consumer": a.noop_consumer, "server_set": a.server_set,
            })
        );
    } else {
        println!(
            "nats -> {who}: {} messages in {took:.2} s = {rate:.0} msgs/s ({:.1} MB/s of JSON), batch_size {}, max_in_flight {}",
            a.messages,
            bytes as f64 / took / 1e6,
            a.batch_size,
            a.max_in_flight
        );
    }
    Ok(0)
}

/// Pulls from the bench's stream with explicit acks and acks every message as it arrives;
/// returns only on an error.
async fn noop_consume(js: jetstream::Context, batch_size: u32, max_in_flight: u32) -> anyhow::Result<()> {
    use futures_core::Stream;
    let stream = js.get_stream("BENCH").await?;
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            // As chute sets it for the same batch size and in-flight batches.
            max_ack_pending: 4 * i64::from(batch_size) * i64::from(max_in_flight),
            ..Default::default()
        })
        .await?;
    let mut messages = Box::pin(consumer.stream().max_messages_per_batch(batch_size as usize).messages().await?);
    while let Some(m) = std::future::poll_fn(|cx| messages.as_mut().poll_next(cx)).await {
        m.map_err(|e| anyhow::anyhow!("{e}"))?.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
    }
    bail!("the message stream ended")
}
