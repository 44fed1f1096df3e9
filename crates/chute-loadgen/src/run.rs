//! Running the load: the closed model (N connections, each sends, waits for the answer, sends
//! again) and the open model (arrivals at the profile's rate, whatever the answers do; latency
//! from each request's intended send time, so a slow target cannot hide its queueing behind a
//! slowed-down client; an in-flight cap whose overflow is counted), visibility markers, a live
//! progress line and the per-second timeline. Over HTTP a closed-model worker has a connection of
//! its own; over NATS every worker publishes on one multiplexed client and waits for its ack.

use crate::http::{Answer, Conn, Pool, Target};
use crate::nats::{PublishOutcome, Publisher};
use crate::payload::{Message, Outgoing, Payload, PayloadKind, PayloadOptions};
use crate::report::{Latency, Report, Requests, Rows, Tick, Visibility, thousands};
use crate::spec::{Profile, Scenario, Threshold};
use crate::{LoadgenError, build};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// The profile's level is a number of connections.
    Closed,
    /// The profile's level is requests per second.
    Open,
}

impl std::str::FromStr for Model {
    type Err = LoadgenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "closed" => Ok(Model::Closed),
            "open" => Ok(Model::Open),
            other => Err(LoadgenError::Spec(format!("unknown model {other:?} (closed, open)"))),
        }
    }
}

impl Model {
    pub fn as_str(self) -> &'static str {
        match self {
            Model::Closed => "closed",
            Model::Open => "open",
        }
    }
}

/// Everything a run needs.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    pub target: String,
    pub protocol: PayloadKind,
    pub model: Model,
    pub scenario: Scenario,
    pub profile: Profile,
    pub rows_per_request: usize,
    pub bodies: usize,
    /// The run id (testid); None: `lg-<protocol>-<random>`.
    pub run_id: Option<String>,
    /// Open model: requests outstanding at most; arrivals beyond are counted as overflow.
    pub max_in_flight: usize,
    /// A marker every this often; None: no visibility measurement.
    pub visibility_interval: Option<Duration>,
    /// Where markers are polled: chute's main address (its query API). None: the target. The
    /// OTLP kinds send no markers without it, since their target (chute's OTLP/HTTP listener)
    /// answers no queries.
    pub api: Option<String>,
    /// How long a marker may take to become queryable.
    pub visibility_timeout: Duration,
    /// How often a marker's query is repeated until it answers. Each poll is a query the server
    /// runs beside the load being measured, so polling faster perturbs the measurement more; a
    /// visibility latency is over-estimated by at most this much.
    pub visibility_poll: Duration,
    pub request_timeout: Duration,
    pub thresholds: Vec<Threshold>,
    /// A live line on stderr (only shown when stderr is a terminal).
    pub progress: bool,
    /// Where the replayed kinds (otlp-logs, otlp-traces, otlp-metrics, remote-write) find their
    /// captured bodies.
    pub fixtures: std::path::PathBuf,
    /// NATS: the subject published to (a stream must capture it).
    pub subject: String,
}

impl LoadOptions {
    /// Defaults for everything but the target, model and profile.
    pub fn new(target: &str, protocol: PayloadKind, model: Model, profile: Profile) -> Self {
        LoadOptions {
            target: target.to_string(),
            protocol,
            model,
            scenario: Scenario::Custom,
            profile,
            rows_per_request: 5000,
            bodies: 8,
            run_id: None,
            max_in_flight: 512,
            visibility_interval: Some(Duration::from_secs(1)),
            api: None,
            visibility_timeout: Duration::from_secs(30),
            visibility_poll: Duration::from_millis(100),
            request_timeout: Duration::from_secs(60),
            thresholds: Vec::new(),
            progress: true,
            fixtures: std::path::PathBuf::from("fixtures"),
            subject: crate::nats::DEFAULT_SUBJECT.to_string(),
        }
    }
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// A run id nobody used before: `lg-<protocol>-<8 hex digits>`.
pub fn fresh_run_id(protocol: PayloadKind) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ns());
    h.write_u32(std::process::id());
    format!("lg-{}-{:08x}", protocol.as_str().replace("k6-", ""), h.finish() as u32)
}

