//! NATS JetStream consumers: each `[[nats.consumers]]` entry pulls from a durable consumer,
//! decodes batches (chute-events) into the target table's shape, inserts them into the store and
//! acknowledges them only after the store confirmed the rows.
//!
//! NATS is the durable buffer here, so batches bypass the spool. One fetcher per consumer pulls
//! continuously (pull requests of `batch_size` messages, the next one sent when half of the last
//! arrived) and cuts the flow into batches (full, or `max_wait` after their first message);
//! `max_in_flight` workers take the batches. A batch is
//! 1. reduced by the stream sequences already in hand in this process (a redelivery while the
//!    first delivery is being stored is dropped; the first one's ack or nak settles it) and by
//!    those the table already holds (when it has the `_nats_stream` and `_nats_seq` columns: one
//!    bound-parameter query per batch), so a message redelivered after a crash, to this or
//!    another process, with whatever batch boundaries, is stored once;
//! 2. decoded; an undecodable message is written to `chute_dead_letters` (stream, consumer,
//!    subject, sequence, headers in `context`, the payload base64 in `row`) and then termed;
//! 3. inserted under the token `nats:{stream}:{durable}:{first}-{last}/{count}` (the retry of
//!    the same batch is dropped by the store even without the sequence columns);
//! 4. acked (every message; the batch's last one with a confirmed double ack).
//!
//! A transient store error naks the batch with a delay (exponential backoff from the
//! `delivery.retry_*` settings); rows the store refuses for their content are isolated by
//! bisection and dead-lettered like undecodable messages. While a batch is held (waiting for a
//! worker or being stored), progress acks every AckWait/3 extend its AckWait. The consumer is
//! created when missing with explicit acks, AckWait = `ack_wait` or max(30 s, 10 × max_wait) and
//! MaxAckPending = 4 × batch_size × max_in_flight (room for four processes sharing the durable);
//! an existing consumer keeps its settings.

use crate::AppState;
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use chute_config::{ConfigError, NatsConsumerConfig, NatsDecoder};
use chute_events::{Column, Decoder, Format, Message};
use chute_pipeline::Metrics;
use chute_store::{ErrorKind, Store, StoreError};
use chute_tables::dead_letters::{DEAD_LETTERS, DeadLetter, dead_letters_batch};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Whether every configured stream is reachable, for readiness.
#[derive(Default)]
pub struct NatsStatus {
    consumers: Mutex<Vec<Arc<ConsumerStatus>>>,
}

struct ConsumerStatus {
    name: String,
    reachable: AtomicBool,
    error: Mutex<String>,
}

impl ConsumerStatus {
    fn set(&self, ok: bool, error: &str) {
        self.reachable.store(ok, Ordering::Relaxed);
        if let Ok(mut e) = self.error.lock() {
            *e = error.to_string();
        }
    }
}

impl NatsStatus {
    /// Why chute is not ready because of NATS (None when every stream is reachable).
    pub fn unready_reason(&self) -> Option<String> {
        let list = self.consumers.lock().ok()?;
        let down: Vec<String> = list
            .iter()
            .filter(|c| !c.reachable.load(Ordering::Relaxed))
            .map(|c| {
                let e = c.error.lock().map(|e| e.clone()).unwrap_or_default();
                if e.is_empty() { format!("{}: connecting", c.name) } else { format!("{}: {e}", c.name) }
            })
            .collect();
        (!down.is_empty()).then(|| format!("nats stream unreachable: {}", down.join("; ")))
    }
}

/// One configured consumer, checked.
struct Consumer {
    cfg: NatsConsumerConfig,
    /// `{stream}/{durable}`: the metrics label and the name in logs.
    name: String,
    format: Format,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    status: Arc<ConsumerStatus>,
    retry_base: Duration,
    retry_cap: Duration,
}

fn invalid(i: usize, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: format!("nats.consumers[{i}].{key}"), message: message.into() }
}

/// Names NATS accepts for streams and durables: no whitespace, `.`, `*`, `>`, path separators.
fn is_nats_name(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
}

