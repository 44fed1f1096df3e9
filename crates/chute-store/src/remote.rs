//! A ClickHouse server or cluster over its HTTP(S) interface (`store.target = "clickhouse"`).
//!
//! - Inserts are `INSERT INTO <db>.<table> FORMAT ArrowStream` with the same Arrow batches the
//!   embedded engine ingests (as an Arrow IPC stream, compressed with lz4 or zstd through
//!   `Content-Encoding`), `insert_deduplication_token` from the caller's token and
//!   `async_insert=0` (unless configured), so a retried insert is stored once.
//! - Queries send the SQL in the body, their parameters as `param_<name>` URL parameters, and read
//!   `ArrowStream` results back into record batches.
//! - Requests go round robin over the healthy endpoints. One that fails on the network (or answers
//!   5xx without a ClickHouse error) is marked down, and the call moves on to the next; a
//!   background thread probes the down ones with `GET /ping` every `health_check_interval`.
//! - Errors are classified by the ClickHouse code (`X-ClickHouse-Exception-Code`, else `Code: N.`
//!   in the body) exactly like the embedded engine's; network errors and 5xx without a code are
//!   transient; 401/403 are authentication errors.
//! - TLS is rustls, with an optional CA file and client certificate; connections are kept alive
//!   and reused by the agent.

use crate::cluster::Cluster;
use crate::error::{classify, parse_code};
use crate::sql::{is_identifier, quote_identifier};
use crate::{ErrorKind, Store, StoreError};
use arrow_array::RecordBatch;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How request bodies are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Lz4,
    Zstd,
    None,
}

/// TLS files (PEM). All optional.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// Base URLs of the HTTP interface (`http://host:8123`).
    pub endpoints: Vec<String>,
    pub user: String,
    pub password: String,
    pub database: String,
    /// Cluster mode: tables and migrations `ON CLUSTER` this cluster.
    pub cluster: Option<String>,
    pub compression: Compression,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub health_check_interval: Duration,
    pub async_insert: bool,
    pub migration_lock_ttl: Duration,
    pub tls: TlsFiles,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            endpoints: vec!["http://127.0.0.1:8123".into()],
            user: "default".into(),
            password: String::new(),
            database: "default".into(),
            cluster: None,
            compression: Compression::Lz4,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            health_check_interval: Duration::from_secs(5),
            async_insert: false,
            migration_lock_ttl: Duration::from_secs(300),
            tls: TlsFiles::default(),
        }
    }
}

struct Endpoint {
    base: String,
    up: AtomicBool,
}

struct Inner {
    agent: ureq::Agent,
    endpoints: Vec<Endpoint>,
    next: AtomicUsize,
    opts: RemoteOptions,
    /// The database is known to exist (or is `default`).
    database_ready: AtomicBool,
}

/// A ClickHouse server or cluster. Cheap to share behind an `Arc`; blocking.
pub struct RemoteStore {
    inner: Arc<Inner>,
    cluster: Option<Cluster>,
}

fn unavailable(m: String) -> StoreError {
    StoreError::new(ErrorKind::Unavailable, m)
}

fn read_pem(path: &PathBuf, key: &str) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path).map_err(|e| unavailable(format!("cannot read {key} {}: {e}", path.display())))
}

fn tls_config(t: &TlsFiles) -> Result<ureq::tls::TlsConfig, StoreError> {
    use ureq::tls::{ClientCert, PemItem, RootCerts, TlsConfig, parse_pem};
    let mut b = TlsConfig::builder();
    if let Some(ca) = &t.ca_file {
        let pem = read_pem(ca, "store.clickhouse.tls.ca_file")?;
        let mut certs = Vec::new();
        for item in parse_pem(&pem) {
            if let PemItem::Certificate(c) =
                item.map_err(|e| unavailable(format!("store.clickhouse.tls.ca_file {}: {e}", ca.display())))?
            {
                certs.push(c);
            }
        }
        if certs.is_empty() {
            return Err(unavailable(format!("store.clickhouse.tls.ca_file {} holds no certificate", ca.display())));
        }
        b = b.root_certs(RootCerts::new_with_certs(&certs));
    }
    match (&t.cert_file, &t.key_file) {
        (Some(cert), Some(key)) => {
            let mut chain = Vec::new();
            for item in parse_pem(&read_pem(cert, "store.clickhouse.tls.cert_file")?) {
                if let PemItem::Certificate(c) =
                    item.map_err(|e| unavailable(format!("store.clickhouse.tls.cert_file {}: {e}", cert.display())))?
                {
                    chain.push(c);
                }
            }
            let mut private = None;
            for item in parse_pem(&read_pem(key, "store.clickhouse.tls.key_file")?) {
                if let PemItem::PrivateKey(k) =
                    item.map_err(|e| unavailable(format!("store.clickhouse.tls.key_file {}: {e}", key.display())))?
                {
                    private = Some(k);
                }
            }
            let private = private.ok_or_else(|| {
                unavailable(format!("store.clickhouse.tls.key_file {} holds no private key", key.display()))
            })?;
            if chain.is_empty() {
                return Err(unavailable(format!(
                    "store.clickhouse.tls.cert_file {} holds no certificate",
                    cert.display()
                )));
            }
            b = b.client_cert(Some(ClientCert::new_with_certs(&chain, private)));
        }
        (None, None) => {}
        _ => {
            return Err(unavailable(
                "store.clickhouse.tls.cert_file and store.clickhouse.tls.key_file go together: set both or neither"
                    .into(),
            ));
        }
    }
    Ok(b.build())
}

