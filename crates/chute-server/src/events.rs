//! Plain HTTP JSON events: `POST /api/v1/events/{table}` with NDJSON (one object per line) or
//! JSON (one object, or an array of objects), decoded by `chute-events` into the table's shape
//! and submitted to the pipeline. See docs/events.md.
//!
//! - Only the built-in `events` table (migration 0006, `events.default_table`) and the tables of
//!   `[[events.tables]]` take events; any other table, chute's own above all, is answered 404.
//! - Fields map to columns by name (or the column's name in lowercase); types come from
//!   `system.columns`. The decoder of each declared table is built at startup ([`prepare`],
//!   after running its `table_sql`): a column type chute cannot fill fails the start naming the
//!   table and the column. When the store cannot answer then, the table's first request builds
//!   it. It is kept for the life of the process: a column added later is seen after a restart.
//! - All or nothing per request: every event is decoded before anything is submitted; one bad
//!   event (not a JSON object, a value that does not fit its column) refuses the request with 400
//!   naming its line, and nothing of the request is stored.
//! - 200 `{"accepted": N}` once the rows are durable (the pipeline's submit); 413 above
//!   `limits.max_body_bytes` (on the wire or decompressed); 429 with Retry-After when chute is
//!   full. A client's retry is a new request: events are not deduplicated across requests.

use crate::error::ApiError;
use crate::{AppState, body};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chute_config::{Config, ConfigError, EventTableConfig};
use chute_events::{BodyFormat, Column, Decoder, DecoderOptions, Format, Message, split_documents};
use chute_pipeline::Admission;
use chute_store::ErrorKind;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The `source` of event batches in the pipeline (and the spool).
pub const SOURCE: &str = "events";

/// The built-in table (migration 0006).
pub const DEFAULT_TABLE: &str = "events";

/// Bodies above this size are decoded on a blocking thread.
const INLINE_DECODE_BYTES: usize = 64 * 1024;

/// The decoders of the event tables, built at each table's first request.
#[derive(Default)]
pub struct EventTables {
    decoders: Mutex<HashMap<String, Arc<Decoder>>>,
}

/// Names of chute's own tables (and of tables it may add): never writable as events.
pub fn is_reserved(table: &str) -> bool {
    table != DEFAULT_TABLE
        && (chute_store::cluster::placement(table).is_some()
            || ["k6_", "otel_", "chute_", "schema_"].iter().any(|p| table.starts_with(p))
            || table == "influx_points")
}

fn invalid(i: usize, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: format!("events.tables[{i}].{key}"), message: message.into() }
}

/// Checks `[events]` at startup: table names, files, duplicates.
pub fn check(config: &Config) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for (i, t) in config.events.tables.iter().enumerate() {
        if !chute_store::sql::is_identifier(&t.name) {
            return Err(invalid(i, "name", format!("{:?} is not a table name (letters, digits, _)", t.name)));
        }
        if t.name == DEFAULT_TABLE {
            return Err(invalid(i, "name", "events is the built-in table (see events.default_table)"));
        }
        if is_reserved(&t.name) {
            return Err(invalid(i, "name", format!("{} is one of chute's own tables (or names)", t.name)));
        }
        if !seen.insert(t.name.as_str()) {
            return Err(invalid(i, "name", format!("{} is declared twice", t.name)));
        }
        if !t.table_sql.is_empty() && !std::path::Path::new(&t.table_sql).is_file() {
            return Err(invalid(i, "table_sql", format!("{} is not a readable file", t.table_sql)));
        }
    }
    Ok(())
}

/// How a declared table is decoded.
#[derive(Clone)]
struct TableSpec {
    table_sql: String,
    json_column: String,
    time_column: String,
    /// The built-in table: a missing table means migrations have not run yet (503), not a
    /// mistake of the operator's (404).
    builtin: bool,
}

