//! k6 endpoints: file import (`--out json` / `--out csv` bodies), runs, and run summaries equal
//! to k6's own end-of-test summary.

use crate::AppState;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chute_ingest::{ImportRequest, IngestError};
use chute_k6::summary::{RunOverview, SummaryRequest, any_summary};
use chute_k6::{ImportFormat, MetricType};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use tokio::io::AsyncWriteExt;

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::AlreadyImported { .. } | IngestError::RunExists { .. } => ApiError::Conflict(e.to_string()),
            IngestError::UnknownFormat { .. } => ApiError::BadRequest(e.to_string()),
            IngestError::K6(k) => k.into(),
            IngestError::Pipeline(p) => p.into(),
            IngestError::Store(s) => s.into(),
            IngestError::Io { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

use crate::query::one;

fn params(raw: Option<String>) -> Vec<(String, String)> {
    crate::query::pairs(&raw.unwrap_or_default())
}

fn flag(p: &[(String, String)], key: &str) -> Result<bool, ApiError> {
    match one(p, key) {
        None | Some("false") | Some("0") => Ok(false),
        Some("") | Some("true") | Some("1") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!("parameter {key}: expected true or false, got {other:?}"))),
    }
}

/// `POST /api/v1/k6/import?name=&run_id=&replace=&format=`: the body is a k6 output file.
pub async fn import(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let p = params(raw);
    let replace = flag(&p, "replace")?;
    let format = match one(&p, "format") {
        None | Some("") => None,
        Some("json") => Some(ImportFormat::Json),
        Some("csv") => Some(ImportFormat::Csv),
        Some(other) => {
            return Err(ApiError::BadRequest(format!("parameter format: expected json or csv, got {other:?}")));
        }
    };
    let run_id = one(&p, "run_id").filter(|s| !s.is_empty()).map(str::to_string);
    let name = one(&p, "name").filter(|s| !s.is_empty()).unwrap_or("upload").to_string();

    // The body goes to a file first: it is read twice (hash, then decode) and may be large.
    tokio::fs::create_dir_all(&state.tmp_dir).await.map_err(|e| ApiError::Internal(format!("tmp dir: {e}")))?;
    let path = state.tmp_dir.join(format!("import-{:016x}", rand_u64()));
    let _cleanup = RemoveOnDrop(path.clone());
    let mut file = tokio::fs::File::create(&path).await.map_err(|e| ApiError::Internal(format!("tmp file: {e}")))?;
    let limit = state.config.limits.max_import_bytes.get();
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("cannot read request body: {e}")))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(ApiError::BadRequest(format!(
                "import body is larger than the limit of {limit} bytes (limits.max_import_bytes)"
            )));
        }
        file.write_all(&chunk).await.map_err(|e| ApiError::Internal(format!("tmp file: {e}")))?;
    }
    file.flush().await.map_err(|e| ApiError::Internal(format!("tmp file: {e}")))?;
    drop(file);
    if written == 0 {
        return Err(ApiError::BadRequest("the import body is empty".into()));
    }
    let report = state
        .importer
        .import(ImportRequest { path: path.clone(), name, run_id, replace, format }, Arc::new(AtomicU64::new(0)))
        .await?;
    Ok(axum::Json(report).into_response())
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(e.to_string()))?
}