fn check(i: usize, c: &NatsConsumerConfig) -> Result<Format, ConfigError> {
    if c.servers.is_empty() {
        return Err(invalid(i, "servers", "at least one server URL is needed"));
    }
    if !is_nats_name(&c.stream) {
        return Err(invalid(i, "stream", format!("{:?} is not a stream name", c.stream)));
    }
    if !is_nats_name(&c.durable) {
        return Err(invalid(i, "durable", format!("{:?} is not a consumer name", c.durable)));
    }
    if !chute_store::sql::is_identifier(&c.table) {
        return Err(invalid(i, "table", format!("{:?} is not a table name (letters, digits, _)", c.table)));
    }
    if c.batch_size == 0 {
        return Err(invalid(i, "batch_size", "must be at least 1"));
    }
    if c.max_in_flight == 0 {
        return Err(invalid(i, "max_in_flight", "must be at least 1"));
    }
    let methods = [!c.user.is_empty(), !c.token.is_empty(), !c.nkey.is_empty(), !c.creds_file.is_empty()];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(invalid(i, "user", "set at most one of user/password, token, nkey, creds_file"));
    }
    if c.tls_cert_file.is_empty() != c.tls_key_file.is_empty() {
        let (set, missing) = if c.tls_cert_file.is_empty() {
            ("tls_key_file", "tls_cert_file")
        } else {
            ("tls_cert_file", "tls_key_file")
        };
        return Err(invalid(i, missing, format!("a client certificate needs both files; only {set} is set")));
    }
    for (key, file) in
        [("tls_ca_file", &c.tls_ca_file), ("tls_cert_file", &c.tls_cert_file), ("tls_key_file", &c.tls_key_file)]
    {
        if !file.is_empty() && !std::path::Path::new(file).is_file() {
            return Err(invalid(i, key, format!("{file} is not a readable file")));
        }
    }
    if !c.table_sql.is_empty() && !std::path::Path::new(&c.table_sql).is_file() {
        return Err(invalid(i, "table_sql", format!("{} is not a readable file", c.table_sql)));
    }
    match c.decoder {
        NatsDecoder::Json => Ok(Format::Json),
        NatsDecoder::Protobuf => {
            if c.descriptor_set.is_empty() {
                return Err(invalid(i, "descriptor_set", "the protobuf decoder needs a descriptor set file"));
            }
            if c.message.is_empty() {
                return Err(invalid(i, "message", "the protobuf decoder needs the message's full name"));
            }
            Format::protobuf_from_file(&c.descriptor_set, &c.message)
                .map_err(|e| invalid(i, "descriptor_set", e.to_string()))
        }
    }
}

/// Checks every configured consumer and starts one task per consumer; they stop (after the
/// batch in hand) when `stop` turns true. Nothing here waits for NATS or the store.
pub fn start(state: &Arc<AppState>, stop: watch::Receiver<bool>) -> Result<Vec<JoinHandle<()>>, ConfigError> {
    let mut consumers = Vec::new();
    for (i, cfg) in state.config.nats.consumers.iter().enumerate() {
        let format = check(i, cfg)?;
        let name = format!("{}/{}", cfg.stream, cfg.durable);
        let status = Arc::new(ConsumerStatus {
            name: name.clone(),
            reachable: AtomicBool::new(false),
            error: Mutex::new(String::new()),
        });
        if let Ok(mut l) = state.nats.consumers.lock() {
            l.push(status.clone());
        }
        consumers.push(Arc::new(Consumer {
            cfg: cfg.clone(),
            name,
            format,
            store: state.store.clone(),
            metrics: state.metrics.clone(),
            status,
            retry_base: state.config.delivery.retry_base.get(),
            retry_cap: state.config.delivery.retry_cap.get(),
        }));
    }
    Ok(consumers.into_iter().map(|c| tokio::spawn(supervise(c, stop.clone()))).collect())
}

/// Connects, consumes, and on any failure reconnects with backoff, until stopped.
async fn supervise(c: Arc<Consumer>, mut stop: watch::Receiver<bool>) {
    let mut attempt = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        match consume(&c, &mut stop, &mut attempt).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(consumer = %c.name, attempt, error = %e, "nats consumer failed; reconnecting");
                let wait = chute_pipeline::backoff(c.retry_base, c.retry_cap, attempt).max(Duration::from_millis(100));
                attempt = attempt.saturating_add(1);
                if stopped_within(&mut stop, wait).await {
                    return;
                }
            }
        }
    }
}

/// Resolves once `stop` turned true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Waits `d` or until stopped; true when stopped.
async fn stopped_within(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    let woken = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stopped(stop) => true,
    };
    woken || *stop.borrow()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("store task failed: {e}"))
}

