//! Prometheus remote write 1.0 receiver: `POST /api/v1/write` with a snappy-compressed
//! protobuf `WriteRequest` (Prometheus' `remote_write`, k6's experimental-prometheus-rw output).
//!
//! The body is decoded completely by `chute-promrw` before anything is submitted: a bad body
//! (snappy, protobuf, labels) is refused with 400 and a message, and nothing of it is stored.
//! 204 once the pipeline accepted every row (durable); 413 above `limits.max_body_bytes` (on
//! the wire or decompressed); 429 with Retry-After when chute is full, which Prometheus retries.
//! Limits per series come from `otlp.max_attributes` and `otlp.max_attribute_value_bytes`.

use crate::error::ApiError;
use crate::{AppState, body};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chute_pipeline::Admission;
use chute_promrw::{Decoded, Limits};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// The `source` of remote write batches in the pipeline (and the spool).
pub const SOURCE: &str = "prometheus-rw";

fn limits(state: &AppState) -> Limits {
    Limits {
        max_attributes: state.config.otlp.max_attributes,
        max_attribute_value_len: state.config.otlp.max_attribute_value_bytes.get() as usize,
        max_decoded_bytes: state.config.limits.max_body_bytes.get() as usize,
    }
}

/// Checks the headers remote write 1.0 requires: snappy and protobuf.
fn check_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    if !encoding.eq_ignore_ascii_case("snappy") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "remote write needs Content-Encoding: snappy (got {:?})",
            if encoding.is_empty() { "none" } else { encoding }
        )));
    }
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut parts = ct.split(';').map(str::trim);
    let mime = parts.next().unwrap_or("").to_ascii_lowercase();
    if mime != "application/x-protobuf" && mime != "application/protobuf" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "remote write needs Content-Type: application/x-protobuf (got {:?})",
            if ct.is_empty() { "none" } else { ct }
        )));
    }
    // Remote write 2.0 names its message; 1.0 sends none or prometheus.WriteRequest.
    if let Some(proto) = parts.find_map(|p| p.strip_prefix("proto=")) {
        let proto = proto.trim_matches('"');
        if proto != "prometheus.WriteRequest" {
            return Err(ApiError::UnsupportedMediaType(format!(
                "remote write message {proto:?} is not supported: chute takes remote write 1.0 (prometheus.WriteRequest)"
            )));
        }
    }
    Ok(())
}

/// `POST /api/v1/write`.
pub async fn write(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let refused = |reason: &'static str| {
        state
            .metrics
            .counter(
                "chute_promrw_requests_rejected_total",
                "remote write requests refused (nothing of them stored)",
                &[("reason", reason)],
            )
            .fetch_add(1, Ordering::Relaxed);
    };
    if let Err(e) = check_headers(&headers) {
        refused("headers");
        return Err(e);
    }
    let limit = state.config.limits.max_body_bytes.get();
    let raw = body::read_raw(body, limit).await.inspect_err(|e| {
        refused(if matches!(e, ApiError::TooLarge { .. }) { "too_large" } else { "body" });
    })?;
    state.pipeline.check_room(SOURCE)?;
    let limits = limits(&state);
    let decoded: Result<Decoded, _> = if raw.len() > 64 * 1024 {
        tokio::task::spawn_blocking(move || chute_promrw::decode(&raw, &limits))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    } else {
        chute_promrw::decode(&raw, &limits)
    };
    let decoded = decoded.map_err(|e| {
        refused(match e {
            chute_promrw::PromRwError::TooLarge { .. } => "too_large",
            _ => "invalid",
        });
        tracing::debug!(error = %e, "remote write refused");
        ApiError::from(e)
    })?;

    let m = &state.metrics;
    let count = |name: &'static str, help: &'static str, n: u64| {
        if n > 0 {
            m.counter(name, help, &[]).fetch_add(n, Ordering::Relaxed);
        }
    };
    count("chute_promrw_samples_total", "remote write float samples decoded", decoded.samples);
    count("chute_promrw_histograms_total", "remote write native histogram samples decoded", decoded.histograms);
    count("chute_promrw_exemplars_total", "remote write exemplars kept", decoded.exemplars);
    count(
        "chute_promrw_stale_markers_total",
        "remote write staleness markers (stored with Flags = 1)",
        decoded.stale_markers,
    );
    count(
        "chute_promrw_attributes_truncated_total",
        "remote write label values cut to otlp.max_attribute_value_bytes",
        decoded.truncated_attributes,
    );
    count(
        "chute_promrw_attributes_dropped_total",
        "remote write labels dropped beyond otlp.max_attributes per series",
        decoded.dropped_attributes,
    );

    let batches: Vec<(String, arrow_array::RecordBatch)> =
        decoded.batches.into_iter().map(|(t, b)| (t.to_string(), b)).collect();
    state.pipeline.submit_all(SOURCE, batches, Admission::Refuse).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(enc: Option<&str>, ct: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(e) = enc {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_str(e).unwrap());
        }
        if let Some(c) = ct {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn remote_write_1_0_headers_are_required() {
        assert!(check_headers(&headers(Some("snappy"), Some("application/x-protobuf"))).is_ok());
        assert!(
            check_headers(&headers(Some("snappy"), Some("application/x-protobuf;proto=prometheus.WriteRequest")))
                .is_ok()
        );
        let e = check_headers(&headers(None, Some("application/x-protobuf"))).unwrap_err();
        assert!(e.to_string().contains("Content-Encoding: snappy"), "{e}");
        let e = check_headers(&headers(Some("snappy"), Some("text/plain"))).unwrap_err();
        assert!(e.to_string().contains("application/x-protobuf"), "{e}");
        let e = check_headers(&headers(
            Some("snappy"),
            Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
        ))
        .unwrap_err();
        assert!(e.to_string().contains("remote write 1.0"), "{e}");
    }
}
