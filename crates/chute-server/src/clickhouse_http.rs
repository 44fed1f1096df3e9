//! The ClickHouse-compatible HTTP interface over the embedded engine (`clickhouse_http.*`): what
//! ClickHouse's own clients (clickhouse-connect, the Rust `clickhouse` crate, Grafana, curl) send
//! to port 8123, answered the way a ClickHouse server answers.
//!
//! - `GET`/`POST /?query=...`, or the query in the body (then a `query` parameter is followed by
//!   a newline and the body, which is an INSERT's data), `multipart/form-data` bodies with
//!   `query` and `param_*` fields (the Rust crate sends query parameters that way);
//! - `database`, `default_format`, `query_id`, `param_<name>` (query parameters), `readonly`;
//!   every other URL parameter is a setting for this request only, except ClickHouse's
//!   HTTP-handler parameters, which are accepted and ignored (sessions, progress headers);
//! - users from `clickhouse_http.users`: `X-ClickHouse-User`/`X-ClickHouse-Key`, HTTP basic
//!   authentication, or `user`/`password` URL parameters; a read-only user (and any `GET`) may only
//!   read, as in ClickHouse (code 164, READONLY);
//! - request bodies compressed with gzip, deflate, zstd or lz4 (`Content-Encoding`), responses
//!   compressed when `enable_http_compression=1` and `Accept-Encoding` names one of those;
//! - errors as ClickHouse writes them: `Code: N. DB::Exception: ...` in the body, the code in
//!   `X-ClickHouse-Exception-Code`, ClickHouse's HTTP status for the code (see
//!   [`crate::error::clickhouse_status`]);
//! - `X-ClickHouse-Summary`, `X-ClickHouse-Format`, `X-ClickHouse-Query-Id`,
//!   `X-ClickHouse-Server-Display-Name` on every answer.
//!
//! Statements run in `spawn_blocking`, at most `max_concurrent_queries` at a time (more wait).
//! The engine side (formats, read-only check, private connections) is `chute_store::session`.

use crate::body;
use crate::error::clickhouse_status;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use chute_config::{ClickhouseUser, Config};
use chute_store::StoreError;
use chute_store::embedded::EmbeddedStore;
use chute_store::session::{self, ReadOnly};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::Semaphore;

/// ClickHouse's AUTHENTICATION_FAILED.
pub const AUTHENTICATION_FAILED: i32 = 516;
/// ClickHouse's NOT_IMPLEMENTED.
const NOT_IMPLEMENTED: i32 = 48;
/// ClickHouse's BAD_ARGUMENTS.
const BAD_ARGUMENTS: i32 = 36;
/// ClickHouse's QUERY_IS_TOO_LARGE (HTTP 413).
const QUERY_IS_TOO_LARGE: i32 = 229;

/// URL parameters of ClickHouse's HTTP handler that are not settings: accepted, and ignored
/// (every request here is a session of its own, progress is not streamed).
const HANDLER_PARAMS: &[&str] = &[
    "session_id",
    "session_timeout",
    "session_check",
    "wait_end_of_query",
    "buffer_size",
    "send_progress_in_http_headers",
    "http_headers_progress_interval_ms",
    "http_zlib_compression_level",
    "http_response_buffer_size",
    "http_wait_end_of_query",
    "quota_key",
    "stacktrace",
    "role",
    "client_protocol_version",
    "cancel_http_readonly_queries_on_client_close",
    "add_http_cors_header",
    "http_native_compression_disable_checksumming_on_decompress",
    "max_query_size",
];

/// What the interface's handlers reach.
pub struct ClickhouseHttp {
    store: EmbeddedStore,
    users: Vec<ClickhouseUser>,
    permits: Arc<Semaphore>,
    display_name: String,
    tmp_dir: PathBuf,
    max_body: u64,
}

impl ClickhouseHttp {
    pub fn new(config: &Config, store: EmbeddedStore) -> Arc<ClickhouseHttp> {
        let display_name = if config.clickhouse_http.display_name.is_empty() {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "chute".into())
        } else {
            config.clickhouse_http.display_name.clone()
        };
        Arc::new(ClickhouseHttp {
            store,
            users: config.clickhouse_http.users.clone(),
            permits: Arc::new(Semaphore::new(config.clickhouse_http.max_concurrent_queries.max(1) as usize)),
            display_name,
            tmp_dir: PathBuf::from(&config.data_dir).join("tmp").join("clickhouse-http"),
            max_body: config.limits.max_body_bytes.get(),
        })
    }
}

