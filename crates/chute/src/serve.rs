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
    chute_server::events::check(&config)?;
    std::fs::create_dir_all(&config.data_dir).with_context(|| format!("cannot create data_dir {}", config.data_dir))?;
    let mut store = open_store(&config)?;
    let fault = config.debug.fault_injection.then(|| {
        tracing::warn!("debug.fault_injection is on: POST /debug/store-fault can stop all inserts");
        Arc::new(chute_store::faulty::FaultyStore::new(store.clone()))
    });
    if let Some(f) = &fault {
        store = f.clone();
    }
    let mut opts = PipelineOptions::from_config(&config);
    opts.derive = crate::derived::hook(&config);
    let pipeline = Pipeline::start(opts, store.clone(), Metrics::new()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let state = AppState::new(config.clone(), pipeline.clone(), store.clone(), fault);
    // Tables that take HTTP events: one chute cannot fill fails the start, naming it.
    chute_server::events::prepare(&state).await?;

    // Every listener is bound before anything is printed, so a port in use fails the start.
    let main = bind(&config.server.listen, "server.listen").await?;
    let addr = main.local_addr()?;
    let mut listeners = vec![(main, chute_server::router(state.clone()))];
    let mut extra_lines = Vec::new();
    if config.otlp.enabled {
        let grpc = bind(&config.otlp.grpc_listen, "otlp.grpc_listen").await?;
        let http = bind(&config.otlp.http_listen, "otlp.http_listen").await?;
        extra_lines.push(format!("OTLP/gRPC on {}, OTLP/HTTP on http://{}", grpc.local_addr()?, http.local_addr()?));
        listeners.push((grpc, chute_server::otlp::grpc_router(state.clone())));
        listeners.push((http, chute_server::otlp::http_router(state.clone())));
    }
    if config.clickhouse_http.enabled {
        let embedded = match config.store.target {
            chute_config::StoreTarget::Embedded => chute_store::embedded::EmbeddedStore::current(),
            _ => None,
        };
        let Some(embedded) = embedded else {
            anyhow::bail!(
                "clickhouse_http.enabled = true needs store.target = \"embedded\": the ClickHouse HTTP interface \
                 serves chute's embedded engine (a ClickHouse server has its own)"
            );
        };
        let ch = bind(&config.clickhouse_http.listen, "clickhouse_http.listen").await?;
        extra_lines.push(format!("ClickHouse HTTP interface on http://{}", ch.local_addr()?));
        let state = chute_server::clickhouse_http::ClickhouseHttp::new(&config, embedded);
        listeners.push((ch, chute_server::clickhouse_http::router(state)));
    }
    // NATS consumers: checked now (a bad consumer config fails the start), connected in the background.
    let (nats_stop, nats_stop_rx) = tokio::sync::watch::channel(false);
    let nats_tasks = chute_server::nats::start(&state, nats_stop_rx)?;
    print_banner(&config, addr, &extra_lines);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    for (listener, router) in listeners {
        let mut rx = stop_rx.clone();
        servers.push(tokio::spawn(async move {
            chute_server::serve(listener, router, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await
        }));
    }

    let signal = wait_for_signal().await;
    tracing::info!(signal, "shutting down: no new data is accepted; delivering what is buffered");
    let deadline = config.server.shutdown_timeout.get();
    let _ = stop_tx.send(true);
    let _ = nats_stop.send(true);
    // In-flight requests finish (they are waiting for the spool); bounded by the deadline.
    let _ = tokio::time::timeout(deadline, futures_join_all(servers)).await;
    // NATS batches in hand are stored and acked (or left unacked for redelivery).
    let _ = tokio::time::timeout(deadline, futures_join_all(nats_tasks)).await;
    let report = pipeline.shutdown(deadline).await;
    if report.drained {
        tracing::info!("all data delivered; bye");
    } else {
        tracing::info!(rows_left = report.rows_left, "rows left in the spool are delivered at the next start");
    }
    Ok(0)
}

/// Connections a listener holds for acceptance before the kernel drops new ones (capped by
/// `net.core.somaxconn`, 4096 by default). tokio's own `bind` asks for 128: a burst of new
/// connections beyond that (hundreds of clients starting at once, or a load generator's pool
/// growing after a pause) had SYNs dropped, and each such client waited for its 1 s SYN
/// retransmission.
const LISTEN_BACKLOG: u32 = 4096;

async fn bind(addr: &str, key: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let context = || format!("cannot listen on {addr} ({key})");
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await.with_context(context)? {
        let socket = if a.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() };
        // As tokio's `bind`: SO_REUSEADDR, so a restart finds its port free at once.
        let listener = socket.and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(a)?;
            s.listen(LISTEN_BACKLOG)
        });
        match listener {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map(anyhow::Error::from).unwrap_or_else(|| anyhow::anyhow!("no address")).context(context()))
}

async fn futures_join_all<T>(handles: Vec<tokio::task::JoinHandle<T>>) {
    for h in handles {
        let _ = h.await;
    }
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

fn print_banner(config: &Config, addr: std::net::SocketAddr, extra_lines: &[String]) {
    let url = format!("http://{addr}");
    let store = match config.store.target {
        chute_config::StoreTarget::Embedded => {
            format!("embedded ClickHouse engine, data in {}", config.engine_dir().display())
        }
        chute_config::StoreTarget::Null => "null store (data is discarded)".to_string(),
        chute_config::StoreTarget::Clickhouse => {
            let c = &config.store.clickhouse;
            let cluster = if c.cluster.is_empty() { String::new() } else { format!(", cluster {}", c.cluster) };
            format!("ClickHouse at {} (database {}{cluster})", c.endpoints.join(", "), c.database)
        }
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
    for line in extra_lines {
        println!("{line}");
    }
    println!("Health {url}/health/ready, metrics {url}/metrics, runs {url}/api/v1/k6/runs");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Hundreds of connections arriving before any is accepted all complete their handshake:
    /// with the backlog of 128 tokio asks for, the kernel dropped the SYNs past it.
    #[tokio::test]
    async fn a_burst_of_connections_waits_in_the_backlog_instead_of_being_dropped() {
        let listener = bind("127.0.0.1:0", "test").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Nothing accepts while they connect.
        let connected = tokio::task::spawn_blocking(move || {
            let mut open = Vec::new();
            for _ in 0..600 {
                match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                    Ok(s) => open.push(s),
                    Err(_) => break,
                }
            }
            open.len()
        })
        .await
        .unwrap();
        assert_eq!(connected, 600);
        drop(listener);
    }

    #[tokio::test]
    async fn an_address_that_cannot_be_bound_names_its_key() {
        let taken = bind("127.0.0.1:0", "first").await.unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let err = bind(&addr, "otlp.http_listen").await.unwrap_err();
        assert!(format!("{err:#}").contains(&format!("cannot listen on {addr} (otlp.http_listen)")), "{err:#}");
    }
}