/// `GET /api/v1/k6/runs?limit=&offset=`: runs, newest first.
pub async fn runs(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let p = params(raw);
    let num = |key: &str, default: u64, max: u64| -> Result<u64, ApiError> {
        match one(&p, key) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| {
                ApiError::BadRequest(format!("parameter {key}: expected a whole number up to {max}, got {v:?}"))
            }),
        }
    };
    let limit = num("limit", 100, 1000)?;
    let offset = num("offset", 0, u64::MAX / 2)?;
    let store = state.store.clone();
    // Runs of k6's aggregated outputs (opentelemetry, prometheus-rw) are listed beside the
    // sample runs, newest first.
    let runs = blocking(move || {
        let mut runs = chute_store::queries::k6::runs(store.as_ref(), limit.saturating_add(offset), 0)?;
        runs.extend(chute_store::queries::k6_outputs::runs(store.as_ref())?.iter().map(|r| r.info()));
        runs.sort_by(|a, b| b.last_sample_us.cmp(&a.last_sample_us).then_with(|| a.run_id.cmp(&b.run_id)));
        Ok(runs.into_iter().skip(offset as usize).take(limit as usize).collect::<Vec<_>>())
    })
    .await?;
    let runs: Vec<RunOverview> = runs.into_iter().map(RunOverview::from).collect();
    Ok(axum::Json(serde_json::json!({ "runs": runs, "limit": limit, "offset": offset })).into_response())
}

/// `GET /api/v1/k6/runs/{id}`.
pub async fn run(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let store = state.store.clone();
    let id2 = id.clone();
    let r = blocking(move || {
        Ok(match chute_store::queries::k6::run(store.as_ref(), &id2)? {
            Some(r) => Some(r),
            None => chute_store::queries::k6_outputs::run(store.as_ref(), &id2)?.map(|r| r.info()),
        })
    })
    .await?;
    match r {
        Some(r) => Ok(axum::Json(RunOverview::from(r)).into_response()),
        None => Err(ApiError::NotFound(format!("run {id:?} not found (no samples are stored for it)"))),
    }
}

/// `GET /api/v1/k6/runs/{id}/summary?threshold=METRIC:EXPR&metric_type=METRIC:TYPE&format=text`.
pub async fn summary_get(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = params(raw);
    let mut req = SummaryRequest::default();
    let mut text = false;
    for (k, v) in &p {
        match k.as_str() {
            "threshold" => {
                let (m, e) = chute_k6::thresholds::split_metric_expression(v).ok_or_else(|| {
                    ApiError::BadRequest(format!("parameter threshold: expected METRIC:EXPRESSION, got {v:?}"))
                })?;
                req.thresholds.entry(m.to_string()).or_default().push(e.to_string());
            }
            "metric_type" => {
                let (m, t) = v.split_once(':').ok_or_else(|| {
                    ApiError::BadRequest(format!("parameter metric_type: expected METRIC:TYPE, got {v:?}"))
                })?;
                let t: MetricType = t
                    .parse()
                    .map_err(|e: chute_k6::K6Error| ApiError::BadRequest(format!("parameter metric_type: {e}")))?;
                req.metric_types.insert(m.to_string(), t);
            }
            "format" => match v.as_str() {
                "text" => text = true,
                "json" | "" => text = false,
                other => {
                    return Err(ApiError::BadRequest(format!(
                        "parameter format: expected json or text, got {other:?}"
                    )));
                }
            },
            other => return Err(ApiError::BadRequest(format!("unknown parameter {other:?}"))),
        }
    }
    summarize(state, id, req, text).await
}

/// `POST /api/v1/k6/runs/{id}/summary` with `{"thresholds": {...}, "metric_types": {...}}`.
pub async fn summary_post(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let p = params(raw);
    let text = one(&p, "format") == Some("text");
    let raw = crate::body::read_raw(body, 1 << 20).await?;
    let req: SummaryRequest = if raw.iter().all(u8::is_ascii_whitespace) {
        SummaryRequest::default()
    } else {
        serde_json::from_slice(&raw).map_err(|e| ApiError::BadRequest(format!("summary request body: {e}")))?
    };
    summarize(state, id, req, text).await
}

async fn summarize(state: Arc<AppState>, id: String, req: SummaryRequest, text: bool) -> Result<Response, ApiError> {
    let store = state.store.clone();
    // A sample run, else a run of k6's opentelemetry or prometheus-rw output.
    let summary = blocking(move || Ok(any_summary(store.as_ref(), &id, &req)?)).await?;
    if text {
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], summary.render_text()).into_response());
    }
    Ok(axum::Json(summary).into_response())
}