fn histogram() -> Histogram<u64> {
    // Microseconds, 1 µs to 1 h, 3 significant digits.
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

fn latency_of(h: &Histogram<u64>) -> Option<Latency> {
    if h.is_empty() {
        return None;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    Some(Latency {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p90_ms: ms(h.value_at_quantile(0.90)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        mean_ms: h.mean() / 1000.0,
    })
}

/// Counters shared by every request task.
#[derive(Default)]
struct Stats {
    intended: AtomicU64,
    sent: AtomicU64,
    acked: AtomicU64,
    rejected: AtomicU64,
    retry_after: AtomicU64,
    errors: AtomicU64,
    overflow: AtomicU64,
    rows_sent: AtomicU64,
    rows_acked: AtomicU64,
    rows_rejected: AtomicU64,
    rows_overflow: AtomicU64,
    statuses: Mutex<BTreeMap<u16, u64>>,
    error_examples: Mutex<Vec<String>>,
    ack: Mutex<Option<Histogram<u64>>>,
    /// The current second's acknowledgements (for the timeline).
    ack_tick: Mutex<Option<Histogram<u64>>>,
    markers: AtomicU64,
    markers_acked: AtomicU64,
    visible: Mutex<Option<Histogram<u64>>>,
}

impl Stats {
    fn new() -> Arc<Stats> {
        let s = Stats::default();
        *s.ack.lock().unwrap() = Some(histogram());
        *s.ack_tick.lock().unwrap() = Some(histogram());
        *s.visible.lock().unwrap() = Some(histogram());
        Arc::new(s)
    }

    fn error(&self, e: String) {
        self.errors.fetch_add(1, Relaxed);
        self.example(e);
    }

    /// Keeps `e` as an example (one per leading word pair, five at most).
    fn example(&self, e: String) {
        let mut ex = self.error_examples.lock().unwrap_or_else(|p| p.into_inner());
        // Messages differ in addresses and sizes; keep one per leading word pair.
        let key: String = e.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        if ex.len() < 5 && !ex.iter().any(|x| x.starts_with(&key)) {
            ex.push(e);
        }
    }

    fn acked(&self, rows: u64, latency: Duration) {
        self.acked.fetch_add(1, Relaxed);
        self.rows_acked.fetch_add(rows, Relaxed);
        let us = (latency.as_micros() as u64).max(1);
        if let Some(h) = self.ack.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            h.saturating_record(us);
        }
        if let Some(h) = self.ack_tick.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            h.saturating_record(us);
        }
    }

    /// Records the outcome of a send; returns how long to back off (closed model, after a
    /// rejection).
    fn outcome(&self, o: &Outcome, rows: u64, latency: Duration) -> Option<Duration> {
        match o {
            Outcome::Http(a) => self.answer(a, rows, latency),
            Outcome::Nats(PublishOutcome::Acked) => {
                self.acked(rows, latency);
                None
            }
            Outcome::Nats(PublishOutcome::Rejected(why)) => {
                self.rejected.fetch_add(1, Relaxed);
                self.rows_rejected.fetch_add(rows, Relaxed);
                self.example(format!("rejected: {why}"));
                Some(Duration::from_millis(100))
            }
        }
    }

    /// Records an answer; returns how long to back off (closed model, after a 429).
    fn answer(&self, a: &Answer, rows: u64, latency: Duration) -> Option<Duration> {
        *self.statuses.lock().unwrap_or_else(|p| p.into_inner()).entry(a.status).or_insert(0) += 1;
        match a.status {
            200..=299 => {
                self.acked(rows, latency);
                None
            }
            429 => {
                self.rejected.fetch_add(1, Relaxed);
                self.rows_rejected.fetch_add(rows, Relaxed);
                if a.retry_after.is_some() {
                    self.retry_after.fetch_add(1, Relaxed);
                }
                Some(a.retry_after.unwrap_or(Duration::from_millis(100)))
            }
            s => {
                let text = String::from_utf8_lossy(&a.body[..a.body.len().min(200)]).into_owned();
                self.error(format!("HTTP {s}: {text}"));
                None
            }
        }
    }
}

/// What a send came to.
enum Outcome {
    Http(Answer),
    Nats(PublishOutcome),
}

/// Where messages go: an HTTP target (with the idle connections of the open model and the
/// visibility probes) or a JetStream connection.
#[derive(Clone)]
enum Link {
    Http { target: Target, pool: Arc<Pool> },
    Nats(Publisher),
}

impl Link {
    fn url(&self) -> &str {
        match self {
            Link::Http { target, .. } => &target.url,
            Link::Nats(p) => &p.url,
        }
    }

    /// Sends `m` on a shared connection (the open model).
    async fn send(&self, m: &Message, timeout: Duration) -> Result<Outcome, String> {
        match (self, m) {
            (Link::Http { target, pool }, Message::Http(m)) => pool.send(target, m, timeout).await.map(Outcome::Http),
            (Link::Nats(p), Message::Nats(m)) => p.publish(m, timeout).await.map(Outcome::Nats),
            _ => Err(mismatch()),
        }
    }
}

fn mismatch() -> String {
    "the payload's message does not travel on the target's transport".into()
}

/// Runs the load and returns the report (thresholds judged).
pub async fn run(opts: LoadOptions) -> Result<Report, LoadgenError> {
    if opts.profile.duration().is_zero() {
        return Err(LoadgenError::Spec("the run has no duration (give --duration or --stages)".into()));
    }
    if opts.profile.max_level() <= 0.0 {
        return Err(LoadgenError::Spec("the load level is zero throughout".into()));
    }
    let run_id = opts.run_id.clone().unwrap_or_else(|| fresh_run_id(opts.protocol));
    let payload = build(
        opts.protocol,
        &PayloadOptions {
            rows_per_request: opts.rows_per_request,
            bodies: opts.bodies,
            run_id: run_id.clone(),
            seed: 0x6b36_6c6f_6164 ^ opts.rows_per_request as u64,
            start_ns: now_ns(),
            fixtures: opts.fixtures.clone(),
            subject: opts.subject.clone(),
        },
    )?;
    let link = if opts.protocol.is_nats() {
        Link::Nats(
            Publisher::connect(&opts.target, &opts.subject, opts.request_timeout.min(Duration::from_secs(10))).await?,
        )
    } else {
        Link::Http { target: Target::resolve(&opts.target).await?, pool: Arc::new(Pool::default()) }
    };
    let stats = Stats::new();
    let duration = opts.profile.duration();
    let start = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let monitor = tokio::spawn(monitor(stats.clone(), opts.clone(), start, done.clone()));
    let probed = match (&opts.api, opts.protocol.is_otlp()) {
        (Some(api), _) => Some(Target::resolve(api).await?),
        (None, true) => None,
        (None, false) => match &link {
            Link::Http { target, .. } => Some(target.clone()),
            Link::Nats(_) => None,
        },
    };
    let markers = match (&link, opts.visibility_interval, probed) {
        (Link::Http { target, pool }, Some(every), Some(api)) => Some(tokio::spawn(markers(
            payload.clone(),
            target.clone(),
            api,
            pool.clone(),
            stats.clone(),
            run_id.clone(),
            every,
            opts.visibility_timeout,
            opts.visibility_poll,
            start + duration,
        ))),
        // NATS kinds have no markers (nothing to poll), nor OTLP ones without chute's API.
        _ => None,
    };

    match opts.model {
        Model::Closed => closed(&opts, &link, &payload, &stats, start).await,
        Model::Open => open(&opts, &link, &payload, &stats, start).await,
    }
    let elapsed = start.elapsed();
    done.store(true, Relaxed);
    if let Some(m) = markers {
        let _ = m.await;
    }
    let timeline = monitor.await.unwrap_or_default();

    let statuses =
        stats.statuses.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.to_string(), *v)).collect();
    let requests = Requests {
        intended: stats.intended.load(Relaxed),
        sent: stats.sent.load(Relaxed),
        acked: stats.acked.load(Relaxed),
        rejected: stats.rejected.load(Relaxed),
        retry_after_seen: stats.retry_after.load(Relaxed),
        errors: stats.errors.load(Relaxed),
        overflow: stats.overflow.load(Relaxed),
        statuses,
        error_examples: stats.error_examples.lock().unwrap_or_else(|p| p.into_inner()).clone(),
    };
    let rows_acked = stats.rows_acked.load(Relaxed);
    let rows = Rows {
        sent: stats.rows_sent.load(Relaxed),
        acked: rows_acked,
        rejected: stats.rows_rejected.load(Relaxed),
        overflow: stats.rows_overflow.load(Relaxed),
        per_second: rows_acked as f64 / elapsed.as_secs_f64().max(1e-9),
    };
    let ack_latency = stats.ack.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(latency_of);
    let visible = stats.visible.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|h| h.len()).unwrap_or(0);
    let visibility = Visibility {
        markers: stats.markers.load(Relaxed),
        acked: stats.markers_acked.load(Relaxed),
        visible,
        latency: stats.visible.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(latency_of),
    };
    let open = opts.model == Model::Open;
    let mut report = Report {
        target: link.url().to_string(),
        model: opts.model.as_str().to_string(),
        scenario: opts.scenario.as_str().to_string(),
        payload: payload.info().clone(),
        profile: opts.profile.clone(),
        duration_s: duration.as_secs_f64(),
        elapsed_s: elapsed.as_secs_f64(),
        intended_rate: open.then(|| opts.profile.total_arrivals() / duration.as_secs_f64()),
        max_in_flight: open.then_some(opts.max_in_flight as u64),
        requests,
        rows,
        ack_latency,
        visibility,
        thresholds: Vec::new(),
        thresholds_ok: true,
        timeline,
    };
    report.judge(&opts.thresholds);
    Ok(report)
}

