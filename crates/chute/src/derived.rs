//! What delivery derives from stored telemetry: the explorer's log patterns and attribute
//! catalog feed (`chute_patterns`), as the pipeline's [`Derive`] hook (on unless
//! `otlp.catalog = false`).
//!
//! Derived at delivery, not at the receivers: the rows come from chunks the store confirmed
//! (never from rows that ended in dead letters), whole chunks of up to `batch.max_rows` rows
//! (one feed row per group and value per chunk, not per request), and with the spool on nothing
//! of it is on the path of an acknowledgement. A chunk replayed after a crash derives its rows
//! again under the same tokens (`{chunk token}/{table}`), so the store keeps them once; pattern
//! rows are a pure function of the chunk, and a feed only ever adds values the catalog's sets
//! already hold or should hold (see `chute_patterns::catalog`).

use arrow_array::RecordBatch;
use chute_patterns::catalog::{SeenValues, attribute_feed};
use chute_pipeline::{Derive, DeriveHook, Derived};
use chute_tables::catalog::ATTRIBUTE_CATALOG_FEED;
use chute_tables::otel::LOGS;
use chute_tables::patterns::LOG_PATTERNS;
use std::sync::Arc;

/// Log patterns and the attribute catalog feed of `otel_*` chunks.
struct Catalog;

impl Derive for Catalog {
    fn derive(&self, table: &str, batch: &RecordBatch) -> Derived {
        if !table.starts_with("otel_") {
            return Derived::default();
        }
        let mut out = Derived::default();
        if table == LOGS.name
            && let Some(p) = chute_patterns::batch::log_patterns(batch)
        {
            out.batches.push((LOG_PATTERNS.name, p));
        }
        if let Some(feed) = attribute_feed(table, batch, SeenValues::global()) {
            out.batches.push((ATTRIBUTE_CATALOG_FEED.name, feed.batch));
            let pending = feed.pending;
            out.on_stored = Some(Box::new(move || SeenValues::global().remember(&pending)));
        }
        out
    }
}

/// The hook for `config` (None when `otlp.catalog` is off).
pub fn hook(config: &chute_config::Config) -> Option<DeriveHook> {
    config.otlp.catalog.then(|| DeriveHook(Arc::new(Catalog)))
}
