//! OpenTelemetry OTLP receivers: OTLP/HTTP (`POST /v1/logs|traces|metrics`, protobuf or JSON,
//! gzip/zstd/deflate request compression) and OTLP/gRPC (the collector services' `Export`
//! methods). Both decode with `chute-otlp`, submit to the pipeline and answer as the OTLP
//! specification asks: `partial_success` for refused items; 400 / INVALID_ARGUMENT for bodies that
//! cannot be decoded; 429 / RESOURCE_EXHAUSTED with Retry-After / RetryInfo when chute is full;
//! 503 / UNAVAILABLE while shutting down. Error bodies are `google.rpc.Status`, in the request's
//! encoding.

use crate::error::ApiError;
use crate::{AppState, body};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::{BufMut, Bytes};
use chute_otlp::{Encoding, Limits, Signal};
use chute_pipeline::Admission;
use chute_protowire::{put_len, put_varint};
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn limits(state: &AppState) -> Limits {
    Limits {
        max_attributes: state.config.otlp.max_attributes,
        max_attribute_value_len: state.config.otlp.max_attribute_value_bytes.get() as usize,
    }
}

fn signal_name(s: Signal) -> &'static str {
    match s {
        Signal::Logs => "logs",
        Signal::Traces => "traces",
        Signal::Metrics => "metrics",
    }
}

/// Decodes one export request and submits it. Returns (rejected items, rejection message).
async fn ingest(
    state: &Arc<AppState>,
    transport: &'static str,
    signal: Signal,
    encoding: Encoding,
    body: Bytes,
) -> Result<(u64, Option<String>), ApiError> {
    let source = format!("otlp-{transport}");
    state.pipeline.check_room(&source)?;
    let limits = limits(state);
    let decoded = if body.len() > 256 * 1024 {
        tokio::task::spawn_blocking(move || chute_otlp::decode(signal, encoding, &body, &limits))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    } else {
        chute_otlp::decode(signal, encoding, &body, &limits)
    }
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;

    let sig = signal_name(signal);
    let m = &state.metrics;
    let count = |name: &'static str, help: &'static str, n: u64| {
        if n > 0 {
            m.counter(name, help, &[("signal", sig), ("transport", transport)]).fetch_add(n, Ordering::Relaxed);
        }
    };
    count("chute_otlp_items_accepted_total", "OTLP log records, spans or data points decoded", decoded.accepted);
    count("chute_otlp_items_rejected_total", "OTLP items refused (reported in partial_success)", decoded.rejected);
    count(
        "chute_otlp_attributes_truncated_total",
        "attribute values cut to otlp.max_attribute_value_bytes",
        decoded.truncated_attributes,
    );
    count(
        "chute_otlp_attributes_dropped_total",
        "attributes dropped beyond otlp.max_attributes per item",
        decoded.dropped_attributes,
    );

    let batches: Vec<(String, arrow_array::RecordBatch)> =
        decoded.batches.into_iter().map(|(t, b)| (t.to_string(), b)).collect();
    state.pipeline.submit_all(&source, batches, Admission::Refuse).await?;
    Ok((decoded.rejected, decoded.rejection_message))
}

// ---------------------------------------------------------------------------------------------
// OTLP/HTTP

pub fn http_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/logs", post(http_logs))
        .route("/v1/traces", post(http_traces))
        .route("/v1/metrics", post(http_metrics))
        .fallback(crate::ops::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::http_metrics::record))
        .with_state(state)
}

async fn http_logs(State(s): State<Arc<AppState>>, h: HeaderMap, b: Body) -> Response {
    http_export(s, Signal::Logs, h, b).await
}
async fn http_traces(State(s): State<Arc<AppState>>, h: HeaderMap, b: Body) -> Response {
    http_export(s, Signal::Traces, h, b).await
}
async fn http_metrics(State(s): State<Arc<AppState>>, h: HeaderMap, b: Body) -> Response {
    http_export(s, Signal::Metrics, h, b).await
}

fn content_encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match mime.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        "" => Err(ApiError::UnsupportedMediaType(
            "missing Content-Type: OTLP/HTTP takes application/x-protobuf or application/json".into(),
        )),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Type {other:?}: OTLP/HTTP takes application/x-protobuf or application/json"
        ))),
    }
}

async fn http_export(state: Arc<AppState>, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    // Errors are answered in the request's encoding when it is known, else protobuf.
    let encoding = match content_encoding(&headers) {
        Ok(e) => e,
        Err(e) => return otlp_error(e, Encoding::Protobuf),
    };
    let limit = state.config.limits.max_body_bytes.get();
    let data = match body::read(&headers, body, limit).await {
        Ok(d) => d,
        Err(e) => return otlp_error(e, encoding),
    };
    match ingest(&state, "http", signal, encoding, data).await {
        Ok((rejected, message)) => {
            let bytes = chute_otlp::encode_response(signal, encoding, rejected, message.as_deref());
            let mut r = (StatusCode::OK, bytes).into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime(encoding)));
            r
        }
        Err(e) => otlp_error(e, encoding),
    }
}

fn mime(e: Encoding) -> &'static str {
    match e {
        Encoding::Protobuf => "application/x-protobuf",
        Encoding::Json => "application/json",
    }
}

