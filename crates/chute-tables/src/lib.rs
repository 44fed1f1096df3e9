//! The column contract between decoders and the store: for every table chute writes, its name,
//! its Arrow schema (the insertable columns, in the table's column order, because the engine's
//! Arrow ingest matches columns by position) and a builder that decoders fill row by row.
//!
//! The SQL definitions live with the store's migrations; a store test checks that each schema
//! here matches the table the migrations create.

pub mod catalog;
pub mod columns;
pub mod dead_letters;
pub mod influx;
pub mod k6;
pub mod otel;
pub mod patterns;

use arrow_schema::SchemaRef;

/// A table chute writes, as the rest of the system sees it: a name and an Arrow schema.
#[derive(Clone, Copy)]
pub struct TableDef {
    pub name: &'static str,
    pub schema: fn() -> SchemaRef,
}

impl std::fmt::Debug for TableDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every table chute inserts into through the pipeline.
pub fn all() -> Vec<TableDef> {
    [
        &[k6::SAMPLES, k6::METRICS, k6::IMPORTS, influx::POINTS, dead_letters::DEAD_LETTERS][..],
        &otel::TABLES,
        &[patterns::LOG_PATTERNS, catalog::ATTRIBUTE_CATALOG_FEED],
    ]
    .concat()
}

/// Looks a table up by name.
pub fn by_name(name: &str) -> Option<TableDef> {
    all().into_iter().find(|t| t.name == name)
}
