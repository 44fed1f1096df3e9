//! Opening the configured store in this process (the server does; so do commands when no server
//! is running), and a local pipeline for commands that write.

use anyhow::{Context, bail};
use chute_config::{Config, StoreTarget};
use chute_pipeline::{Metrics, Pipeline, PipelineOptions};
use chute_store::Store;
use chute_store::embedded::{EmbeddedOptions, EmbeddedStore};
use std::sync::Arc;

pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match config.store.target {
        StoreTarget::Embedded => {
            let store = EmbeddedStore::open(&EmbeddedOptions {
                chdb_library: config.store.embedded.chdb_library.clone(),
                libpython: config.store.embedded.libpython.clone(),
                path: config.engine_dir(),
                ingest_connections: 2,
                query_connections: 4,
            })
            .map_err(|e| anyhow::anyhow!(e.message))?;
            Ok(Arc::new(store))
        }
        StoreTarget::Null => Ok(Arc::new(chute_store::null::NullStore::new())),
        StoreTarget::Clickhouse => bail!("store.target = \"clickhouse\" is not available in this build yet"),
    }
}

/// A store with the schema applied, for commands that query.
pub fn open_migrated(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = open_store(config)?;
    chute_store::migrations::up(store.as_ref(), None).context("applying migrations")?;
    Ok(store)
}

/// A pipeline for a one-shot command: no spool (the command returns once rows are stored).
pub fn pipeline(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<Pipeline> {
    let mut opts = PipelineOptions::from_config(config);
    opts.spool = None;
    Pipeline::start(opts, store, Metrics::new()).map_err(|e| anyhow::anyhow!("{e}"))
}