async fn connect(c: &Consumer) -> Result<async_nats::Client, String> {
    let cfg = &c.cfg;
    let mut o = async_nats::ConnectOptions::new()
        .name(format!("chute {}", c.name))
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None)
        // The pull keeps up to 1.5 batches on their way (a full subscription drops messages),
        // and a batch's acks queue without waiting for the connection's writer.
        .subscription_capacity((2 * cfg.batch_size as usize).max(65_536))
        .client_capacity(16_384);
    if !cfg.user.is_empty() {
        o = o.user_and_password(cfg.user.clone(), cfg.password.clone());
    }
    if !cfg.token.is_empty() {
        o = o.token(cfg.token.clone());
    }
    if !cfg.nkey.is_empty() {
        o = o.nkey(cfg.nkey.clone());
    }
    if !cfg.creds_file.is_empty() {
        o = o.credentials_file(&cfg.creds_file).await.map_err(|e| format!("creds_file {}: {e}", cfg.creds_file))?;
    }
    if !cfg.tls_ca_file.is_empty() {
        o = o.add_root_certificates(cfg.tls_ca_file.clone().into()).require_tls(true);
    }
    if !cfg.tls_cert_file.is_empty() {
        o = o
            .add_client_certificate(cfg.tls_cert_file.clone().into(), cfg.tls_key_file.clone().into())
            .require_tls(true);
    }
    o.connect(cfg.servers.clone()).await.map_err(|e| format!("cannot connect to {}: {e}", cfg.servers.join(",")))
}

/// The table's decoder, after running `table_sql` when set.
async fn decoder(c: &Arc<Consumer>) -> Result<Arc<Decoder>, String> {
    let c2 = c.clone();
    blocking(move || {
        let cfg = &c2.cfg;
        if !cfg.table_sql.is_empty() {
            let sql = std::fs::read_to_string(&cfg.table_sql).map_err(|e| format!("table_sql {}: {e}", cfg.table_sql))?;
            chute_store::queries::tables::apply_sql_file(c2.store.as_ref(), &sql)
                .map_err(|e| format!("table_sql {}: {e}", cfg.table_sql))?;
        }
        let cols = chute_store::queries::tables::insert_columns(c2.store.as_ref(), &cfg.table)
            .map_err(|e| format!("table {}: {e}", cfg.table))?;
        let cols: Vec<Column> = cols.iter().map(|(n, t)| Column::new(n, t)).collect();
        let json_column = (!cfg.json_column.is_empty()).then_some(cfg.json_column.as_str());
        let d = Decoder::new(&cols, c2.format.clone(), json_column).map_err(|e| format!("table {}: {e}", cfg.table))?;
        if !d.has_sequence_columns() {
            tracing::warn!(
                consumer = %c2.name, table = %cfg.table,
                "table has no _nats_stream/_nats_seq columns: a redelivery with other batch boundaries can store a message twice"
            );
        }
        Ok(Arc::new(d))
    })
    .await?
}

