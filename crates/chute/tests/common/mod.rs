//! Test harness: the real `chute` binary as a child process on 127.0.0.1 with its own data
//! directory, plus helpers to drive it over HTTP and to read its store after it stopped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_chute");

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A running `chute serve`.
pub struct Chute {
    pub child: Child,
    pub url: String,
    pub dir: PathBuf,
    pub banner: Vec<String>,
}

/// `chute` with the test's data directory (and nothing from the environment's CHUTE_*).
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("CHUTE_") {
            c.env_remove(k);
        }
    }
    c.arg("--data-dir").arg(dir);
    c.env("RUST_LOG", "warn");
    c
}

impl Chute {
    /// Starts `chute serve` on a free port with `--set` overrides; returns once it is ready.
    pub fn start(dir: &Path, sets: &[&str]) -> Chute {
        let chute = Chute::start_unready(dir, sets);
        chute.wait_ready(Duration::from_secs(30));
        chute
    }

    /// Starts `chute serve` like [`Chute::start`]; returns once it listens, ready or not.
    pub fn start_unready(dir: &Path, sets: &[&str]) -> Chute {
        let mut c = command(dir);
        c.args(["serve", "--listen", "127.0.0.1:0"]);
        // Tests run in parallel: every listener takes a free port.
        c.args(["--set", "otlp.grpc_listen=127.0.0.1:0", "--set", "otlp.http_listen=127.0.0.1:0"]);
        for s in sets {
            c.args(["--set", s]);
        }
        c.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = c.spawn().expect("chute starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("chute printed no listening line within 30 s; banner so far: {banner:?}")
            });
            banner.push(line.clone());
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // The rest of the banner, without blocking on it.
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(50)) {
            banner.push(l);
        }
        Chute { child, url, dir: dir.to_path_buf(), banner }
    }

    pub fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(r) = ureq_get(&format!("{}/health/ready", self.url))
                && r.0 == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "chute at {} not ready within {timeout:?}", self.url);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits (bounded) for the exit status.
    pub fn term(mut self, within: Duration) -> (ExitStatus, Duration) {
        let t0 = Instant::now();
        // SAFETY: sending a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s, t0.elapsed());
            }
            if t0.elapsed() > within {
                let _ = self.child.kill();
                panic!("chute did not exit within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Chute {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET returning (status, body): plain HTTP/1.0 over std's TcpStream, so it works
/// inside and outside async tests alike.
pub fn ureq_get(url: &str) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("only http:// urls")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let addr: std::net::SocketAddr = host.parse().map_err(|e| format!("{host}: {e}"))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let status: u16 = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or("no status line")?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Runs a `chute` command to completion: (exit code, stdout, stderr).
pub fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = command(dir).args(args).output().expect("chute runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `f` until it returns Some, or panics after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Opens the embedded store of a stopped chute's data directory, in this test process.
pub fn open_store(dir: &Path) -> OpenStore {
    OpenStore(
        chute_store::embedded::EmbeddedStore::open(&chute_store::embedded::EmbeddedOptions {
            path: dir.join("clickhouse"),
            ingest_connections: 1,
            query_connections: 1,
            ..Default::default()
        })
        .expect("store opens"),
    )
}

/// The test process's engine, closed when this is dropped. A test declares its temporary
/// directory first, so this drops before the directory is removed: otherwise the engine's
/// background merges could run on in a deleted directory, and the engine aborts on the missing
/// files (seen in CI) and leaves the test hanging.
pub struct OpenStore(chute_store::embedded::EmbeddedStore);

impl Drop for OpenStore {
    fn drop(&mut self) {
        chute_store::embedded::close_engine();
    }
}

impl std::ops::Deref for OpenStore {
    type Target = chute_store::embedded::EmbeddedStore;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for OpenStore {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl chute_store::Store for OpenStore {
    fn target(&self) -> &str {
        self.0.target()
    }
    fn insert(
        &self,
        table: &str,
        batch: &arrow_array::RecordBatch,
        token: &str,
    ) -> Result<(), chute_store::StoreError> {
        self.0.insert(table, batch, token)
    }
    fn query(
        &self,
        sql: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<arrow_array::RecordBatch>, chute_store::StoreError> {
        chute_store::Store::query(&self.0, sql, params)
    }
    fn execute(&self, sql: &str) -> Result<(), chute_store::StoreError> {
        self.0.execute(sql)
    }
}

pub fn scalar(store: &dyn chute_store::Store, sql: &str) -> u64 {
    let b = store.query(sql, &[]).unwrap();
    chute_store::rows::value_at(b[0].column(0), 0).as_u64().unwrap()
}

/// The requests of a capture folder (requests.jsonl), in order, with their body bytes.
pub struct Captured {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn captured(folder: &Path) -> Vec<Captured> {
    let text = std::fs::read_to_string(folder.join("requests.jsonl")).unwrap();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let n = v["n"].as_u64().unwrap();
        let body_path = folder.join(format!("body-{n:03}.bin"));
        let body = std::fs::read(&body_path).unwrap_or_default();
        let headers = v["headers"]
            .as_object()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
            .unwrap_or_default();
        out.push(Captured {
            method: v["method"].as_str().unwrap().to_string(),
            path: v["path"].as_str().unwrap_or("").to_string(),
            headers,
            body,
        });
    }
    out
}

/// Sends a captured request to `base` with its original method, path, headers and body.
pub async fn replay(client: &reqwest::Client, base: &str, r: &Captured) -> reqwest::Response {
    let mut req = client.request(r.method.parse().unwrap(), format!("{base}{}", r.path)).body(r.body.clone());
    for (k, v) in &r.headers {
        let lk = k.to_ascii_lowercase();
        // Transport headers are the client library's business.
        if lk == "host" || lk == "content-length" || lk == "accept-encoding" || lk == "connection" {
            continue;
        }
        req = req.header(k.as_str(), v.as_str());
    }
    req.send().await.unwrap()
}

/// Compares a chute summary (JSON) with k6's own `--summary-export` for every metric and
/// sub-metric k6 reports; returns the differences (empty when equal within 1e-9 relative).
pub fn compare_with_k6(summary: &serde_json::Value, k6: &serde_json::Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let ours: std::collections::HashMap<String, &serde_json::Value> = summary["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap().to_string(), &m["values"]))
        .collect();
    for (name, theirs) in k6["metrics"].as_object().unwrap() {
        let Some(values) = ours.get(name) else {
            diffs.push(format!("{name}: missing"));
            continue;
        };
        for (stat, v) in theirs.as_object().unwrap() {
            if stat == "thresholds" || (stat == "rate" && values.get("passes").is_none()) {
                continue;
            }
            let Some(expected) = v.as_f64() else { continue };
            // The legacy --summary-export calls a rate metric's ratio `value`; chute, like k6's
            // handleSummary data, calls it `rate`.
            let key = if stat == "value" && values.get("passes").is_some() { "rate" } else { stat.as_str() };
            let got = values.get(key).and_then(|x| x.as_f64());
            match got {
                Some(g) if (g - expected).abs() <= 1e-9 * expected.abs().max(1e-12) => {}
                other => diffs.push(format!("{name}.{stat}: k6 {expected}, chute {other:?}")),
            }
        }
        if let Some(th) = theirs.get("thresholds").and_then(|t| t.as_object()) {
            for (expr, failed) in th {
                let ok = summary["thresholds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["metric"] == name.as_str() && t["expression"] == expr.as_str())
                    .and_then(|t| t["ok"].as_bool());
                if ok != Some(!failed.as_bool().unwrap()) {
                    diffs.push(format!("threshold {name} {expr}: k6 failed={failed}, chute ok={ok:?}"));
                }
            }
        }
    }
    diffs
}

/// A response: status, headers (names in lowercase), body.
pub type Response = (u16, Vec<(String, String)>, String);

/// A blocking POST over HTTP/1.0.
pub fn http_post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").ok_or("only http:// urls")?;
    let (host, path) = rest.split_once('/').map(|(h, p)| (h, format!("/{p}"))).unwrap_or((rest, "/".into()));
    let addr: std::net::SocketAddr = host.parse().map_err(|e| format!("{host}: {e}"))?;
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let mut req = format!("POST {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let mut lines = head.lines();
    let status: u16 =
        lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|c| c.parse().ok()).ok_or("no status")?;
    let hdrs = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Ok((status, hdrs, body.to_string()))
}

/// Writes numbered k6 samples (`iter` = the sample's id, run `testid`) to whichever chute
/// `url` names, recording the ids of every acknowledged (204) write. Connection errors while
/// chute is down are expected: those writes are simply not acknowledged.
pub struct Load {
    pub url: std::sync::Arc<std::sync::Mutex<String>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub acked: std::sync::Arc<std::sync::Mutex<Vec<u64>>>,
    pub refused: std::sync::Arc<std::sync::atomic::AtomicU64>,
    pub retry_after_seen: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    pub fn start(url: &str, testid: &str, lines_per_write: u64) -> Load {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};
        let url = Arc::new(Mutex::new(url.to_string()));
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicU64::new(0));
        let retry_after_seen = Arc::new(AtomicBool::new(false));
        let (u, st, a, r, ra) = (url.clone(), stop.clone(), acked.clone(), refused.clone(), retry_after_seen.clone());
        let testid = testid.to_string();
        let thread = std::thread::spawn(move || {
            let mut next = 0u64;
            let t0 = 1_795_433_093_000_000_000i64;
            while !st.load(Ordering::Relaxed) {
                let first = next;
                next += lines_per_write;
                let mut body = String::with_capacity(lines_per_write as usize * 80);
                for id in first..next {
                    body.push_str(&format!("crash,testid={testid} value=1,iter={id}i {}\n", t0 + id as i64 * 1000));
                }
                let base = u.lock().unwrap().clone();
                match http_post(&format!("{base}/write?db=k6&precision=ns"), &[("User-Agent", "k6")], body.as_bytes()) {
                    Ok((204, _, _)) => a.lock().unwrap().extend(first..next),
                    Ok((429, h, _)) => {
                        r.fetch_add(1, Ordering::Relaxed);
                        if h.iter().any(|(k, v)| k == "retry-after" && v.parse::<u64>().is_ok()) {
                            ra.store(true, Ordering::Relaxed);
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Load { url, stop, acked, refused, retry_after_seen, thread: Some(thread) }
    }

    pub fn point_at(&self, url: &str) {
        *self.url.lock().unwrap() = url.to_string();
    }

    pub fn acked_count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Stops writing; returns the acknowledged ids.
    pub fn stop(mut self) -> Vec<u64> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.acked.lock().unwrap())
    }
}

/// A counter's value from chute's /metrics (summed over its series).
pub fn metric(url: &str, name: &str) -> f64 {
    let Ok((200, text)) = ureq_get(&format!("{url}/metrics")) else { return 0.0 };
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

/// Whether the store has confirmed every row chute accepted (`chute_rows_written_total`
/// without the rows chute derives itself, against `chute_rows_accepted_total`): the rows of one
/// request go to several tables, each delivered on its own.
pub fn all_accepted_rows_stored(url: &str) -> bool {
    let Ok((200, text)) = ureq_get(&format!("{url}/metrics")) else { return false };
    let sum = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
            .filter(|l| !l.contains("source=\"derived\""))
            .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
            .sum()
    };
    let accepted = sum("chute_rows_accepted_total");
    accepted > 0.0 && sum("chute_rows_written_total") >= accepted
}

/// Stored ids of the `crash` table rows of run `testid`: (rows, distinct ids, ids).
pub fn stored_ids(store: &dyn chute_store::Store, testid: &str) -> (u64, u64, std::collections::HashSet<u64>) {
    let rows = scalar(store, &format!("SELECT count() FROM k6_samples WHERE run_id = '{testid}'"));
    let distinct = scalar(store, &format!("SELECT uniqExact(iter) FROM k6_samples WHERE run_id = '{testid}'"));
    let b = store.query(&format!("SELECT DISTINCT iter FROM k6_samples WHERE run_id = '{testid}'"), &[]).unwrap();
    let mut ids = std::collections::HashSet::new();
    for batch in &b {
        for i in 0..batch.num_rows() {
            if let Some(v) = chute_store::rows::value_at(batch.column(0), i).as_u64() {
                ids.insert(v);
            }
        }
    }
    (rows, distinct, ids)
}

/// The address a banner line starting with `prefix` names (the first `http://...` or host:port
/// after it), e.g. `banner_address(&chute, "ClickHouse HTTP interface on ")`.
pub fn banner_address(chute: &Chute, prefix: &str) -> String {
    let line = chute
        .banner
        .iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("the banner has no line starting with {prefix:?}: {:?}", chute.banner));
    line[prefix.len()..].split_whitespace().next().unwrap().trim_end_matches(',').to_string()
}

/// k6's own end-of-test summary of the fixture run (`fixtures/k6/basic-run`).
pub fn k6_summary() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixtures().join("k6/basic-run/basic.summary.json")).unwrap()).unwrap()
}

/// basic.js's thresholds and custom metric types, as summary query parameters (InfluxDB writes
/// carry neither).
pub const SUMMARY_ARGS: &str = "threshold=http_req_duration%3Ap(95)%3C200&threshold=http_req_duration%3Ap(99)%3C400\
&threshold=http_req_duration%7Bscenario%3Abuy%7D%3Amax%3C1000&threshold=order_ok%3Arate%3E0.9\
&threshold=checks%3Arate%3E0.95&metric_type=orders_placed%3Acounter&metric_type=queue_depth%3Agauge\
&metric_type=order_ok%3Arate&metric_type=think_time%3Atrend";

/// The summary of `run` from the chute at `url`, once it holds `samples` samples (panics after
/// `timeout`).
pub async fn summary_when(url: &str, run: &str, samples: u64, timeout: Duration) -> serde_json::Value {
    let client = reqwest::Client::new();
    let until = Instant::now() + timeout;
    loop {
        let r = client.get(format!("{url}/api/v1/k6/runs/{run}/summary?{SUMMARY_ARGS}")).send().await.unwrap();
        if r.status() == 200 {
            let s: serde_json::Value = r.json().await.unwrap();
            if s["run"]["samples"].as_u64() == Some(samples) {
                return s;
            }
        }
        assert!(Instant::now() < until, "run {run} did not reach {samples} samples at {url} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
