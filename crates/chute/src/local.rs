//! Opening the configured store in this process (the server does; so do commands when no server
//! is running), and a local pipeline for commands that write.

use anyhow::Context;
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
                merge_nice: config.store.embedded.merge_nice,
                // With the spool off, clients wait for the inserts: they keep their priority.
                insert_nice: if config.spool.enabled { config.store.embedded.insert_nice } else { 0 },
                materialize_skip_indexes_on_insert: config.store.embedded.materialize_skip_indexes_on_insert,
                path: config.engine_dir(),
                ingest_connections: 2,
                query_connections: 4,
            })
            .map_err(|e| anyhow::anyhow!(e.message))?;
            Ok(Arc::new(store))
        }
        StoreTarget::Null => Ok(Arc::new(chute_store::null::NullStore::new())),
        StoreTarget::Clickhouse => {
            let store = chute_store::remote::RemoteStore::open(remote_options(config))
                .map_err(|e| anyhow::anyhow!(e.message))?;
            Ok(Arc::new(store))
        }
    }
}

/// `[store.clickhouse]` as the remote store takes it.
pub fn remote_options(config: &Config) -> chute_store::remote::RemoteOptions {
    use chute_store::remote::{Compression, RemoteOptions, TlsFiles};
    let c = &config.store.clickhouse;
    let path = |p: &str| (!p.is_empty()).then(|| std::path::PathBuf::from(p));
    RemoteOptions {
        endpoints: c.endpoints.clone(),
        user: c.user.clone(),
        password: c.password.clone(),
        database: c.database.clone(),
        cluster: (!c.cluster.is_empty()).then(|| c.cluster.clone()),
        compression: match c.compression {
            chute_config::RemoteCompression::Lz4 => Compression::Lz4,
            chute_config::RemoteCompression::Zstd => Compression::Zstd,
            chute_config::RemoteCompression::None => Compression::None,
        },
        connect_timeout: c.connect_timeout.get(),
        request_timeout: c.request_timeout.get(),
        health_check_interval: c.health_check_interval.get(),
        async_insert: c.async_insert,
        migration_lock_ttl: c.migration_lock_ttl.get(),
        tls: TlsFiles {
            ca_file: path(&c.tls.ca_file),
            cert_file: path(&c.tls.cert_file),
            key_file: path(&c.tls.key_file),
        },
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
    opts.derive = crate::derived::hook(config);
    Pipeline::start(opts, store, Metrics::new()).map_err(|e| anyhow::anyhow!("{e}"))
}