async fn consume(c: &Arc<Consumer>, stop: &mut watch::Receiver<bool>, attempt: &mut u32) -> Result<(), String> {
    let client = connect(c).await.inspect_err(|e| c.status.set(false, e))?;
    let js = jetstream::new(client.clone());
    let stream = js.get_stream(&c.cfg.stream).await.map_err(|e| {
        let m = format!("stream {}: {e}", c.cfg.stream);
        c.status.set(false, &m);
        m
    })?;
    let ack_wait = match c.cfg.ack_wait.get() {
        d if d.is_zero() => Duration::from_secs(30).max(c.cfg.max_wait.get() * 10),
        d => d,
    };
    let config = jetstream::consumer::pull::Config {
        durable_name: Some(c.cfg.durable.clone()),
        filter_subject: c.cfg.filter_subject.clone(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait,
        max_ack_pending: 4 * i64::from(c.cfg.batch_size) * i64::from(c.cfg.max_in_flight),
        max_batch: 0,
        ..Default::default()
    };
    let consumer: PullConsumer = stream.get_or_create_consumer(&c.cfg.durable, config).await.map_err(|e| {
        let m = format!("consumer {}: {e}", c.name);
        c.status.set(false, &m);
        m
    })?;
    c.status.set(true, "");
    let decoder = decoder(c).await?;
    tracing::info!(consumer = %c.name, table = %c.cfg.table, "nats consumer running");
    *attempt = 0;

    let failed = Arc::new(tokio::sync::Notify::new());
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(watch_lag(c.clone(), consumer.clone(), stop.clone(), failed.clone()));
    // One fetcher cuts the continuous pull into batches; `max_in_flight` workers store them.
    let (batches, rx) = tokio::sync::mpsc::channel::<Vec<Fetched>>(1);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let in_hand: Arc<Mutex<SeqSet>> = Arc::default();
    let fetcher = Fetcher { c: c.clone(), consumer: consumer.clone(), ack_wait, in_hand: in_hand.clone() };
    {
        let (stop, failed) = (stop.clone(), failed.clone());
        tasks.spawn(async move {
            if let Err(e) = fetcher.run(batches, stop).await {
                tracing::warn!(consumer = %fetcher.c.name, error = %e, "nats fetch failed");
                failed.notify_one();
            }
        });
    }
    for _ in 0..c.cfg.max_in_flight {
        let w = Worker {
            c: c.clone(),
            client: client.clone(),
            decoder: decoder.clone(),
            ack_wait,
            in_hand: in_hand.clone(),
            naks: AtomicU32::new(0),
        };
        let (rx, failed) = (rx.clone(), failed.clone());
        tasks.spawn(async move {
            if let Err(e) = w.run(rx).await {
                tracing::warn!(consumer = %w.c.name, error = %e, "nats batch loop failed");
                failed.notify_one();
            }
        });
    }
    tokio::select! {
        _ = stopped(stop) => {
            // The fetcher stops; workers store the batches already handed over, then end.
            while tasks.join_next().await.is_some() {}
            let _ = client.flush().await;
            Ok(())
        }
        _ = failed.notified() => {
            tasks.abort_all();
            Err("the connection or consumer failed".into())
        }
    }
}

/// Keeps the lag gauges and the reachability flag current.
async fn watch_lag(
    c: Arc<Consumer>,
    mut consumer: PullConsumer,
    mut stop: watch::Receiver<bool>,
    failed: Arc<tokio::sync::Notify>,
) {
    let l = [("consumer", c.name.as_str())];
    let pending = c.metrics.gauge("chute_nats_pending", "messages in the stream not yet delivered to the consumer", &l);
    let ack_pending =
        c.metrics.gauge("chute_nats_ack_pending", "messages delivered to the consumer and not yet acknowledged", &l);
    let redelivered =
        c.metrics.gauge("chute_nats_redelivered", "messages delivered more than once and not yet acknowledged", &l);
    let ack_floor =
        c.metrics.gauge("chute_nats_ack_floor", "stream sequence up to which every message is acknowledged", &l);
    let reachable = c.metrics.gauge("chute_nats_reachable", "1 while the consumer's stream answers", &l);
    let mut failures = 0u32;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), consumer.info()).await {
            Ok(Ok(info)) => {
                pending.set(info.num_pending as f64);
                ack_pending.set(info.num_ack_pending as f64);
                redelivered.set(info.num_redelivered as f64);
                ack_floor.set(info.ack_floor.stream_sequence as f64);
                reachable.set(1.0);
                c.status.set(true, "");
                failures = 0;
            }
            other => {
                let e = match other {
                    Ok(Err(e)) => e.to_string(),
                    _ => "consumer info timed out".to_string(),
                };
                reachable.set(0.0);
                c.status.set(false, &format!("consumer {}: {e}", c.name));
                failures += 1;
                if failures >= 3 {
                    failed.notify_one();
                    return;
                }
            }
        }
        if stopped_within(&mut stop, Duration::from_millis(500)).await {
            return;
        }
    }
}

/// A delivered message with its stream sequence and publish time (from its reply subject).
struct Fetched {
    msg: jetstream::Message,
    seq: u64,
    published_ns: i64,
}

/// Sends `kind` for every message (fire and forget; the connection keeps their order).
async fn ack_all(batch: &[Fetched], kind: AckKind) {
    for f in batch {
        let _ = f.msg.ack_with(kind).await;
    }
}

