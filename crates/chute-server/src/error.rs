//! The one place where errors become HTTP statuses. Every handler returns [`ApiError`]; the
//! body is JSON `{"error": "..."}` (InfluxDB's shape, which its clients print), and
//! backpressure carries `Retry-After`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chute_pipeline::PipelineError;
use chute_store::{ErrorKind, StoreError};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is wrong: the message names what and where.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The request body (after decompression) is larger than the configured limit.
    #[error("request body is larger than the limit of {limit} bytes (limits.max_body_bytes)")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The same thing was already done (an import of the same file).
    #[error("{0}")]
    Conflict(String),
    #[error("{reason}")]
    Backpressure { reason: String, retry_after: Duration },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Backpressure { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC code for this error (OTLP/gRPC answers, and OTLP/HTTP error bodies).
    pub fn grpc_code(&self) -> tonic::Code {
        match self {
            ApiError::BadRequest(_) | ApiError::UnsupportedMediaType(_) => tonic::Code::InvalidArgument,
            ApiError::NotFound(_) => tonic::Code::NotFound,
            ApiError::TooLarge { .. } => tonic::Code::ResourceExhausted,
            ApiError::Conflict(_) => tonic::Code::AlreadyExists,
            ApiError::Backpressure { .. } => tonic::Code::ResourceExhausted,
            ApiError::Unavailable(_) => tonic::Code::Unavailable,
            ApiError::Unauthorized(_) => tonic::Code::Unauthenticated,
            ApiError::Forbidden(_) => tonic::Code::PermissionDenied,
            ApiError::Internal(_) => tonic::Code::Internal,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Backpressure { retry_after, .. } => Some(*retry_after),
            ApiError::Unavailable(_) => Some(Duration::from_secs(5)),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), error = %self, "request failed");
        } else {
            tracing::debug!(status = status.as_u16(), error = %self, "request refused");
        }
        let retry = self.retry_after();
        let mut resp = (status, axum::Json(serde_json::json!({ "error": self.to_string() }))).into_response();
        if let Some(r) = retry
            && let Ok(v) = HeaderValue::from_str(&r.as_secs().max(1).to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Backpressure { reason, retry_after } => ApiError::Backpressure { reason, retry_after },
            PipelineError::Closed => ApiError::Unavailable("chute is shutting down".into()),
            PipelineError::Store(m) => ApiError::Unavailable(format!("store: {m}")),
            PipelineError::Spool(m) => ApiError::Internal(format!("spool: {m}")),
            PipelineError::Setup(m) => ApiError::Internal(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e.kind {
            ErrorKind::Transient | ErrorKind::Unavailable | ErrorKind::MissingTable => {
                ApiError::Unavailable(format!("store: {}", e.message))
            }
            ErrorKind::Auth => ApiError::Internal(format!("store refused chute's credentials: {}", e.message)),
            ErrorKind::Data | ErrorKind::Schema => ApiError::Internal(format!("store: {}", e.message)),
        }
    }
}

impl From<chute_promrw::PromRwError> for ApiError {
    fn from(e: chute_promrw::PromRwError) -> Self {
        match e {
            chute_promrw::PromRwError::TooLarge { limit, .. } => ApiError::TooLarge { limit },
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<chute_events::EventsError> for ApiError {
    fn from(e: chute_events::EventsError) -> Self {
        match e {
            chute_events::EventsError::Body { .. } => {
                ApiError::BadRequest(format!("{e}; nothing of this request was stored"))
            }
            // The table's columns, not the request, are what the decoder cannot fill.
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<chute_k6::K6Error> for ApiError {
    fn from(e: chute_k6::K6Error) -> Self {
        use chute_k6::K6Error as K;
        match e {
            K::Store(se) => se.into(),
            K::RunNotFound(_) => ApiError::NotFound(e.to_string()),
            K::Internal(_) => ApiError::Internal(e.to_string()),
            K::Emit { source, .. } => match source.downcast::<PipelineError>() {
                Ok(pe) => (*pe).into(),
                Err(other) => ApiError::Internal(other.to_string()),
            },
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

/// The HTTP status ClickHouse's HTTP interface answers for an error code (as ClickHouse's
/// `exceptionCodeToHTTPStatus` does), for chute's ClickHouse-compatible interface.
pub fn clickhouse_status(code: i32) -> StatusCode {
    match code {
        // REQUIRED_PASSWORD.
        194 => StatusCode::UNAUTHORIZED,
        // UNKNOWN_USER, WRONG_PASSWORD, AUTHENTICATION_FAILED, SET_NON_GRANTED_ROLE, ACCESS_DENIED.
        192 | 193 | 516 | 512 | 497 => StatusCode::FORBIDDEN,
        // BAD_ARGUMENTS, CANNOT_PARSE_*, SYNTAX_ERROR, INCORRECT_DATA, TYPE_MISMATCH, THERE_IS_NO_COLUMN,
        // ILLEGAL_COLUMN, DUPLICATE_COLUMN, AST errors, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, regexps.
        36 | 6 | 25 | 26 | 27 | 38 | 41 | 72 | 376 | 427 | 62 | 117 | 53 | 8 | 44 | 15 | 167 | 168 | 223 | 321 => {
            StatusCode::BAD_REQUEST
        }
        // UNKNOWN_TABLE, _FUNCTION, _IDENTIFIER, _TYPE, _STORAGE, _DATABASE, _SETTING, _DIRECTION_OF_SORTING,
        // _AGGREGATE_FUNCTION, _FORMAT, _DATABASE_ENGINE, _TYPE_OF_QUERY, _ROLE.
        60 | 46 | 47 | 50 | 56 | 81 | 115 | 66 | 63 | 73 | 336 | 57 | 511 => StatusCode::NOT_FOUND,
        // QUERY_IS_TOO_LARGE.
        229 => StatusCode::PAYLOAD_TOO_LARGE,
        // NOT_IMPLEMENTED.
        48 => StatusCode::NOT_IMPLEMENTED,
        // SOCKET_TIMEOUT, CANNOT_OPEN_FILE, CANNOT_SCHEDULE_TASK.
        209 | 76 | 439 => StatusCode::SERVICE_UNAVAILABLE,
        // TIMEOUT_EXCEEDED.
        159 => StatusCode::REQUEST_TIMEOUT,
        // UNSUPPORTED_MEDIA_TYPE.
        415 => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