impl RemoteStore {
    pub fn open(opts: RemoteOptions) -> Result<RemoteStore, StoreError> {
        if opts.endpoints.is_empty() {
            return Err(unavailable("store.clickhouse.endpoints is empty: name at least one server".into()));
        }
        let mut endpoints = Vec::new();
        for e in &opts.endpoints {
            let base = e.trim().trim_end_matches('/').to_string();
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(unavailable(format!(
                    "store.clickhouse.endpoints: {e:?} is not an http:// or https:// URL"
                )));
            }
            endpoints.push(Endpoint { base, up: AtomicBool::new(true) });
        }
        if !is_identifier(&opts.database) {
            return Err(unavailable(format!("store.clickhouse.database {:?} is not a valid name", opts.database)));
        }
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(opts.connect_timeout))
            .timeout_global(Some(opts.request_timeout))
            .http_status_as_error(false)
            .max_idle_connections_per_host(16)
            .user_agent(format!("chute/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls_config(&opts.tls)?)
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let cluster = opts
            .cluster
            .as_ref()
            .filter(|c| !c.is_empty())
            .map(|name| Cluster { name: name.clone(), database: opts.database.clone() });
        let inner = Arc::new(Inner {
            agent,
            endpoints,
            next: AtomicUsize::new(0),
            database_ready: AtomicBool::new(opts.database == "default"),
            opts,
        });
        spawn_health_checks(Arc::downgrade(&inner), inner.opts.health_check_interval);
        Ok(RemoteStore { inner, cluster })
    }

    /// The endpoints and whether each is considered up (for tests and status output).
    pub fn endpoints(&self) -> Vec<(String, bool)> {
        self.inner.endpoints.iter().map(|e| (e.base.clone(), e.up.load(Ordering::Relaxed))).collect()
    }

    fn with_database<T>(&self, f: impl Fn() -> Result<T, StoreError>) -> Result<T, StoreError> {
        match f() {
            Err(e) if e.code == Some(81) && !self.inner.database_ready.load(Ordering::Relaxed) => {
                let on = self
                    .cluster
                    .as_ref()
                    .map(|c| format!(" ON CLUSTER {}", quote_identifier(&c.name)))
                    .unwrap_or_default();
                let sql = format!("CREATE DATABASE IF NOT EXISTS {}{on}", quote_identifier(&self.inner.opts.database));
                self.inner.call(&Call { params: vec![], body: sql.as_bytes(), encoding: None, use_database: false })?;
                self.inner.database_ready.store(true, Ordering::Relaxed);
                tracing::info!(database = %self.inner.opts.database, "created the database on the ClickHouse server");
                f()
            }
            other => other,
        }
    }
}

fn spawn_health_checks(inner: Weak<Inner>, every: Duration) {
    let every = every.max(Duration::from_millis(100));
    let _ = std::thread::Builder::new().name("chute-ch-health".into()).spawn(move || {
        loop {
            std::thread::sleep(every);
            let Some(inner) = inner.upgrade() else { return };
            for e in inner.endpoints.iter().filter(|e| !e.up.load(Ordering::Relaxed)) {
                let ok = inner
                    .agent
                    .get(format!("{}/ping", e.base))
                    .call()
                    .ok()
                    .filter(|r| r.status().as_u16() == 200)
                    .is_some();
                if ok {
                    tracing::info!(endpoint = %e.base, "ClickHouse endpoint answers /ping again");
                    e.up.store(true, Ordering::Relaxed);
                }
            }
        }
    });
}

struct Call<'a> {
    params: Vec<(String, String)>,
    body: &'a [u8],
    encoding: Option<&'static str>,
    use_database: bool,
}

/// Why one attempt failed: move on to the next endpoint, or give up with this error.
enum Attempt {
    Failover(StoreError),
    Fail(StoreError),
}