/// The interface's routes.
pub fn router(state: Arc<ClickhouseHttp>) -> Router {
    Router::new()
        .route("/", get(handle).post(handle))
        .route("/ping", get(ping).head(ping))
        .route("/replicas_status", get(ping))
        .fallback(not_found)
        .with_state(state)
}

async fn ping() -> &'static str {
    "Ok.\n"
}

async fn not_found(uri: Uri) -> Response {
    let e = ChError::new(
        BAD_ARGUMENTS,
        format!("There is no handle {} (only /, /ping and /replicas_status are served here)", uri.path()),
    );
    let mut r = e.into_response();
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// An error as ClickHouse reports it.
#[derive(Debug)]
struct ChError {
    code: i32,
    message: String,
}

impl ChError {
    fn new(code: i32, message: impl Into<String>) -> ChError {
        ChError { code, message: message.into() }
    }
}

impl From<StoreError> for ChError {
    fn from(e: StoreError) -> ChError {
        // Errors without a ClickHouse code are chute's own (files, the engine being closed).
        ChError { code: e.code.unwrap_or(1001), message: e.message }
    }
}

impl IntoResponse for ChError {
    fn into_response(self) -> Response {
        let status = clickhouse_status(self.code);
        let text = if self.message.starts_with("Code: ") {
            self.message.clone()
        } else {
            format!("Code: {}. DB::Exception: {}", self.code, self.message)
        };
        tracing::debug!(code = self.code, status = status.as_u16(), error = %text, "clickhouse http request refused");
        let mut resp = (status, format!("{}\n", text.trim_end())).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=UTF-8"));
        if let Ok(v) = HeaderValue::from_str(&self.code.to_string()) {
            h.insert(HeaderName::from_static("x-clickhouse-exception-code"), v);
        }
        resp
    }
}

/// A request's URL parameters, sorted by what they are.
#[derive(Default)]
struct Params {
    query: Option<String>,
    database: Option<String>,
    default_format: Option<String>,
    query_id: Option<String>,
    user: Option<String>,
    password: Option<String>,
    readonly: bool,
    http_compression: bool,
    settings: Vec<(String, String)>,
    params: Vec<(String, String)>,
}

impl Params {
    fn add(&mut self, name: String, value: String) -> Result<(), ChError> {
        match name.as_str() {
            "query" => self.query = Some(value),
            "database" => self.database = Some(value),
            "default_format" => self.default_format = Some(value),
            "query_id" => self.query_id = Some(value),
            "user" => self.user = Some(value),
            "password" => self.password = Some(value),
            "readonly" => self.readonly = value.trim() != "0",
            "enable_http_compression" => self.http_compression = value.trim() == "1",
            "compress" | "decompress" if value.trim() != "0" => {
                return Err(ChError::new(
                    NOT_IMPLEMENTED,
                    format!(
                        "{name}=1 (ClickHouse's native block compression) is not supported by chute's \
                         ClickHouse HTTP interface: use HTTP compression (Content-Encoding / enable_http_compression=1)"
                    ),
                ));
            }
            "compress" | "decompress" => {}
            n if HANDLER_PARAMS.contains(&n) => {}
            n => match n.strip_prefix("param_") {
                Some(p) => self.params.push((p.to_string(), value)),
                None => self.settings.push((name, value)),
            },
        }
        Ok(())
    }
}

async fn handle(
    State(s): State<Arc<ClickhouseHttp>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let query_id = new_query_id();
    let mut resp = match run(&s, method, &uri, &headers, body, started).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    let h = resp.headers_mut();
    let qid = h
        .remove("x-clickhouse-query-id")
        .unwrap_or_else(|| HeaderValue::from_str(&query_id).unwrap_or(HeaderValue::from_static("")));
    h.insert(HeaderName::from_static("x-clickhouse-query-id"), qid);
    if let Ok(v) = HeaderValue::from_str(&s.display_name) {
        h.insert(HeaderName::from_static("x-clickhouse-server-display-name"), v);
    }
    h.insert(HeaderName::from_static("x-clickhouse-timezone"), HeaderValue::from_static("UTC"));
    if !h.contains_key("x-clickhouse-summary") {
        h.insert(HeaderName::from_static("x-clickhouse-summary"), summary(0, 0, 0, started));
    }
    resp
}

fn new_query_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let a = (nanos as u64) ^ (std::process::id() as u64).rotate_left(32);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0xfff) as u16,
        (n & 0xfff) as u16,
        (n >> 12) ^ ((nanos >> 64) as u64) ^ (a & 0xffff_ffff_ffff)
    )
}

