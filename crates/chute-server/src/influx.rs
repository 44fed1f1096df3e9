//! The InfluxDB write API as k6 (`--out influxdb`) and Telegraf use it: `/query` for
//! `CREATE DATABASE` / `SHOW DATABASES`, `/write` (v1) and `/api/v2/write` (v2), `/ping`.
//!
//! A write is all-or-nothing: a body with one bad line is refused with 400 naming the line, and
//! nothing of it is stored. Success is 204, as InfluxDB answers.

use crate::error::ApiError;
use crate::{AppState, body};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chute_influx::Precision;
use chute_k6::influx::{InfluxWriteContext, decode_influx_write, source_key};
use chute_pipeline::Admission;
use chute_tables::{influx::POINTS, k6::SAMPLES};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const VERSION: &str = "1.8.10-chute";

fn with_version(mut r: Response) -> Response {
    r.headers_mut().insert("X-Influxdb-Version", HeaderValue::from_static(VERSION));
    r
}

pub async fn ping() -> Response {
    with_version(StatusCode::NO_CONTENT.into_response())
}

/// `/query`: the statements k6 and client libraries send before writing.
pub async fn query(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut q = params.get("q").cloned().unwrap_or_default();
    if q.is_empty() {
        // Also accepted as a form body, as InfluxDB does.
        let raw = body::read_raw(body, 1 << 20).await?;
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let form = crate::query::pairs(&String::from_utf8_lossy(&raw));
            q = crate::query::one(&form, "q").unwrap_or_default().to_string();
        }
    }
    if q.trim().is_empty() {
        return Err(ApiError::BadRequest("missing required parameter \"q\"".into()));
    }
    let mut results = Vec::new();
    for (i, stmt) in q.split(';').map(str::trim).filter(|s| !s.is_empty()).enumerate() {
        let words: Vec<&str> = stmt.split_whitespace().collect();
        let upper: Vec<String> = words.iter().take(2).map(|w| w.to_ascii_uppercase()).collect();
        let result = match upper.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["CREATE", "DATABASE"] => match words.get(2) {
                Some(name) => {
                    let name = name.trim_matches('"').to_string();
                    state.influx_databases.lock().unwrap_or_else(|p| p.into_inner()).insert(name);
                    serde_json::json!({ "statement_id": i })
                }
                None => serde_json::json!({ "statement_id": i, "error": "CREATE DATABASE needs a name" }),
            },
            ["SHOW", "DATABASES"] => {
                let dbs = state.influx_databases.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let values: Vec<Vec<String>> = dbs.into_iter().map(|d| vec![d]).collect();
                serde_json::json!({
                    "statement_id": i,
                    "series": [{ "name": "databases", "columns": ["name"], "values": values }]
                })
            }
            _ => serde_json::json!({
                "statement_id": i,
                "error": format!(
                    "chute accepts InfluxDB writes only; {stmt:?} is not supported \
                     (query the ClickHouse tables k6_samples and influx_points instead)"
                ),
            }),
        };
        results.push(result);
    }
    Ok(with_version(axum::Json(serde_json::json!({ "results": results })).into_response()))
}

/// `/write?db=&precision=&rp=&consistency=` (InfluxDB v1).
pub async fn write_v1(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let db = params.get("db").map(String::as_str).unwrap_or("").trim().to_string();
    if db.is_empty() {
        return Err(ApiError::BadRequest("database is required (the db parameter of /write)".into()));
    }
    let precision = Precision::from_v1(params.get("precision").map(String::as_str).unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    write(state, db, precision, headers, body).await
}

/// `/api/v2/write?org=&bucket=&precision=` (InfluxDB v2). The bucket plays the database's part.
pub async fn write_v2(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bucket = params.get("bucket").map(String::as_str).unwrap_or("").trim().to_string();
    if bucket.is_empty() {
        return Err(ApiError::BadRequest("bucket is required (the bucket parameter of /api/v2/write)".into()));
    }
    let precision = Precision::from_v2(params.get("precision").map(String::as_str).unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    write(state, bucket, precision, headers, body).await
}

async fn write(
    state: Arc<AppState>,
    db: String,
    precision: Precision,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let limit = state.config.limits.max_body_bytes.get();
    let data = body::read(&headers, body, limit).await?;
    state.pipeline.check_room(&source_key(&db))?;
    let from_k6 = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.to_ascii_lowercase().starts_with("k6"));
    let ctx = InfluxWriteContext {
        k6: from_k6 || state.config.k6.influx_databases.iter().any(|d| d == &db),
        database: db.clone(),
        received_at_ns: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0),
    };
    let runs = state.runs.clone();
    // Large bodies are decoded off the async workers.
    let decoded = if data.len() > (1 << 20) {
        tokio::task::spawn_blocking(move || decode_influx_write(&data, precision, &ctx, &runs))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    } else {
        decode_influx_write(&data, precision, &ctx, &runs)
    }?;
    state.influx_databases.lock().unwrap_or_else(|p| p.into_inner()).insert(db.clone());
    let mut batches = Vec::with_capacity(2);
    if let Some(b) = decoded.samples {
        batches.push((SAMPLES.name.to_string(), b));
    }
    if let Some(b) = decoded.points {
        batches.push((POINTS.name.to_string(), b));
    }
    state.pipeline.submit_all(&source_key(&db), batches, Admission::Refuse).await?;
    Ok(with_version(StatusCode::NO_CONTENT.into_response()))
}