fn declared(config: &Config, table: &str) -> Option<TableSpec> {
    let ev = &config.events;
    if table == DEFAULT_TABLE && ev.default_table {
        return Some(TableSpec::builtin());
    }
    if is_reserved(table) {
        return None;
    }
    ev.tables.iter().find(|t| t.name == table).map(|t: &EventTableConfig| TableSpec {
        table_sql: t.table_sql.clone(),
        json_column: t.json_column.clone(),
        time_column: t.time_column.clone(),
        builtin: false,
    })
}

impl TableSpec {
    /// The built-in `events` table: the whole event in `Event`, arrival time in `Timestamp`.
    fn builtin() -> Self {
        TableSpec {
            table_sql: String::new(),
            json_column: "Event".into(),
            time_column: "Timestamp".into(),
            builtin: true,
        }
    }
}

impl EventTables {
    async fn decoder(&self, state: &AppState, table: &str, spec: TableSpec) -> Result<Arc<Decoder>, ApiError> {
        if let Some(d) = self.decoders.lock().ok().and_then(|m| m.get(table).cloned()) {
            return Ok(d);
        }
        let store = state.store.clone();
        let name = table.to_string();
        let d = tokio::task::spawn_blocking(move || build_decoder(store.as_ref(), &name, &spec))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| match e {
                BuildError::Store(e) => e,
                BuildError::Columns(m) => ApiError::Internal(m),
            })?;
        let d = Arc::new(d);
        if let Ok(mut m) = self.decoders.lock() {
            m.insert(table.to_string(), d.clone());
        }
        Ok(d)
    }
}

/// How long the start waits for the store to describe the declared tables.
const PREPARE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Builds the decoder of every declared table at startup. A table
/// chute cannot fill (a column of a type it does not decode, a `time_column` that is not a
/// time) is a configuration error naming the table's key; a store that cannot answer (down,
/// slow, a missing table) only defers the table to its first request.
pub async fn prepare(state: &AppState) -> Result<(), ConfigError> {
    let ev = &state.config.events;
    if !ev.enabled {
        return Ok(());
    }
    // The built-in table is chute's own (created by a migration that may not have run yet) and
    // always fillable: it is built at its first request.
    let tables = ev.tables.iter().enumerate().map(|(i, t)| (format!("events.tables[{i}]"), t.name.clone()));
    let deadline = tokio::time::Instant::now() + PREPARE_TIMEOUT;
    for (key, table) in tables {
        let Some(spec) = declared(&state.config, &table) else { continue };
        let store = state.store.clone();
        let name = table.clone();
        let built = tokio::time::timeout_at(
            deadline,
            tokio::task::spawn_blocking(move || build_decoder(store.as_ref(), &name, &spec)),
        )
        .await;
        match built {
            Ok(Ok(Ok(d))) => {
                if let Ok(mut m) = state.events.decoders.lock() {
                    m.insert(table, Arc::new(d));
                }
            }
            Ok(Ok(Err(BuildError::Columns(message)))) => return Err(ConfigError::Invalid { key, message }),
            Ok(Ok(Err(BuildError::Store(e)))) => {
                tracing::warn!(table, error = %e, "events table not prepared at start; its first request tries again");
            }
            Ok(Err(e)) => tracing::warn!(table, error = %e, "events table not prepared at start"),
            Err(_) => {
                tracing::warn!(table, "the store did not describe the events tables in time; first requests will");
                break;
            }
        }
    }
    Ok(())
}

/// Why a table's decoder could not be built.
enum BuildError {
    /// The store could not run the table's SQL or describe it (or the table is missing).
    Store(ApiError),
    /// The table has columns chute cannot fill.
    Columns(String),
}

impl From<ApiError> for BuildError {
    fn from(e: ApiError) -> Self {
        BuildError::Store(e)
    }
}

impl From<chute_store::StoreError> for BuildError {
    fn from(e: chute_store::StoreError) -> Self {
        BuildError::Store(e.into())
    }
}