/// Sends `seq`'s message (over HTTP on `conn`, opening it if needed; over NATS on the shared
/// client); records the outcome with latency from `since`. Returns the back-off a 429 or a
/// rejected publish asks for.
async fn exchange(
    conn: &mut Option<Conn>,
    link: &Link,
    payload: &Arc<dyn Payload>,
    stats: &Stats,
    seq: u64,
    since: Instant,
    timeout: Duration,
) -> Option<Duration> {
    let out: Outgoing = payload.message(seq);
    stats.sent.fetch_add(1, Relaxed);
    stats.rows_sent.fetch_add(out.rows, Relaxed);
    let Link::Http { target, .. } = link else {
        return match link.send(&out.message, timeout).await {
            Ok(o) => stats.outcome(&o, out.rows, since.elapsed()),
            Err(e) => {
                stats.error(e);
                Some(Duration::from_millis(50))
            }
        };
    };
    let Message::Http(m) = &out.message else {
        stats.error(mismatch());
        return Some(Duration::from_millis(50));
    };
    let c = match conn {
        Some(c) => c,
        None => match Conn::open(target).await {
            Ok(c) => conn.insert(c),
            Err(e) => {
                stats.error(e);
                return Some(Duration::from_millis(50));
            }
        },
    };
    match c.send(target, m, timeout).await {
        Ok(a) => stats.answer(&a, out.rows, since.elapsed()),
        Err(e) => {
            *conn = None;
            stats.error(e);
            Some(Duration::from_millis(50))
        }
    }
}

