//! The pipeline's promises on the real engine (one engine per test process, cargo-nextest):
//! acknowledged rows are stored exactly once through outages, lost acknowledgements, poison rows,
//! backpressure and shutdown.

use arrow_array::{ArrayRef, Int64Array, RecordBatch, UInt64Array};
use chute_pipeline::{Admission, HealthState, Metrics, Pipeline, PipelineError, PipelineOptions, Receipt};
use chute_pipeline::{BatchLimits, BreakerState, SpoolSettings};
use chute_pipeline::{Derive, DeriveHook, Derived};
use chute_store::embedded::{EmbeddedOptions, EmbeddedStore};
use chute_store::faulty::FaultyStore;
use chute_store::{Store, migrations};
use chute_tables::k6::{SampleRow, SamplesBuilder};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn engine(dir: &Path) -> Arc<FaultyStore<EmbeddedStore>> {
    let store = EmbeddedStore::open(&EmbeddedOptions {
        path: dir.join("engine"),
        ingest_connections: 2,
        query_connections: 2,
        ..Default::default()
    })
    .expect("engine opens (run `make setup`)");
    Arc::new(FaultyStore::new(store))
}

fn options(dir: &Path, spool: bool) -> PipelineOptions {
    PipelineOptions {
        batch: BatchLimits { max_rows: 10_000, max_bytes: 64 << 20, max_age: Duration::from_millis(50) },
        spool: spool.then(|| SpoolSettings {
            dir: dir.join("spool"),
            fsync_interval: Duration::from_millis(2),
            max_bytes: 1 << 30,
        }),
        retry_base: Duration::from_millis(5),
        retry_cap: Duration::from_millis(50),
        breaker_failures: 3,
        breaker_open_for: Duration::from_millis(100),
        max_unflushed_bytes: 256 << 20,
        drop_newest_when_full: false,
        run_migrations: true,
        dedup_tokens: true,
        pause_after_insert: Duration::ZERO,
        derive: None,
    }
}

/// Samples whose `iter` column numbers them, so a test can check every id arrived once.
fn samples(first: u64, n: u64) -> RecordBatch {
    let mut b = SamplesBuilder::new();
    for i in first..first + n {
        b.tags.insert("testid", "pipeline");
        b.end_row(&SampleRow {
            run_id: "pipeline",
            timestamp_us: 1_795_433_093_000_000 + i as i64,
            metric: "http_reqs",
            metric_type: "counter",
            value: 1.0,
            vu: Some(1),
            iter: Some(i),
            source: "test",
        });
    }
    b.finish()
}

fn scalar(store: &dyn Store, sql: &str) -> u64 {
    let b = store.query(sql, &[]).unwrap();
    chute_store::rows::value_at(b[0].column(0), 0).as_u64().unwrap()
}

/// Every id in 0..n stored exactly once.
fn assert_exactly_once(store: &dyn Store, n: u64) {
    assert_eq!(scalar(store, "SELECT count() FROM k6_samples"), n, "row count");
    assert_eq!(scalar(store, "SELECT uniqExact(iter) FROM k6_samples"), n, "distinct ids");
    assert_eq!(scalar(store, "SELECT max(iter) + 1 FROM k6_samples"), n, "ids are 0..n");
}