/// Pulls continuously (`batch_size` messages per pull request, the next one sent when half of
/// the last has arrived) and cuts the flow into batches: full, or `max_wait` after their first
/// message. A message whose sequence is already in hand (a redelivery while its first delivery
/// is being stored) is dropped: the first delivery's ack or nak settles the sequence.
struct Fetcher {
    c: Arc<Consumer>,
    consumer: PullConsumer,
    ack_wait: Duration,
    /// Stream sequences of the messages handed to workers and not yet acked, termed or nak'd.
    in_hand: Arc<Mutex<SeqSet>>,
}

impl Fetcher {
    async fn run(
        &self,
        batches: tokio::sync::mpsc::Sender<Vec<Fetched>>,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), String> {
        use futures_util::StreamExt;
        let c = &self.c;
        let size = c.cfg.batch_size as usize;
        let max_wait = c.cfg.max_wait.get().max(Duration::from_millis(1));
        let mut messages = self
            .consumer
            .stream()
            .max_messages_per_batch(size)
            .expires(PULL_EXPIRES)
            .messages()
            .await
            .map_err(|e| format!("pull: {e}"))?;
        let fetched = |m: Result<jetstream::Message, _>| -> Result<Fetched, String> {
            let m = m.map_err(|e: jetstream::consumer::pull::MessagesError| format!("pull: {e}"))?;
            let (seq, published_ns) =
                m.info().map(|i| (i.stream_sequence, i.published.unix_timestamp_nanos() as i64)).unwrap_or((0, 0));
            Ok(Fetched { msg: m, seq, published_ns })
        };
        loop {
            let mut batch: Vec<Fetched> = Vec::with_capacity(size);
            tokio::select! {
                m = messages.next() => match m {
                    Some(m) => batch.push(fetched(m)?),
                    None => return Err("the pull stream ended".into()),
                },
                _ = stopped(&mut stop) => return Ok(()),
            }
            let deadline = tokio::time::Instant::now() + max_wait;
            while batch.len() < size {
                tokio::select! {
                    biased;
                    m = messages.next() => match m {
                        Some(m) => batch.push(fetched(m)?),
                        None => return Err("the pull stream ended".into()),
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
            if let Ok(mut held) = self.in_hand.lock() {
                batch.retain(|f| f.seq == 0 || held.insert(f.seq));
            }
            if batch.is_empty() {
                continue;
            }
            // Wait for a free worker; keep the batch ours meanwhile.
            let mut tick = tokio::time::interval(self.ack_wait / 3);
            tick.tick().await;
            let mut send = std::pin::pin!(batches.reserve());
            let permit = loop {
                tokio::select! {
                    p = &mut send => break p.ok(),
                    _ = tick.tick() => ack_all(&batch, AckKind::Progress).await,
                    _ = stopped(&mut stop) => break None,
                }
            };
            match permit {
                Some(p) => p.send(batch),
                None => {
                    // Stopping: give the batch back for immediate redelivery.
                    ack_all(&batch, AckKind::Nak(None)).await;
                    release(&self.in_hand, &batch);
                    return Ok(());
                }
            }
        }
    }
}

/// Stream sequences in hand. Sequences are distinct integers: one multiplication spreads them.
type SeqSet = std::collections::HashSet<u64, std::hash::BuildHasherDefault<SeqHasher>>;

#[derive(Default)]
struct SeqHasher(u64);

impl std::hash::Hasher for SeqHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Pull requests expire after this long (a new one follows); the client gives up on a missing
/// expiry notice 5 s later.
const PULL_EXPIRES: Duration = Duration::from_secs(10);

/// The batch's sequences are no longer in hand.
fn release(in_hand: &Mutex<SeqSet>, batch: &[Fetched]) {
    if let Ok(mut held) = in_hand.lock() {
        for f in batch {
            held.remove(&f.seq);
        }
    }
}

struct Worker {
    c: Arc<Consumer>,
    client: async_nats::Client,
    decoder: Arc<Decoder>,
    ack_wait: Duration,
    in_hand: Arc<Mutex<SeqSet>>,
    /// Consecutive failed batches, for the nak delay.
    naks: AtomicU32,
}

/// What happens to a batch's messages.
struct Outcome {
    /// Messages whose rows are stored (or were already): ack.
    ack: Vec<usize>,
    /// Undecodable or refused messages, dead-lettered: term.
    term: Vec<usize>,
    duplicates: u64,
}

impl Worker {
    /// Takes batches from the fetcher until it is gone (stopped) and every batch is handled.
    async fn run(
        &self,
        batches: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Vec<Fetched>>>>,
    ) -> Result<(), String> {
        loop {
            let batch = batches.lock().await.recv().await;
            let Some(batch) = batch else { return Ok(()) };
            let batch = Arc::new(batch);
            let r = self.handle(batch.clone()).await;
            release(&self.in_hand, &batch);
            r?;
        }
    }

    async fn handle(&self, batch: Arc<Vec<Fetched>>) -> Result<(), String> {
        let c = &self.c;
        let l = [("consumer", c.name.as_str())];
        let work = {
            let (c, batch, decoder) = (c.clone(), batch.clone(), self.decoder.clone());
            tokio::task::spawn_blocking(move || store_batch(&c, &decoder, &batch))
        };
        // Progress acks keep the batch ours while the store works.
        let mut work = std::pin::pin!(work);
        let mut tick = tokio::time::interval(self.ack_wait / 3);
        tick.tick().await;
        let result = loop {
            tokio::select! {
                r = &mut work => break r.map_err(|e| format!("store task failed: {e}"))?,
                _ = tick.tick() => ack_all(&batch, AckKind::Progress).await,
            }
        };
        match result {
            Ok(out) => {
                self.naks.store(0, Ordering::Relaxed);
                for &i in &out.term {
                    let _ = batch[i].msg.ack_with(AckKind::Term).await;
                }
                if let Some((&last, rest)) = out.ack.split_last() {
                    for &i in rest {
                        batch[i].msg.ack().await.map_err(|e| format!("ack: {e}"))?;
                    }
                    // Confirmed by the server: the acks before it on this connection went first.
                    batch[last].msg.double_ack().await.map_err(|e| format!("ack: {e}"))?;
                }
                self.client.flush().await.map_err(|e| format!("flush: {e}"))?;
                let count = |outcome: &str, n: u64| {
                    c.metrics
                        .counter(
                            "chute_nats_messages_total",
                            "nats messages handled, by outcome",
                            &[l[0], ("outcome", outcome)],
                        )
                        .fetch_add(n, Ordering::Relaxed);
                };
                count("stored", out.ack.len() as u64 - out.duplicates);
                count("duplicate", out.duplicates);
                count("dead_lettered", out.term.len() as u64);
                Ok(())
            }
            Err(e) => {
                let n = self.naks.fetch_add(1, Ordering::Relaxed);
                let delay = chute_pipeline::backoff(c.retry_base, c.retry_cap, n).max(c.retry_base);
                if n == 0 || n.is_multiple_of(20) {
                    tracing::warn!(consumer = %c.name, messages = batch.len(), error = %e, delay_ms = delay.as_millis() as u64, "store failed; batch nak'd for redelivery");
                }
                ack_all(&batch, AckKind::Nak(Some(delay))).await;
                let _ = self.client.flush().await;
                c.metrics
                    .counter(
                        "chute_nats_messages_total",
                        "nats messages handled, by outcome",
                        &[l[0], ("outcome", "nakd")],
                    )
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                // Do not take another batch before the store had a moment.
                tokio::time::sleep(delay).await;
                Ok(())
            }
        }
    }
}

/// Stores a batch (blocking): drops what the table already holds, dead-letters undecodable
/// messages, inserts the rest. An error means nothing of the batch may be acked.
fn store_batch(c: &Consumer, decoder: &Decoder, fetched: &[Fetched]) -> Result<Outcome, StoreError> {
    let cfg = &c.cfg;
    let infos: Vec<(u64, i64)> = fetched.iter().map(|f| (f.seq, f.published_ns)).collect();
    let batch: Vec<&jetstream::Message> = fetched.iter().map(|f| &f.msg).collect();
    let batch = &batch[..];
    // 1. What the table already holds (a redelivery after an insert whose ack was lost).
    let mut fresh: Vec<usize> = (0..batch.len()).collect();
    let mut duplicates = 0u64;
    if decoder.has_sequence_columns() {
        let lo = infos.iter().map(|i| i.0).min().unwrap_or(0);
        let hi = infos.iter().map(|i| i.0).max().unwrap_or(0);
        let seen = chute_store::queries::tables::stored_sequences(c.store.as_ref(), &cfg.table, &cfg.stream, lo, hi)?;
        if !seen.is_empty() {
            fresh.retain(|&i| seen.binary_search(&infos[i].0).is_err());
            duplicates = (batch.len() - fresh.len()) as u64;
        }
    }
    let messages: Vec<Message<'_>> = fresh
        .iter()
        .map(|&i| Message {
            payload: &batch[i].payload,
            stream: &cfg.stream,
            seq: infos[i].0,
            subject: batch[i].subject.as_str(),
            published_ns: infos[i].1,
        })
        .collect();
    // 2. Decode; undecodable messages go to the dead letters first (then they are termed).
    let decoded = decoder.decode(&messages);
    let mut term = Vec::new();
    for (k, why) in &decoded.rejected {
        let i = fresh[*k];
        dead_letter(c, batch[i], infos[i].0, why, 0)?;
        term.push(i);
    }
    // 3. Insert under the batch's token; refused rows are isolated and dead-lettered.
    let rows: Vec<usize> = decoded.rows.iter().map(|&k| fresh[k]).collect();
    if !rows.is_empty() {
        let first = infos[rows[0]].0;
        let last = infos[rows[rows.len() - 1]].0;
        let token = format!("nats:{}:{}:{first}-{last}/{}", cfg.stream, cfg.durable, rows.len());
        insert_or_isolate(c, batch, &infos, &decoded.batch, &rows, &token, &mut term)?;
    }
    let termed: std::collections::HashSet<usize> = term.iter().copied().collect();
    let ack = (0..batch.len()).filter(|i| !termed.contains(i)).collect();
    Ok(Outcome { ack, term, duplicates })
}

/// Inserts `rows` (the batch's messages of each row); when the store refuses the content,
/// halves until the refused messages are alone and dead-letters them.
fn insert_or_isolate(
    c: &Consumer,
    batch: &[&jetstream::Message],
    infos: &[(u64, i64)],
    data: &arrow_array::RecordBatch,
    rows: &[usize],
    token: &str,
    term: &mut Vec<usize>,
) -> Result<(), StoreError> {
    match c.store.insert(&c.cfg.table, data, token) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.kind, ErrorKind::Data | ErrorKind::Schema) => {
            if rows.len() == 1 {
                dead_letter(c, batch[rows[0]], infos[rows[0]].0, &e.message, e.code.unwrap_or(0))?;
                term.push(rows[0]);
                return Ok(());
            }
            let half = rows.len() / 2;
            insert_or_isolate(c, batch, infos, &data.slice(0, half), &rows[..half], &format!("{token}/0"), term)?;
            insert_or_isolate(
                c,
                batch,
                infos,
                &data.slice(half, rows.len() - half),
                &rows[half..],
                &format!("{token}/1"),
                term,
            )
        }
        Err(e) => Err(e),
    }
}

fn dead_letter(c: &Consumer, m: &jetstream::Message, seq: u64, error: &str, code: i32) -> Result<(), StoreError> {
    use base64::Engine as _;
    let headers = m.headers.as_ref().map(|h| {
        let map: serde_json::Map<String, serde_json::Value> = h
            .iter()
            .map(|(k, v)| {
                let vals: Vec<serde_json::Value> = v.iter().map(|x| serde_json::Value::String(x.to_string())).collect();
                (k.to_string(), serde_json::Value::Array(vals))
            })
            .collect();
        serde_json::Value::Object(map).to_string()
    });
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let row = DeadLetter {
        time_ms: now_ms,
        table: c.cfg.table.clone(),
        source: "nats".into(),
        error_code: code,
        error: error.to_string(),
        row: base64::engine::general_purpose::STANDARD.encode(&m.payload),
        context: vec![
            ("stream".into(), c.cfg.stream.clone()),
            ("consumer".into(), c.cfg.durable.clone()),
            ("subject".into(), m.subject.to_string()),
            ("sequence".into(), seq.to_string()),
            ("headers".into(), headers.unwrap_or_else(|| "{}".into())),
        ],
    };
    tracing::warn!(consumer = %c.name, seq, error, "nats message dead-lettered and termed");
    // One insert per message under a token of its own: a redelivery stores it once.
    let token = format!("nats-dead:{}:{}:{seq}", c.cfg.stream, c.cfg.durable);
    c.store.insert(DEAD_LETTERS.name, &dead_letters_batch(&[row]), &token)
}