fn summary(written: u64, result_rows: u64, result_bytes: u64, started: Instant) -> HeaderValue {
    let v = format!(
        "{{\"read_rows\":\"0\",\"read_bytes\":\"0\",\"written_rows\":\"{written}\",\"written_bytes\":\"0\",\
         \"total_rows_to_read\":\"0\",\"result_rows\":\"{result_rows}\",\"result_bytes\":\"{result_bytes}\",\
         \"elapsed_ns\":\"{}\"}}",
        started.elapsed().as_nanos()
    );
    HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("{}"))
}

/// Who is asking: (user name, password) from headers, basic authentication or URL parameters.
fn credentials(headers: &HeaderMap, p: &Params) -> Result<(String, String), ChError> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
    let from_headers = header("x-clickhouse-user").or(header("x-clickhouse-key").map(|_| "default".into()));
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")))
        .map(|b| {
            let raw = base64_decode(b.trim()).ok_or_else(|| {
                ChError::new(AUTHENTICATION_FAILED, "the Authorization header is not valid basic authentication")
            })?;
            let text = String::from_utf8_lossy(&raw).into_owned();
            let (u, pw) = text.split_once(':').unwrap_or((text.as_str(), ""));
            Ok::<_, ChError>((u.to_string(), pw.to_string()))
        })
        .transpose()?;
    let sources = [from_headers.is_some(), basic.is_some(), p.user.is_some() || p.password.is_some()];
    if sources.iter().filter(|x| **x).count() > 1 {
        return Err(ChError::new(
            AUTHENTICATION_FAILED,
            "Authentication is given more than one way (X-ClickHouse-User/Key headers, basic authentication, \
             user/password parameters): use one",
        ));
    }
    if let Some(u) = from_headers {
        return Ok((u, header("x-clickhouse-key").unwrap_or_default()));
    }
    if let Some(b) = basic {
        return Ok(b);
    }
    Ok((p.user.clone().unwrap_or_else(|| "default".into()), p.password.clone().unwrap_or_default()))
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Some(out)
}

fn authenticate<'a>(s: &'a ClickhouseHttp, user: &str, password: &str) -> Result<&'a ClickhouseUser, ChError> {
    s.users.iter().find(|u| u.name == user && u.password == password).ok_or_else(|| {
        tracing::info!(user, "clickhouse http authentication failed");
        ChError::new(
            AUTHENTICATION_FAILED,
            format!("{user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)"),
        )
    })
}

