//! Counts every HTTP request by route and status, and times it.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub async fn record(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "other".into());
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    state
        .metrics
        .counter(
            "chute_http_requests_total",
            "HTTP requests by route and status",
            &[("route", &route), ("status", &status)],
        )
        .fetch_add(1, Ordering::Relaxed);
    state
        .metrics
        .histogram(
            "chute_http_request_duration_seconds",
            "HTTP request time until the response (acknowledgement latency for writes)",
            &[("route", &route)],
            chute_pipeline::metrics::LATENCY_BUCKETS,
        )
        .observe(started.elapsed().as_secs_f64());
    resp
}
