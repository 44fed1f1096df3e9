//! The network edge: every protocol chute speaks is served from here, and only here. Handlers
//! read and check requests, call a decoder, submit the result to the pipeline and answer; the
//! mapping of errors to statuses is in [`error`].
//!
//! The main HTTP listener serves the InfluxDB v1/v2 write API, k6 imports and run summaries,
//! health, metrics and stats. [`router`] builds it without a socket, so tests drive it directly.

pub mod body;
pub mod clickhouse_http;
pub mod error;
pub mod events;
pub mod explorer;
mod http_metrics;
mod influx;
mod k6;
pub mod nats;
mod ops;
pub mod otlp;
pub mod prom;
mod query;

use axum::Router;
use axum::routing::{get, post};
use chute_config::Config;
use chute_k6::RunAssigner;
use chute_pipeline::{Metrics, Pipeline};
use chute_store::Store;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use error::ApiError;

/// What every handler can reach.
pub struct AppState {
    pub config: Arc<Config>,
    pub pipeline: Pipeline,
    pub store: Arc<dyn Store>,
    pub runs: Arc<RunAssigner>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    /// Databases named in InfluxDB writes and `CREATE DATABASE` (for `SHOW DATABASES`).
    pub influx_databases: Mutex<BTreeSet<String>>,
    /// Where uploaded import files wait while they are hashed and decoded.
    pub tmp_dir: PathBuf,
    /// Imports k6 files (one per process: it remembers recent imports).
    pub importer: chute_ingest::K6Importer,
    /// The fault-injection wrapper around the store (`debug.fault_injection`, tests only).
    pub fault: Option<Arc<chute_store::faulty::FaultyStore<Arc<dyn Store>>>>,
    /// Reachability of the NATS streams of `[[nats.consumers]]` (readiness).
    pub nats: nats::NatsStatus,
    /// The decoders of the tables that take HTTP JSON events.
    pub events: events::EventTables,
}

impl AppState {
    pub fn new(
        config: Arc<Config>,
        pipeline: Pipeline,
        store: Arc<dyn Store>,
        fault: Option<Arc<chute_store::faulty::FaultyStore<Arc<dyn Store>>>>,
    ) -> Arc<Self> {
        let runs =
            Arc::new(RunAssigner::new(config.k6.run_gap.get(), Arc::new(chute_k6::StoreRunLookup::new(store.clone()))));
        let tmp_dir = PathBuf::from(&config.data_dir).join("tmp");
        let metrics = pipeline.metrics().clone();
        let importer = chute_ingest::K6Importer::new(
            pipeline.clone(),
            store.clone(),
            config.batch.max_rows.clamp(1, 65_536) as usize,
        );
        Arc::new(AppState {
            influx_databases: Mutex::new(config.k6.influx_databases.iter().cloned().collect()),
            config,
            pipeline,
            store,
            runs,
            metrics,
            started: Instant::now(),
            tmp_dir,
            importer,
            fault,
            nats: nats::NatsStatus::default(),
            events: events::EventTables::default(),
        })
    }
}

/// The main HTTP listener's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let mut r = Router::new();
    if state.fault.is_some() {
        r = r.route("/debug/store-fault", post(ops::store_fault));
    }
    r = explorer::routes(r);
    r
        // InfluxDB v1 and v2 APIs, as k6 and Telegraf use them.
        .route("/query", get(influx::query).post(influx::query))
        .route("/write", post(influx::write_v1))
        .route("/api/v2/write", post(influx::write_v2))
        .route("/ping", get(influx::ping).head(influx::ping))
        // Prometheus remote write 1.0.
        .route("/api/v1/write", post(prom::write))
        // Plain HTTP JSON events (NDJSON or JSON).
        .route("/api/v1/events/{table}", post(events::write))
        // k6 runs.
        .route("/api/v1/k6/import", post(k6::import))
        .route("/api/v1/k6/runs", get(k6::runs))
        .route("/api/v1/k6/runs/{id}", get(k6::run))
        .route("/api/v1/k6/runs/{id}/summary", get(k6::summary_get).post(k6::summary_post))
        // Operations.
        .route("/health/live", get(ops::live))
        .route("/health/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics))
        .route("/api/v1/stats", get(ops::stats))
        .fallback(ops::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), http_metrics::record))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