/// The `multipart/form-data` fields of a body (the Rust client sends `query` and `param_*` so).
fn multipart_fields(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, ChError> {
    let bad = |m: &str| ChError::new(BAD_ARGUMENTS, format!("invalid multipart/form-data body: {m}"));
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"').to_string())
        .ok_or_else(|| bad("no boundary in Content-Type"))?;
    let delim = format!("--{boundary}");
    let text = std::str::from_utf8(body).map_err(|_| bad("not UTF-8"))?;
    let mut out = Vec::new();
    for part in text.split(delim.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let (head, value) = part.split_once("\r\n\r\n").ok_or_else(|| bad("a part has no header end"))?;
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let name = head
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .flat_map(|l| l.split(';'))
            .filter_map(|p| p.trim().strip_prefix("name="))
            .next()
            .map(|n| n.trim_matches('"').to_string())
            .ok_or_else(|| bad("a part has no name"))?;
        out.push((name, value.to_string()));
    }
    Ok(out)
}

fn decompress_body(headers: &HeaderMap, raw: Bytes, limit: u64) -> Result<Bytes, ChError> {
    let enc =
        headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    let too_large = || {
        ChError::new(
            QUERY_IS_TOO_LARGE,
            format!("the request body is larger than {limit} bytes (limits.max_body_bytes)"),
        )
    };
    let api = |e: crate::ApiError| match e {
        crate::ApiError::TooLarge { .. } => too_large(),
        other => ChError::new(CANNOT_DECOMPRESS, other.to_string()),
    };
    match enc.as_str() {
        "" | "identity" | "none" => Ok(raw),
        "gzip" | "x-gzip" => body::decompress(body::Encoding::Gzip, raw, limit).map_err(api),
        "deflate" => body::decompress(body::Encoding::Deflate, raw, limit).map_err(api),
        "zstd" => body::decompress(body::Encoding::Zstd, raw, limit).map_err(api),
        "lz4" => {
            use std::io::Read;
            let mut out = Vec::new();
            let n = lz4_flex::frame::FrameDecoder::new(&raw[..])
                .take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| ChError::new(CANNOT_DECOMPRESS, format!("invalid lz4 body: {e}")))?;
            if n as u64 > limit {
                return Err(too_large());
            }
            Ok(Bytes::from(out))
        }
        other => Err(ChError::new(
            UNSUPPORTED_METHOD,
            format!("Unknown Content-Encoding {other:?}: use gzip, deflate, zstd, lz4 or none"),
        )),
    }
}

/// ClickHouse's CANNOT_DECOMPRESS.
const CANNOT_DECOMPRESS: i32 = 271;
/// ClickHouse's UNSUPPORTED_METHOD.
const UNSUPPORTED_METHOD: i32 = 1;

async fn run(
    s: &Arc<ClickhouseHttp>,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
) -> Result<Response, ChError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|e| ChError::new(BAD_ARGUMENTS, format!("cannot read the URL parameters: {e}")))?;
    let mut p = Params::default();
    for (k, v) in pairs {
        p.add(k, v)?;
    }
    if method == Method::GET && p.query.is_none() {
        // ClickHouse answers a bare GET / like /ping, without authentication.
        return Ok("Ok.\n".into_response());
    }
    let (user, password) = credentials(headers, &p)?;
    let account = authenticate(s, &user, &password)?.clone();

    let raw = body::read_raw(body, s.max_body).await.map_err(|e| match e {
        crate::ApiError::TooLarge { limit } => ChError::new(
            QUERY_IS_TOO_LARGE,
            format!("the request body is larger than {limit} bytes (limits.max_body_bytes)"),
        ),
        other => ChError::new(BAD_ARGUMENTS, other.to_string()),
    })?;
    let mut data = decompress_body(headers, raw, s.max_body)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        for (k, v) in multipart_fields(content_type, &data)? {
            p.add(k, v)?;
        }
        data = Bytes::new();
    }

    let text: Bytes = match p.query.take() {
        Some(q) if data.is_empty() => Bytes::from(q),
        Some(q) => {
            let mut t = Vec::with_capacity(q.len() + 1 + data.len());
            t.extend_from_slice(q.as_bytes());
            t.push(b'\n');
            t.extend_from_slice(&data);
            Bytes::from(t)
        }
        None => data,
    };

    let read_only = if account.readonly || p.readonly {
        ReadOnly::User
    } else if method == Method::GET {
        ReadOnly::HttpGet
    } else {
        ReadOnly::No
    };
    let accept = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let query_id = p.query_id.clone();
    let http_compression = p.http_compression;

    let permit = s.permits.clone().acquire_owned().await.map_err(|_| ChError::new(1001, "chute is shutting down"))?;
    let st = s.clone();
    let default_format = p.default_format.clone().unwrap_or_else(|| "TabSeparated".into());
    let out = tokio::task::spawn_blocking(move || -> Result<(session::Outcome, Vec<u8>), StoreError> {
        let _permit = permit;
        let req = session::Request {
            text: &text,
            default_format: &default_format,
            database: p.database.as_deref(),
            settings: &p.settings,
            params: &p.params,
            read_only,
            user: &account.name,
            tmp_dir: &st.tmp_dir,
        };
        let outcome = session::run(&st.store, &req)?;
        let bytes = match &outcome.output {
            Some(f) => std::fs::read(f.path()).map_err(|e| {
                StoreError::new(
                    chute_store::ErrorKind::Unavailable,
                    format!("cannot read the result file {}: {e}", f.path().display()),
                )
            })?,
            None => Vec::new(),
        };
        Ok((outcome, bytes))
    })
    .await
    .map_err(|e| ChError::new(1001, format!("the statement's thread failed: {e}")))?;
    let (outcome, bytes) = out?;

    tracing::debug!(user = %user, kind = ?outcome.kind, rows = outcome.rows, bytes = bytes.len(), "clickhouse http statement");
    let result_bytes = bytes.len() as u64;
    let (written, result_rows) = if outcome.kind.has_result() { (0, outcome.rows) } else { (outcome.rows, 0) };
    let mut resp_headers = HeaderMap::new();
    resp_headers
        .insert(HeaderName::from_static("x-clickhouse-summary"), summary(written, result_rows, result_bytes, started));
    if let Some(q) = query_id.and_then(|q| HeaderValue::from_str(&q).ok()) {
        resp_headers.insert(HeaderName::from_static("x-clickhouse-query-id"), q);
    }
    let mut body_bytes = bytes;
    if let Some(format) = &outcome.format {
        if let Ok(v) = HeaderValue::from_str(format) {
            resp_headers.insert(HeaderName::from_static("x-clickhouse-format"), v);
        }
        resp_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type_of(format)));
    } else {
        resp_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=UTF-8"));
    }
    if http_compression
        && !body_bytes.is_empty()
        && let Some(enc) = pick_encoding(&accept)
    {
        body_bytes =
            compress(enc, &body_bytes).map_err(|e| ChError::new(1001, format!("cannot compress the answer: {e}")))?;
        resp_headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    Ok((StatusCode::OK, resp_headers, body_bytes).into_response())
}