/// Batches delivered to k6_samples so far.
fn flushes(p: &Pipeline) -> u64 {
    let text = p.metrics().render_prometheus();
    text.lines()
        .find_map(|l| l.strip_prefix("chute_flush_duration_seconds_count{table=\"k6_samples\"} "))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn ready(p: &Pipeline) {
    wait_for("migrations", Duration::from_secs(30), || p.health().migrations_applied).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_rows_land_once_and_the_spool_empties() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let p = Pipeline::start(options(dir.path(), true), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    for k in 0..20 {
        let r = p.submit("k6_samples", "test", samples(k * 500, 500), Admission::Refuse).await.unwrap();
        assert_eq!(r, Receipt::Stored);
    }
    assert!(p.drain(Duration::from_secs(30)).await);
    assert_exactly_once(store.as_ref(), 10_000);
    assert_eq!(p.spool().unwrap().stats().segments, 0);
    assert_eq!(p.health().state, HealthState::Healthy);
    let m = p.metrics();
    assert_eq!(m.counter_sum("chute_rows_written_total", &[("table", "k6_samples")]), 10_000);
    assert_eq!(m.counter_sum("chute_rows_spooled_total", &[("source", "test")]), 10_000);
    // Each of the 20 submissions waited for its own group commit (one at a time).
    let text = m.render_prometheus();
    let commits = text.lines().find_map(|l| l.strip_prefix("chute_spool_commit_duration_seconds_count "));
    assert_eq!(commits.map(str::trim), Some("20"), "{text}");
    assert!(text.contains("chute_spool_commit_duration_seconds_bucket{le=\"0.0005\"}"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_lost_acknowledgement_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let p = Pipeline::start(options(dir.path(), true), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    // The store keeps the next three inserts but answers each with a timeout.
    store.lose_next_acks(3);
    for k in 0..6 {
        p.submit("k6_samples", "test", samples(k * 1000, 1000), Admission::Refuse).await.unwrap();
        p.flush();
    }
    assert!(p.drain(Duration::from_secs(30)).await);
    assert_eq!(p.metrics().counter_sum("chute_retries_total", &[]), 3, "each lost insert was sent again");
    assert_exactly_once(store.as_ref(), 6000);
}

/// Derives one `derived_counts` row (the chunk's row count) from every stored k6_samples chunk,
/// and counts the chunks whose derived rows were stored.
struct CountRows(Arc<AtomicU64>);

impl Derive for CountRows {
    fn derive(&self, table: &str, batch: &RecordBatch) -> Derived {
        if table != "k6_samples" {
            return Derived::default();
        }
        let n: ArrayRef = Arc::new(UInt64Array::from(vec![batch.num_rows() as u64]));
        let done = self.0.clone();
        Derived {
            batches: vec![("derived_counts", RecordBatch::try_from_iter([("n", n)]).unwrap())],
            on_stored: Some(Box::new(move || {
                done.fetch_add(1, Ordering::SeqCst);
            })),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_derived_from_stored_chunks_are_stored_once_through_lost_acknowledgements() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    store
        .execute(
            "CREATE TABLE derived_counts (n UInt64) ENGINE = MergeTree ORDER BY tuple() \
             SETTINGS non_replicated_deduplication_window = 1000",
        )
        .unwrap();
    let chunks_done = Arc::new(AtomicU64::new(0));
    let mut o = options(dir.path(), true);
    o.derive = Some(DeriveHook(Arc::new(CountRows(chunks_done.clone()))));
    let p = Pipeline::start(o, store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    // Inserts kept by the store but answered with a timeout (a chunk, then two derived rows)
    // are sent again under the same tokens.
    store.lose_next_acks(1);
    store.lose_next_acks_of("derived_counts", 2);
    for k in 0..6 {
        p.submit("k6_samples", "test", samples(k * 1000, 1000), Admission::Refuse).await.unwrap();
        p.flush();
    }
    assert!(p.drain(Duration::from_secs(30)).await);
    assert_exactly_once(store.as_ref(), 6000);
    assert_eq!(p.metrics().counter_sum("chute_retries_total", &[]), 3, "each lost insert was sent again");
    assert_eq!(scalar(store.as_ref(), "SELECT sum(n) FROM derived_counts"), 6000, "derived rows stored once");
    let chunks = scalar(store.as_ref(), "SELECT count() FROM derived_counts");
    assert_eq!(chunks_done.load(Ordering::SeqCst), chunks, "on_stored ran once per stored chunk");
    assert_eq!(p.metrics().counter_sum("chute_rows_written_total", &[("table", "derived_counts")]), chunks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_rows_are_spooled_the_breaker_opens_and_closes_and_all_arrive_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let p = Pipeline::start(options(dir.path(), true), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    p.submit("k6_samples", "test", samples(0, 100), Admission::Refuse).await.unwrap();
    assert!(p.drain(Duration::from_secs(30)).await);

    store.break_down();
    for k in 1..=30 {
        // Still acknowledged: the spool has them.
        p.submit("k6_samples", "test", samples(k * 100, 100), Admission::Refuse).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_for("breaker open", Duration::from_secs(10), || p.health().breaker == BreakerState::Open).await;
    let h = p.health();
    assert_eq!(h.state, HealthState::StoreUnavailable);
    assert!(h.reason.contains("injected outage"), "{}", h.reason);
    assert!(h.accepting);
    assert!(h.spool.as_ref().unwrap().rows > 0);
    let segments_during_outage = p.spool().unwrap().stats().segments;

    let ok_before = store.inserts_ok.load(Ordering::Relaxed);
    store.heal();
    assert!(p.drain(Duration::from_secs(30)).await);
    wait_for("breaker closed", Duration::from_secs(10), || p.health().breaker == BreakerState::Closed).await;
    assert_exactly_once(store.as_ref(), 3100);
    // The backlog was merged: fewer inserts than segments waiting.
    let inserts = store.inserts_ok.load(Ordering::Relaxed) - ok_before;
    assert!(inserts < segments_during_outage, "{inserts} inserts for {segments_during_outage} segments");
    assert_eq!(p.health().state, HealthState::Healthy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_rows_go_to_dead_letters_with_the_error_and_good_rows_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    migrations::up(store.as_ref(), None).unwrap();
    store
        .execute(
            "CREATE TABLE poison (id Int64, v Int64, CONSTRAINT v_not_negative CHECK v >= 0) \
             ENGINE = MergeTree ORDER BY id SETTINGS non_replicated_deduplication_window = 100",
        )
        .unwrap();
    let p = Pipeline::start(options(dir.path(), true), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    let ids: Vec<i64> = (0..1000).collect();
    let vals: Vec<i64> = ids.iter().map(|i| if i % 250 == 7 { -1 } else { *i }).collect();
    let batch = RecordBatch::try_from_iter(vec![
        ("id", Arc::new(Int64Array::from(ids)) as _),
        ("v", Arc::new(Int64Array::from(vals)) as _),
    ])
    .unwrap();
    p.submit("poison", "test", batch, Admission::Refuse).await.unwrap();
    assert!(p.drain(Duration::from_secs(60)).await);
    assert_eq!(scalar(store.as_ref(), "SELECT count() FROM poison"), 996);
    assert_eq!(scalar(store.as_ref(), "SELECT count() FROM chute_dead_letters WHERE `table` = 'poison'"), 4);
    let b = store
        .query("SELECT error, `row`, error_code FROM chute_dead_letters WHERE `table` = 'poison' ORDER BY `row`", &[])
        .unwrap();
    let rows = chute_store::rows::to_json_rows(&b);
    assert!(rows[0]["error"].as_str().unwrap().contains("v_not_negative"), "{}", rows[0]);
    assert_eq!(rows[0]["error_code"], 469);
    let refused: serde_json::Value = serde_json::from_str(rows[0]["row"].as_str().unwrap()).unwrap();
    assert_eq!(refused["v"], -1);
    assert_eq!(p.metrics().counter_sum("chute_rows_dead_lettered_total", &[("table", "poison")]), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_refuses_with_backpressure_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let mut o = options(dir.path(), true);
    o.spool.as_mut().unwrap().max_bytes = 200_000;
    let p = Pipeline::start(o, store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    store.break_down();
    let mut acked = 0u64;
    let mut refused = 0;
    let mut next = 0u64;
    for _ in 0..100 {
        match p.submit("k6_samples", "test", samples(next, 200), Admission::Refuse).await {
            Ok(_) => {
                acked += 200;
                next += 200;
            }
            Err(PipelineError::Backpressure { retry_after, reason }) => {
                assert!(retry_after >= Duration::from_secs(1));
                assert!(reason.contains("spool is full"), "{reason}");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(refused > 0 && acked > 0, "acked {acked}, refused {refused}");
    let spool = p.health().spool.unwrap();
    assert!(spool.bytes <= 200_000 + 64_000, "spool stays near its bound: {}", spool.bytes);
    store.heal();
    assert!(p.drain(Duration::from_secs(30)).await);
    assert_exactly_once(store.as_ref(), acked);
    assert!(p.metrics().counter_sum("chute_rows_rejected_total", &[]) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_bound_refuses_or_drops_newest_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let mut o = options(dir.path(), false);
    o.max_unflushed_bytes = 64 * 1024;
    o.batch.max_age = Duration::from_secs(3600);
    let p = Pipeline::start(o.clone(), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    // Without the spool a submit waits until its rows are stored; while one waits (the store is
    // down), its memory is held, so the next one finds the budget spent.
    store.break_down();
    let p2 = p.clone();
    let waiting =
        tokio::spawn(async move { p2.submit("k6_samples", "test", samples(0, 100), Admission::Refuse).await });
    wait_for("memory in use", Duration::from_secs(5), || {
        p.metrics().render_prometheus().lines().any(|l| l.starts_with("chute_unflushed_bytes ") && !l.ends_with(" 0"))
    })
    .await;
    let err = p.submit("k6_samples", "test", samples(100, 100), Admission::Refuse).await.unwrap_err();
    assert!(matches!(err, PipelineError::Backpressure { .. }), "{err}");
    store.heal();
    waiting.await.unwrap().unwrap();
    assert_eq!(scalar(store.as_ref(), "SELECT count() FROM k6_samples"), 100, "stored when the submit returned");
    p.shutdown(Duration::from_secs(5)).await;

    // The same situation with drop_newest_when_full: accepted, counted as dropped, not stored.
    o.drop_newest_when_full = true;
    let p = Pipeline::start(o, store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    store.break_down();
    let p2 = p.clone();
    let waiting =
        tokio::spawn(async move { p2.submit("k6_samples", "test", samples(200, 100), Admission::Refuse).await });
    wait_for("memory in use", Duration::from_secs(5), || {
        p.metrics().render_prometheus().lines().any(|l| l.starts_with("chute_unflushed_bytes ") && !l.ends_with(" 0"))
    })
    .await;
    let r = p.submit("k6_samples", "test", samples(300, 100), Admission::Refuse).await.unwrap();
    assert_eq!(r, Receipt::Dropped);
    assert_eq!(p.metrics().counter_sum("chute_rows_dropped_total", &[]), 100);
    store.heal();
    waiting.await.unwrap().unwrap();
    assert_eq!(scalar(store.as_ref(), "SELECT count() FROM k6_samples"), 200, "the dropped rows are not stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_spool_a_submit_returns_once_its_rows_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let p = Pipeline::start(options(dir.path(), false), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    for k in 0..5 {
        p.submit("k6_samples", "test", samples(k * 100, 100), Admission::Refuse).await.unwrap();
        assert_eq!(scalar(store.as_ref(), "SELECT count() FROM k6_samples"), (k + 1) * 100);
    }
    assert!(p.spool().is_none());
}

/// Spool off, batching adapts to the store: a lone submit is inserted at once (not after
/// `max_age`, an hour here), and what arrives while an insert runs gathers into the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_spool_a_lone_submit_is_inserted_at_once_and_concurrent_ones_are_batched() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let mut o = options(dir.path(), false);
    o.batch.max_age = Duration::from_secs(3600);
    let p = Pipeline::start(o, store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    tokio::time::timeout(Duration::from_secs(60), p.submit("k6_samples", "test", samples(0, 100), Admission::Refuse))
        .await
        .expect("a lone submit does not wait for max_age")
        .unwrap();
    assert_eq!(scalar(store.as_ref(), "SELECT count() FROM k6_samples"), 100);

    // The store is down: the first submit's insert is being retried; ten more gather meanwhile.
    // The ten start only once that insert is being retried, so none of them can join it.
    store.break_down();
    let submit = |k: u64| {
        let p2 = p.clone();
        tokio::spawn(async move { p2.submit("k6_samples", "test", samples(k * 100, 100), Admission::Refuse).await })
    };
    let mut waiting = vec![submit(1)];
    wait_for("the first insert retried", Duration::from_secs(10), || {
        p.metrics()
            .render_prometheus()
            .lines()
            .any(|l| l.strip_prefix("chute_retries_total{table=\"k6_samples\"} ").is_some_and(|v| v.trim() != "0"))
    })
    .await;
    waiting.extend((2..=11u64).map(submit));
    wait_for("eleven submits held", Duration::from_secs(10), || {
        p.metrics().render_prometheus().contains("chute_batch_fill_rows{table=\"k6_samples\"} 1000")
    })
    .await;
    let inserts_before = flushes(&p);
    store.heal();
    for w in waiting {
        tokio::time::timeout(Duration::from_secs(60), w).await.expect("stored after the outage").unwrap().unwrap();
    }
    assert_exactly_once(store.as_ref(), 1200);
    assert_eq!(flushes(&p), inserts_before + 2, "the held submit, then one batch of the ten others");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_delivers_within_the_deadline_or_leaves_the_rest_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let p = Pipeline::start(options(dir.path(), true), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    p.submit("k6_samples", "test", samples(0, 1000), Admission::Refuse).await.unwrap();
    store.break_down();
    p.submit("k6_samples", "test", samples(1000, 1000), Admission::Refuse).await.unwrap();
    let t0 = Instant::now();
    let report = p.shutdown(Duration::from_millis(500)).await;
    assert!(t0.elapsed() < Duration::from_secs(5), "shutdown honours its deadline");
    assert!(!report.drained);
    assert!(report.rows_left > 0);
    assert!(matches!(
        p.submit("k6_samples", "test", samples(5000, 1), Admission::Refuse).await,
        Err(PipelineError::Closed)
    ));
    drop(p);

    // The next start (same spool, store back) delivers the rest, exactly once.
    store.heal();
    let p = Pipeline::start(options(dir.path(), true), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    assert!(p.drain(Duration::from_secs(30)).await);
    assert_exactly_once(store.as_ref(), 2000);
    let report = p.shutdown(Duration::from_secs(5)).await;
    assert!(report.drained && report.rows_left == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_dropped_by_hand_is_recreated_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    let p = Pipeline::start(options(dir.path(), true), store.clone(), Metrics::new()).unwrap();
    ready(&p).await;
    store.execute("DROP TABLE k6_runs_mv").unwrap();
    store.execute("DROP TABLE k6_samples").unwrap();
    p.submit("k6_samples", "test", samples(0, 300), Admission::Refuse).await.unwrap();
    assert!(p.drain(Duration::from_secs(30)).await);
    assert_exactly_once(store.as_ref(), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_while_the_store_is_down_accepts_and_delivers_once_it_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store = engine(dir.path());
    store.break_down();
    let p = Pipeline::start(options(dir.path(), true), store.clone(), Metrics::new()).unwrap();
    p.submit("k6_samples", "test", samples(0, 500), Admission::Refuse).await.unwrap();
    wait_for("store_unavailable", Duration::from_secs(5), || p.health().state == HealthState::StoreUnavailable).await;
    assert!(!p.health().migrations_applied);
    store.heal();
    ready(&p).await;
    assert!(p.drain(Duration::from_secs(30)).await);
    assert_exactly_once(store.as_ref(), 500);
}