impl Inner {
    /// The order to try endpoints in: the healthy ones round robin, then the others.
    fn order(&self) -> Vec<usize> {
        let n = self.endpoints.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let (mut up, mut down): (Vec<usize>, Vec<usize>) =
            (0..n).map(|i| (start + i) % n).partition(|&i| self.endpoints[i].up.load(Ordering::Relaxed));
        up.append(&mut down);
        up
    }

    fn call(&self, c: &Call<'_>) -> Result<Vec<u8>, StoreError> {
        let mut last = None;
        for i in self.order() {
            let e = &self.endpoints[i];
            match self.attempt(e, c) {
                Ok(body) => {
                    e.up.store(true, Ordering::Relaxed);
                    return Ok(body);
                }
                Err(Attempt::Fail(err)) => return Err(err),
                Err(Attempt::Failover(err)) => {
                    if e.up.swap(false, Ordering::Relaxed) {
                        tracing::warn!(endpoint = %e.base, error = %err, "ClickHouse endpoint down; trying the next one");
                    }
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| StoreError::new(ErrorKind::Transient, "no ClickHouse endpoint configured")))
    }

    fn attempt(&self, e: &Endpoint, c: &Call<'_>) -> Result<Vec<u8>, Attempt> {
        let mut req = self
            .agent
            .post(format!("{}/", e.base))
            .header("X-ClickHouse-User", &self.opts.user)
            .header("X-ClickHouse-Key", &self.opts.password);
        if c.use_database {
            req = req.query("database", &self.opts.database);
        }
        for (k, v) in &c.params {
            req = req.query(k, v);
        }
        if let Some(enc) = c.encoding {
            req = req.header("Content-Encoding", enc);
        }
        let mut resp = match req.send(c.body) {
            Ok(r) => r,
            Err(err) => {
                return Err(Attempt::Failover(StoreError::new(
                    ErrorKind::Transient,
                    format!("clickhouse at {}: {err}", e.base),
                )));
            }
        };
        let status = resp.status().as_u16();
        let header_code = resp
            .headers()
            .get("X-ClickHouse-Exception-Code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i32>().ok());
        let body = resp.body_mut().with_config().limit(u64::MAX).read_to_vec().map_err(|err| {
            Attempt::Failover(StoreError::new(
                ErrorKind::Transient,
                format!("clickhouse at {}: reading the answer: {err}", e.base),
            ))
        })?;
        if status == 200 && header_code.is_none() {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body).trim().to_string();
        let code = header_code.or_else(|| parse_code(&text));
        let message =
            format!("clickhouse at {}: {}", e.base, if text.is_empty() { format!("HTTP {status}") } else { text });
        Err(match code {
            Some(code) => Attempt::Fail(StoreError { kind: classify(code), code: Some(code), message }),
            None => match status {
                401 | 403 => Attempt::Fail(StoreError::new(ErrorKind::Auth, message)),
                408 | 429 => Attempt::Fail(StoreError::new(ErrorKind::Transient, message)),
                s if s >= 500 => Attempt::Failover(StoreError::new(ErrorKind::Transient, message)),
                _ => Attempt::Fail(StoreError::new(ErrorKind::Schema, message)),
            },
        })
    }
}

fn compress(c: Compression, data: Vec<u8>) -> Result<(Vec<u8>, Option<&'static str>), StoreError> {
    let fail = |e: std::io::Error| StoreError::new(ErrorKind::Transient, format!("cannot compress an insert: {e}"));
    match c {
        Compression::None => Ok((data, None)),
        Compression::Lz4 => {
            use std::io::Write;
            let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
            enc.write_all(&data).map_err(fail)?;
            let out = enc.finish().map_err(|e| fail(std::io::Error::other(e)))?;
            Ok((out, Some("lz4")))
        }
        Compression::Zstd => Ok((zstd::bulk::compress(&data, 1).map_err(fail)?, Some("zstd"))),
    }
}

/// Arrow batches as Arrow IPC stream bytes.
fn ipc_bytes(batch: &RecordBatch) -> Result<Vec<u8>, StoreError> {
    let fail = |e: arrow_schema::ArrowError| {
        StoreError::new(ErrorKind::Data, format!("cannot encode an insert as Arrow: {e}"))
    };
    let mut w = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &batch.schema()).map_err(fail)?;
    w.write(batch).map_err(fail)?;
    w.into_inner().map_err(fail)
}

fn decode_arrow(body: &[u8]) -> Result<Vec<RecordBatch>, StoreError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let fail = |e: arrow_schema::ArrowError| {
        StoreError::new(
            ErrorKind::Transient,
            format!("clickhouse answered a query with unreadable ArrowStream data: {e}"),
        )
    };
    let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(body), None).map_err(fail)?;
    reader.map(|b| b.map_err(fail)).collect()
}