fn build_decoder(store: &dyn chute_store::Store, table: &str, spec: &TableSpec) -> Result<Decoder, BuildError> {
    if !spec.table_sql.is_empty() {
        let sql = std::fs::read_to_string(&spec.table_sql)
            .map_err(|e| BuildError::Columns(format!("events table {table}: table_sql {}: {e}", spec.table_sql)))?;
        chute_store::queries::tables::apply_sql_file(store, &sql).map_err(|e| {
            tracing::warn!(table, file = %spec.table_sql, error = %e, "events table_sql failed");
            match e.kind {
                // The file itself is wrong: no retry makes it right.
                ErrorKind::Schema => {
                    BuildError::Columns(format!("events table {table}: table_sql {}: {e}", spec.table_sql))
                }
                _ => BuildError::Store(e.into()),
            }
        })?;
    }
    let cols = match chute_store::queries::tables::insert_columns(store, table) {
        Ok(c) => c,
        Err(e) if e.kind == ErrorKind::MissingTable && !spec.builtin => {
            return Err(BuildError::Store(ApiError::NotFound(format!(
                "table {table} is declared in [[events.tables]] but does not exist (create it, or set its table_sql)"
            ))));
        }
        Err(e) => return Err(e.into()),
    };
    let cols: Vec<Column> = cols.iter().map(|(n, t)| Column::new(n, t)).collect();
    let opts = DecoderOptions {
        json_column: (!spec.json_column.is_empty()).then_some(spec.json_column.as_str()),
        arrival_time_column: (!spec.time_column.is_empty()).then_some(spec.time_column.as_str()),
        lowercase_fields: true,
        nats_metadata: false,
    };
    Decoder::with_options(&cols, Format::Json, &opts)
        .map_err(|e| BuildError::Columns(format!("events table {table}: {e}")))
}

/// The built-in table's decoder, as `POST /api/v1/events/events` builds it (for benchmarks that
/// make the same rows without a server). The store must have run its migrations.
pub fn builtin_decoder(store: &dyn chute_store::Store) -> Result<Decoder, String> {
    build_decoder(store, DEFAULT_TABLE, &TableSpec::builtin()).map_err(|e| match e {
        BuildError::Store(e) => e.to_string(),
        BuildError::Columns(m) => m,
    })
}

/// NDJSON unless the body says it is one JSON document.
fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        ""
        | "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines"
        | "application/jsonlines"
        | "text/plain" => Ok(BodyFormat::Ndjson),
        "application/json" => Ok(BodyFormat::Json),
        _ => Err(ApiError::UnsupportedMediaType(format!(
            "events need Content-Type application/x-ndjson (one object per line) or application/json \
             (an object or an array of objects), got {ct:?}"
        ))),
    }
}

/// Decodes every event of `body`; the first bad one refuses the whole body.
pub fn decode_body(
    decoder: &Decoder,
    body: &[u8],
    format: BodyFormat,
    arrival_ns: i64,
) -> Result<arrow_array::RecordBatch, ApiError> {
    let docs = split_documents(body, format).map_err(ApiError::from)?;
    let messages: Vec<Message<'_>> =
        docs.iter().map(|d| Message { payload: d.bytes, published_ns: arrival_ns, ..Default::default() }).collect();
    let out = decoder.decode(&messages);
    if let Some((i, why)) = out.rejected.first() {
        let more = match out.rejected.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more bad events)"),
        };
        return Err(ApiError::BadRequest(format!(
            "line {}: {why}{more}; nothing of this request was stored",
            docs.get(*i).map(|d| d.line).unwrap_or(0)
        )));
    }
    Ok(out.batch)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// `POST /api/v1/events/{table}`.