async fn closed(opts: &LoadOptions, link: &Link, payload: &Arc<dyn Payload>, stats: &Arc<Stats>, start: Instant) {
    let duration = opts.profile.duration();
    let end = start + duration;
    let seq = Arc::new(AtomicU64::new(0));
    let workers = opts.profile.max_level().ceil().max(1.0) as usize;
    let mut tasks = Vec::with_capacity(workers);
    for i in 0..workers {
        let (link, payload, stats, seq, profile) =
            (link.clone(), payload.clone(), stats.clone(), seq.clone(), opts.profile.clone());
        let timeout = opts.request_timeout;
        tasks.push(tokio::spawn(async move {
            let mut conn: Option<Conn> = None;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                // Worker i runs while the profile asks for more than i connections.
                if i as f64 >= profile.level_at((now - start).as_secs_f64()).round() {
                    conn = None;
                    tokio::time::sleep(Duration::from_millis(20).min(end - now)).await;
                    continue;
                }
                let n = seq.fetch_add(1, Relaxed);
                if let Some(wait) = exchange(&mut conn, &link, &payload, &stats, n, now, timeout).await {
                    let left = end.saturating_duration_since(Instant::now());
                    tokio::time::sleep(wait.min(Duration::from_secs(1)).min(left)).await;
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn open(opts: &LoadOptions, link: &Link, payload: &Arc<dyn Payload>, stats: &Arc<Stats>, start: Instant) {
    let cap = opts.max_in_flight.max(1);
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    let mut k: u64 = 0;
    while let Some(t) = opts.profile.arrival_time(k) {
        let intended = start + Duration::from_secs_f64(t);
        if intended > Instant::now() {
            tokio::time::sleep_until(intended.into()).await;
        }
        stats.intended.fetch_add(1, Relaxed);
        match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                let (link, payload, stats) = (link.clone(), payload.clone(), stats.clone());
                let timeout = opts.request_timeout;
                tokio::spawn(async move {
                    let _permit = permit;
                    let out = payload.message(k);
                    stats.sent.fetch_add(1, Relaxed);
                    stats.rows_sent.fetch_add(out.rows, Relaxed);
                    match link.send(&out.message, timeout).await {
                        // From the intended time: a late send counts against the target.
                        Ok(o) => {
                            stats.outcome(&o, out.rows, intended.elapsed());
                        }
                        Err(e) => stats.error(e),
                    }
                });
            }
            Err(_) => {
                stats.overflow.fetch_add(1, Relaxed);
                stats.rows_overflow.fetch_add(payload.info().rows_per_request, Relaxed);
            }
        }
        k += 1;
    }
    // Wait for the requests in flight (each bounded by the request timeout).
    let _ = slots.acquire_many(cap as u32).await;
}

/// Every `every`, a marker row under a fresh run id, polled until it is queryable. Markers land
/// in the order they were acknowledged (one table, delivered in order), so only the oldest one not
/// seen yet is polled, and when it shows up the next one is asked for at once: one poll at a time
/// however many markers wait, since each poll is a query the server runs beside the load being
/// measured.
#[allow(clippy::too_many_arguments)]
async fn markers(
    payload: Arc<dyn Payload>,
    target: Target,
    api: Target,
    pool: Arc<Pool>,
    stats: Arc<Stats>,
    run_id: String,
    every: Duration,
    timeout: Duration,
    poll: Duration,
    end: Instant,
) {
    let (acked_tx, mut acked) = tokio::sync::mpsc::unbounded_channel::<(crate::payload::VisibilityProbe, Instant)>();
    let send = {
        let (target, pool, stats) = (target.clone(), pool.clone(), stats.clone());
        async move {
            let mut sends = tokio::task::JoinSet::new();
            let mut n = 0u64;
            let mut next = Instant::now() + every.min(Duration::from_millis(500));
            while next < end {
                tokio::time::sleep_until(next.into()).await;
                next += every;
                let id = format!("{run_id}-m{n:05}");
                n += 1;
                let Some((out, probe)) = payload.marker(&id, now_ns()) else { break };
                stats.markers.fetch_add(1, Relaxed);
                let (target, pool, stats, acked_tx) = (target.clone(), pool.clone(), stats.clone(), acked_tx.clone());
                sends.spawn(async move {
                    let sent = Instant::now();
                    let Message::Http(m) = &out.message else { return };
                    if let Ok(a) = pool.send(&target, m, timeout).await
                        && (200..300).contains(&a.status)
                    {
                        stats.markers_acked.fetch_add(1, Relaxed);
                        let _ = acked_tx.send((probe, sent));
                    }
                });
            }
            drop(acked_tx);
            while sends.join_next().await.is_some() {}
        }
    };
    // The API may be another address than the target: connections of its own.
    let api_pool = Pool::default();
    let watch = async move {
        let mut waiting: std::collections::VecDeque<(crate::payload::VisibilityProbe, Instant)> = Default::default();
        loop {
            while let Ok(m) = acked.try_recv() {
                waiting.push_back(m);
            }
            let Some((probe, sent)) = waiting.front() else {
                match acked.recv().await {
                    Some(m) => waiting.push_back(m),
                    None => return,
                }
                continue;
            };
            if let Some(v) = api_pool.get_json(&api, &probe.path, Duration::from_secs(5)).await
                && probe.count(&v) >= probe.at_least
            {
                let us = (sent.elapsed().as_micros() as u64).max(1);
                if let Some(h) = stats.visible.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
                    h.saturating_record(us);
                }
                waiting.pop_front();
                continue;
            }
            if sent.elapsed() >= timeout {
                waiting.pop_front();
                continue;
            }
            tokio::time::sleep(poll).await;
        }
    };
    tokio::join!(send, watch);
}

/// Once a second: a timeline point, and the progress line on a terminal.
async fn monitor(
    stats: Arc<Stats>,
    opts: LoadOptions,
    start: Instant,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> Vec<Tick> {
    let show = opts.progress && std::io::stderr().is_terminal();
    let mut ticks = Vec::new();
    let mut last = Tick::default();
    let mut next = start + Duration::from_secs(1);
    let total = opts.profile.duration().as_secs_f64();
    loop {
        tokio::time::sleep_until(next.into()).await;
        next += Duration::from_secs(1);
        let t = start.elapsed().as_secs_f64();
        let p99 = {
            let mut h = stats.ack_tick.lock().unwrap_or_else(|p| p.into_inner());
            let v = h.as_ref().filter(|h| !h.is_empty()).map(|h| h.value_at_quantile(0.99) as f64 / 1000.0);
            if let Some(h) = h.as_mut() {
                h.reset();
            }
            v
        };
        let now = Tick {
            t_s: t,
            level: opts.profile.level_at(t),
            sent: stats.sent.load(Relaxed),
            acked_rows: stats.rows_acked.load(Relaxed),
            rejected: stats.rejected.load(Relaxed),
            errors: stats.errors.load(Relaxed),
            overflow: stats.overflow.load(Relaxed),
            ack_p99_ms: p99,
        };
        let tick = Tick {
            t_s: t,
            level: now.level,
            sent: now.sent - last.sent,
            acked_rows: now.acked_rows - last.acked_rows,
            rejected: now.rejected - last.rejected,
            errors: now.errors - last.errors,
            overflow: now.overflow - last.overflow,
            ack_p99_ms: p99,
        };
        if show {
            let mut e = std::io::stderr().lock();
            let _ = write!(
                e,
                "\r\x1b[2K{:>5.0}s/{total:.0}s  {} rows/s  acked {} rows  p99 {}  429 {}  errors {}  overflow {}",
                t,
                thousands(tick.acked_rows),
                thousands(now.acked_rows),
                p99.map(|v| format!("{v:.1} ms")).unwrap_or_else(|| "-".into()),
                thousands(now.rejected),
                thousands(now.errors),
                thousands(now.overflow),
            );
            let _ = e.flush();
        }
        ticks.push(tick);
        last = now;
        if done.load(Relaxed) {
            break;
        }
    }
    if show {
        eprint!("\r\x1b[2K");
    }
    ticks
}