/// An OTLP/HTTP error: the status ApiError maps to, a `google.rpc.Status` body.
fn otlp_error(e: ApiError, encoding: Encoding) -> Response {
    let status = e.status();
    let retry = e.retry_after();
    if status.is_server_error() {
        tracing::warn!(status = status.as_u16(), error = %e, "otlp request failed");
    }
    let message = e.to_string();
    let code = e.grpc_code() as i32;
    let body = match encoding {
        Encoding::Protobuf => rpc_status(code, &message, retry).to_vec(),
        Encoding::Json => {
            serde_json::json!({ "code": code, "message": message, "details": [] }).to_string().into_bytes()
        }
    };
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime(encoding)));
    if let Some(d) = retry
        && let Ok(v) = HeaderValue::from_str(&d.as_secs().max(1).to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

// Minimal protobuf writing for google.rpc.Status / RetryInfo (no generated code needed).

/// `google.rpc.Status { code, message, details: [RetryInfo] }`, encoded.
pub(crate) fn rpc_status(code: i32, message: &str, retry_after: Option<std::time::Duration>) -> Bytes {
    let mut out = Vec::new();
    if code != 0 {
        put_varint(&mut out, 1 << 3);
        put_varint(&mut out, code as i64 as u64);
    }
    if !message.is_empty() {
        put_len(&mut out, 2, message.as_bytes());
    }
    if let Some(d) = retry_after {
        // google.protobuf.Duration { seconds = 1 }
        let mut duration = Vec::new();
        put_varint(&mut duration, 1 << 3);
        put_varint(&mut duration, d.as_secs().max(1));
        // google.rpc.RetryInfo { retry_delay = 1 }
        let mut retry = Vec::new();
        put_len(&mut retry, 1, &duration);
        // google.protobuf.Any { type_url = 1, value = 2 }
        let mut any = Vec::new();
        put_len(&mut any, 1, b"type.googleapis.com/google.rpc.RetryInfo");
        put_len(&mut any, 2, &retry);
        put_len(&mut out, 3, &any);
    }
    Bytes::from(out)
}

// ---------------------------------------------------------------------------------------------
// OTLP/gRPC

/// A codec that hands the raw message bytes to the handler and writes raw bytes back: the
/// messages are decoded by chute-otlp, which also encodes the responses.
#[derive(Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

fn to_status(e: ApiError) -> tonic::Status {
    let code = e.grpc_code();
    let msg = e.to_string();
    match e.retry_after() {
        Some(d) => tonic::Status::with_details(code, msg.clone(), rpc_status(code as i32, &msg, Some(d))),
        None => tonic::Status::new(code, msg),
    }
}

/// One OTLP collector service (`Export` is its only method).
#[derive(Clone)]
struct ExportService<const S: u8> {
    state: Arc<AppState>,
}

const LOGS: u8 = 0;
const TRACES: u8 = 1;
const METRICS: u8 = 2;

fn signal_of(s: u8) -> Signal {
    match s {
        LOGS => Signal::Logs,
        TRACES => Signal::Traces,
        _ => Signal::Metrics,
    }
}

impl tonic::server::NamedService for ExportService<LOGS> {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}
impl tonic::server::NamedService for ExportService<TRACES> {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}
impl tonic::server::NamedService for ExportService<METRICS> {
    const NAME: &'static str = "opentelemetry.proto.collector.metrics.v1.MetricsService";
}

struct ExportHandler {
    state: Arc<AppState>,
    signal: Signal,
}

impl tonic::server::UnaryService<Bytes> for ExportHandler {
    type Response = Vec<u8>;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<tonic::Response<Vec<u8>>, tonic::Status>> + Send>>;
    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let state = self.state.clone();
        let signal = self.signal;
        Box::pin(async move {
            let body = request.into_inner();
            match ingest(&state, "grpc", signal, Encoding::Protobuf, body).await {
                Ok((rejected, message)) => Ok(tonic::Response::new(chute_otlp::encode_response(
                    signal,
                    Encoding::Protobuf,
                    rejected,
                    message.as_deref(),
                ))),
                Err(e) => Err(to_status(e)),
            }
        })
    }
}

impl<const S: u8, B> tower_service::Service<axum::http::Request<B>> for ExportService<S>
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
    B::Data: Send,
{
    type Response = axum::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let state = self.state.clone();
        Box::pin(async move {
            if !req.uri().path().ends_with("/Export") {
                return Ok(tonic::Status::unimplemented(format!("no method {}", req.uri().path())).into_http());
            }
            let limit = state.config.limits.max_body_bytes.get() as usize;
            let mut grpc = tonic::server::Grpc::new(RawCodec)
                .max_decoding_message_size(limit)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
                .accept_compressed(tonic::codec::CompressionEncoding::Zstd)
                .send_compressed(tonic::codec::CompressionEncoding::Gzip);
            let handler = ExportHandler { state, signal: signal_of(S) };
            Ok(grpc.unary(handler, req).await)
        })
    }
}

/// The OTLP/gRPC services as a router (served over HTTP/2 by the same server stack).
pub fn grpc_router(state: Arc<AppState>) -> Router {
    let mut routes = tonic::service::Routes::default();
    routes = routes
        .add_service(ExportService::<LOGS> { state: state.clone() })
        .add_service(ExportService::<TRACES> { state: state.clone() })
        .add_service(ExportService::<METRICS> { state });
    routes.into_axum_router()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpc_status_with_retry_info_encodes_code_message_and_details() {
        let b = rpc_status(8, "full", Some(std::time::Duration::from_secs(2)));
        // code = 8, message = "full", one details entry naming RetryInfo.
        assert_eq!(&b[..2], &[0x08, 0x08]);
        assert_eq!(&b[2..8], &[0x12, 0x04, b'f', b'u', b'l', b'l']);
        let rest = &b[8..];
        assert_eq!(rest[0], 0x1a);
        assert!(rest.windows(9).any(|w| w == b"RetryInfo"));
    }
}