fn content_type_of(format: &str) -> &'static str {
    let f = format.to_ascii_lowercase();
    if f.starts_with("tabseparated") || f.starts_with("tsv") {
        "text/tab-separated-values; charset=UTF-8"
    } else if f.starts_with("csv") {
        "text/csv; charset=UTF-8"
    } else if f.starts_with("json") || f.starts_with("ndjson") {
        "application/json; charset=UTF-8"
    } else if f.starts_with("pretty") || f == "vertical" || f == "markdown" || f == "values" {
        "text/plain; charset=UTF-8"
    } else {
        "application/octet-stream"
    }
}

/// The first encoding the client accepts that chute can write.
fn pick_encoding(accept: &str) -> Option<&'static str> {
    accept.split(',').map(|e| e.split(';').next().unwrap_or("").trim().to_ascii_lowercase()).find_map(|e| {
        match e.as_str() {
            "gzip" | "x-gzip" => Some("gzip"),
            "zstd" => Some("zstd"),
            "deflate" => Some("deflate"),
            "lz4" => Some("lz4"),
            _ => None,
        }
    })
}

/// ClickHouse's default `http_zlib_compression_level`. (Level 1 of the zlib-rs backend uses
/// static Huffman codes only and barely shrinks column data.)
const ZLIB_LEVEL: u32 = 3;

fn compress(enc: &str, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match enc {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(ZLIB_LEVEL));
            e.write_all(data)?;
            e.finish()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(ZLIB_LEVEL));
            e.write_all(data)?;
            e.finish()
        }
        "zstd" => zstd::bulk::compress(data, 1),
        _ => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::new());
            e.write_all(data)?;
            e.finish().map_err(std::io::Error::other)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authentication_and_multipart_bodies_are_read() {
        assert_eq!(base64_decode("dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a").is_none());
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\nSELECT {v:UInt8}\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"param_v\"\r\n\r\n7\r\n--XyZ--\r\n";
        let f = multipart_fields("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(f, [("query".to_string(), "SELECT {v:UInt8}".to_string()), ("param_v".into(), "7".into())]);
        assert_eq!(pick_encoding("br, zstd;q=0.9, gzip"), Some("zstd"));
        assert_eq!(pick_encoding("br"), None);
    }
}
