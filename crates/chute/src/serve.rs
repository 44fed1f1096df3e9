//! `chute serve`: opens the store and the spool, starts delivery and the listeners, prints where
//! it listens and how to send k6 results, and shuts down gracefully on SIGTERM/SIGINT.

use crate::local::open_store;
use anyhow::Context;
use chute_config::Config;
use chute_pipeline::{Metrics, Pipeline, PipelineOptions};
use chute_server::AppState;
use std::sync::Arc;

pub async fn serve(config: Config) -> anyhow::Result<i32> {
    let config = Arc::new(config);
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("cannot create data_dir {}", config.data_dir))?;
    let mut store = open_store(&config)?;
    let fault = config.debug.fault_injection.then(|| {
        tracing::warn!("debug.fault_injection is on: POST /debug/store-fault can stop all inserts");
        Arc::new(chute_store::faulty::FaultyStore::new(store.clone()))
    });
    if let Some(f) = &fault {
        store = f.clone();
    }
    let pipeline = Pipeline::start(PipelineOptions::from_config(&config), store.clone(), Metrics::new())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let state = AppState::new(config.clone(), pipeline.clone(), store.clone(), fault);
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {} (server.listen)", config.server.listen))?;
    let addr = listener.local_addr()?;
    print_banner(&config, addr);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let http = {
        let mut rx = stop_rx.clone();
        let router = chute_server::router(state.clone());
        tokio::spawn(async move {
            chute_server::serve(listener, router, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
        })
    };

    let signal = wait_for_signal().await;
    tracing::info!(signal, "shutting down: no new data is accepted; delivering what is buffered");
    let deadline = config.server.shutdown_timeout.get();
    let _ = stop_tx.send(true);
    // In-flight requests finish (they are waiting for the spool); bounded by the deadline.
    let _ = tokio::time::timeout(deadline, http).await;
    let report = pipeline.shutdown(deadline).await;
    if report.drained {
        tracing::info!("all data delivered; bye");
    } else {
        tracing::info!(rows_left = report.rows_left, "rows left in the spool are delivered at the next start");
    }
    Ok(0)
}

async fn wait_for_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return "none",
    };
    let mut int = match signal(SignalKind::interrupt()) {
        Ok(s) => s,
        Err(_) => return "none",
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

fn print_banner(config: &Config, addr: std::net::SocketAddr) {
    let url = format!("http://{addr}");
    let store = match config.store.target {
        chute_config::StoreTarget::Embedded => {
            format!("embedded ClickHouse engine, data in {}", config.engine_dir().display())
        }
        chute_config::StoreTarget::Null => "null store (data is discarded)".to_string(),
        chute_config::StoreTarget::Clickhouse => "ClickHouse server".to_string(),
    };
    let spool =
        if config.spool.enabled { format!("spool in {}", config.spool_dir().display()) } else { "spool off".into() };
    // Printed to stdout, not the log: this is what a person starting chute reads first.
    println!("chute {} listening on {url} ({store}; {spool})", env!("CARGO_PKG_VERSION"));
    println!();
    println!("Send k6 results here while a test runs:");
    println!("  k6 run --out influxdb={url}/k6 --tag testid=my-run script.js");
    println!("or import a finished run:");
    println!("  k6 run --out json=results.json.gz --tag testid=my-run script.js && chute import results.json.gz");
    println!("then:");
    println!("  chute k6 runs");
    println!("  chute k6 summary my-run");
    println!();
    println!("Health {url}/health/ready, metrics {url}/metrics, runs {url}/api/v1/k6/runs");
}