impl Store for RemoteStore {
    fn target(&self) -> &str {
        "clickhouse"
    }

    fn insert(&self, table: &str, batch: &RecordBatch, token: &str) -> Result<(), StoreError> {
        if !is_identifier(table) {
            return Err(StoreError::new(ErrorKind::Schema, format!("bad table name {table:?}")));
        }
        let data = ipc_bytes(&crate::arrow_fix::unique_dictionaries(batch))?;
        let (body, encoding) = compress(self.inner.opts.compression, data)?;
        let mut params: Vec<(String, String)> = vec![(
            "query".into(),
            format!(
                "INSERT INTO {}.{} FORMAT ArrowStream",
                quote_identifier(&self.inner.opts.database),
                quote_identifier(table)
            ),
        )];
        let mut set = |k: &str, v: &str| params.push((k.to_string(), v.to_string()));
        if !token.is_empty() {
            set("insert_deduplication_token", token);
        }
        if self.inner.opts.async_insert {
            set("async_insert", "1");
            set("wait_for_async_insert", "1");
        } else {
            set("async_insert", "0");
        }
        if self.cluster.is_some() {
            // Acknowledged means on the shards, not queued on the node that received it.
            set("insert_distributed_sync", "1");
        }
        self.with_database(|| {
            self.inner.call(&Call { params: params.clone(), body: &body, encoding, use_database: true }).map(|_| ())
        })
    }

    fn query(&self, sql: &str, params: &[(&str, &str)]) -> Result<Vec<RecordBatch>, StoreError> {
        let mut p: Vec<(String, String)> = [
            ("default_format", "ArrowStream"),
            ("output_format_arrow_string_as_string", "1"),
            ("output_format_arrow_low_cardinality_as_dictionary", "0"),
            // ClickHouse compresses Arrow IPC buffers with lz4 by default; the HTTP body is what
            // gets compressed here, so the batches stay readable without arrow's codecs.
            ("output_format_arrow_compression_method", "none"),
            ("wait_end_of_query", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (name, value) in params {
            if !is_identifier(name) {
                return Err(StoreError::new(ErrorKind::Schema, format!("bad parameter name {name:?}")));
            }
            p.push((format!("param_{name}"), crate::sql::escape_param(value)));
        }
        let body = self.with_database(|| {
            self.inner.call(&Call { params: p.clone(), body: sql.as_bytes(), encoding: None, use_database: true })
        })?;
        decode_arrow(&body)
    }

    fn execute(&self, sql: &str) -> Result<(), StoreError> {
        self.with_database(|| {
            self.inner
                .call(&Call {
                    params: vec![("wait_end_of_query".into(), "1".into())],
                    body: sql.as_bytes(),
                    encoding: None,
                    use_database: true,
                })
                .map(|_| ())
        })
    }

    fn cluster(&self) -> Option<&Cluster> {
        self.cluster.as_ref()
    }

    fn migration_lock_ttl(&self) -> Option<Duration> {
        Some(self.inner.opts.migration_lock_ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_are_refused_naming_the_key() {
        let e = RemoteStore::open(RemoteOptions { endpoints: vec![], ..Default::default() }).err().unwrap();
        assert!(e.message.contains("store.clickhouse.endpoints"), "{e}");
        let e =
            RemoteStore::open(RemoteOptions { endpoints: vec!["ftp://x".into()], ..Default::default() }).err().unwrap();
        assert!(e.message.contains("not an http"), "{e}");
        let tls = TlsFiles { cert_file: Some("/nonexistent.pem".into()), ..Default::default() };
        let e = RemoteStore::open(RemoteOptions { tls, ..Default::default() }).err().unwrap();
        assert!(e.message.contains("go together"), "{e}");
        let tls = TlsFiles { ca_file: Some("/nonexistent/ca.pem".into()), ..Default::default() };
        let e = RemoteStore::open(RemoteOptions { tls, ..Default::default() }).err().unwrap();
        assert!(e.message.contains("store.clickhouse.tls.ca_file") && e.message.contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn a_server_that_does_not_answer_is_a_transient_error_and_marked_down() {
        // A port nobody listens on (bound, then closed).
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let s = RemoteStore::open(RemoteOptions {
            endpoints: vec![format!("http://127.0.0.1:{port}")],
            ..Default::default()
        })
        .unwrap();
        let e = s.execute("SELECT 1").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Transient, "{e}");
        assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{e}");
        assert!(!s.endpoints()[0].1);
    }
}