pub async fn write(
    State(state): State<Arc<AppState>>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let refused = |reason: &'static str| {
        state
            .metrics
            .counter(
                "chute_events_requests_rejected_total",
                "HTTP event requests refused (nothing of them stored)",
                &[("reason", reason)],
            )
            .fetch_add(1, Ordering::Relaxed);
    };
    if !state.config.events.enabled {
        return Err(ApiError::NotFound("the events input is off (events.enabled = false)".into()));
    }
    let Some(spec) = declared(&state.config, &table) else {
        refused("table");
        return Err(ApiError::NotFound(format!(
            "table {table:?} does not take events: only the built-in events table and the tables of \
             [[events.tables]] do (docs/events.md)"
        )));
    };
    let format = body_format(&headers).inspect_err(|_| refused("headers"))?;
    let limit = state.config.limits.max_body_bytes.get();
    let arrival_ns = now_ns();
    let bytes = body::read(&headers, body, limit).await.inspect_err(|e| {
        refused(if matches!(e, ApiError::TooLarge { .. }) { "too_large" } else { "body" });
    })?;
    state.pipeline.check_room(SOURCE)?;
    let decoder = state.events.decoder(&state, &table, spec).await?;
    let batch = if bytes.len() > INLINE_DECODE_BYTES {
        tokio::task::spawn_blocking(move || decode_body(&decoder, &bytes, format, arrival_ns))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    } else {
        decode_body(&decoder, &bytes, format, arrival_ns)
    }
    .inspect_err(|e| {
        refused("invalid");
        tracing::debug!(table = %table, error = %e, "events refused");
    })?;
    let n = batch.num_rows();
    state.pipeline.submit(&table, SOURCE, batch, Admission::Refuse).await?;
    Ok((StatusCode::OK, axum::Json(serde_json::json!({ "accepted": n }))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn chutes_own_tables_are_never_event_tables() {
        for t in ["k6_samples", "otel_logs", "otel_future_table", "schema_migrations", "chute_dead_letters"] {
            assert!(is_reserved(t), "{t}");
            assert!(declared(&Config::default(), t).is_none(), "{t}");
        }
        for t in ["influx_points", "chute_migration_lock", "k6_imports"] {
            assert!(is_reserved(t), "{t}");
        }
        assert!(!is_reserved("events") && !is_reserved("checkout"));
        assert!(declared(&Config::default(), "events").is_some());
        assert!(declared(&Config::default(), "checkout").is_none(), "undeclared");
        let mut c = Config::default();
        c.events.tables.push(EventTableConfig { name: "otel_logs".into(), ..Default::default() });
        let e = check(&c).unwrap_err().to_string();
        assert!(e.contains("events.tables[0].name") && e.contains("chute's own"), "{e}");
        c.events.tables[0].name = "checkout".into();
        assert!(check(&c).is_ok());
        c.events.default_table = false;
        assert!(declared(&c, "events").is_none() && declared(&c, "checkout").is_some());
    }

    #[test]
    fn content_types_choose_the_body_format() {
        let h = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            h
        };
        assert_eq!(body_format(&HeaderMap::new()).unwrap(), BodyFormat::Ndjson);
        assert_eq!(body_format(&h("application/x-ndjson")).unwrap(), BodyFormat::Ndjson);
        assert_eq!(body_format(&h("application/json; charset=utf-8")).unwrap(), BodyFormat::Json);
        assert!(matches!(body_format(&h("application/xml")), Err(ApiError::UnsupportedMediaType(_))));
    }

    #[test]
    fn a_bad_event_refuses_the_body_naming_its_line_field_and_value() {
        let cols =
            [Column::new("Timestamp", "DateTime64(9)"), Column::new("n", "Int32"), Column::new("Event", "String")];
        let opts = DecoderOptions {
            json_column: Some("Event"),
            arrival_time_column: Some("Timestamp"),
            lowercase_fields: true,
            nats_metadata: false,
        };
        let d = Decoder::with_options(&cols, Format::Json, &opts).unwrap();
        let body = b"{\"n\":1}\n\n{\"n\":\"many\"}\n[1]\n";
        let e = decode_body(&d, body, BodyFormat::Ndjson, 5).unwrap_err().to_string();
        assert_eq!(
            e,
            "line 3: field n: \"many\" is not an integer (and 1 more bad events); nothing of this request was stored"
        );
        let b = decode_body(&d, b"[{\"n\":1},{\"n\":2}]", BodyFormat::Json, 5).unwrap();
        assert_eq!(b.num_rows(), 2);
    }
}
