//! Operations endpoints: liveness, readiness with its reason, Prometheus metrics, JSON stats.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chute_pipeline::HealthState;
use std::sync::Arc;

pub async fn live() -> Response {
    axum::Json(serde_json::json!({ "status": "live" })).into_response()
}

/// 200 when the store answers and migrations are applied (healthy or degraded); 503 while
/// starting or while the store is unavailable, even though data is still accepted then.
pub async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let h = state.pipeline.health();
    let status = match h.state {
        HealthState::Healthy | HealthState::Degraded => StatusCode::OK,
        HealthState::Starting | HealthState::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    // A configured NATS stream that does not answer makes chute unready too.
    if let Some(reason) = state.nats.unready_reason() {
        let mut body = serde_json::to_value(&h).unwrap_or_default();
        body["nats"] = serde_json::Value::String(reason);
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    (status, axum::Json(h)).into_response()
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    state
        .metrics
        .gauge("chute_uptime_seconds", "seconds since chute started", &[])
        .set(state.started.elapsed().as_secs_f64());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render_prometheus())
        .into_response()
}

pub async fn stats(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(serde_json::json!({
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
        "store_target": state.store.target(),
        "health": state.pipeline.health(),
        "metrics": state.metrics.to_json(),
    }))
    .into_response()
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no such endpoint: {}", uri.path()))
}

/// `POST /debug/store-fault?mode=down|up` (only with `debug.fault_injection`): every insert
/// fails until `up`.
pub async fn store_fault(
    State(state): State<Arc<AppState>>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, ApiError> {
    let p = crate::query::pairs(&raw.unwrap_or_default());
    let fault = state.fault.as_ref().ok_or_else(|| ApiError::NotFound("fault injection is off".into()))?;
    match crate::query::one(&p, "mode") {
        Some("down") => fault.break_down(),
        Some("up") => fault.heal(),
        other => return Err(ApiError::BadRequest(format!("parameter mode: expected down or up, got {other:?}"))),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
