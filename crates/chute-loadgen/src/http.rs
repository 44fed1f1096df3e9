//! HTTP/1.1 connections to the target (hyper's connection-level client: one request at a time
//! per connection, which is what the closed and open models count).

use crate::LoadgenError;
use crate::payload::HttpMessage;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Where requests go: `http://HOST:PORT[/prefix]`.
#[derive(Clone, Debug)]
pub struct Target {
    pub url: String,
    addr: SocketAddr,
    host: String,
    prefix: String,
}

impl Target {
    pub async fn resolve(url: &str) -> Result<Target, LoadgenError> {
        let bad = |why: &str| LoadgenError::Target(format!("--target {url:?}: {why}"));
        if url.starts_with("nats://") {
            return Err(bad("a NATS server: use --protocol nats"));
        }
        let rest = url.strip_prefix("http://").ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (host, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let with_port = if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
            host.to_string()
        } else {
            format!("{host}:80")
        };
        let addr = tokio::net::lookup_host(&with_port)
            .await
            .map_err(|e| bad(&format!("cannot resolve {host}: {e}")))?
            .next()
            .ok_or_else(|| bad(&format!("{host} has no address")))?;
        Ok(Target {
            url: url.trim_end_matches('/').to_string(),
            addr,
            host: host.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

/// An answer: status, whether it carried `Retry-After`, and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

/// One open connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn open(t: &Target) -> Result<Conn, String> {
        let stream = tokio::net::TcpStream::connect(t.addr).await.map_err(|e| format!("connect {}: {e}", t.addr))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    /// Sends `m` and reads the whole answer within `timeout`. An error leaves the connection
    /// unusable (drop it).
    pub async fn send(&mut self, t: &Target, m: &HttpMessage, timeout: Duration) -> Result<Answer, String> {
        let mut req = hyper::Request::builder()
            .method(m.method)
            .uri(format!("{}{}", t.prefix, m.path))
            .header(hyper::header::HOST, &t.host);
        for (k, v) in &m.headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(m.body.clone())).map_err(|e| format!("request: {e}"))?;
        let exchange = async {
            self.sender.ready().await.map_err(|e| format!("connection: {e}"))?;
            let resp = self.sender.send_request(req).await.map_err(|e| format!("request: {e}"))?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(hyper::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .map(|s| Duration::from_secs_f64(s.clamp(0.0, 3600.0)));
            let body = resp.into_body().collect().await.map_err(|e| format!("answer body: {e}"))?.to_bytes();
            Ok::<_, String>(Answer { status, retry_after, body })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }
}

/// Idle connections, shared by the open model's requests and the visibility probes.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// Sends on an idle connection (or a new one); the connection goes back when it worked.
    pub async fn send(&self, t: &Target, m: &HttpMessage, timeout: Duration) -> Result<Answer, String> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => Conn::open(t).await?,
        };
        let r = conn.send(t, m, timeout).await;
        if r.is_ok() {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        }
        r
    }

    /// `GET path`, parsed as JSON (None on any failure).
    pub async fn get_json(&self, t: &Target, path: &str, timeout: Duration) -> Option<serde_json::Value> {
        let m = HttpMessage { method: "GET", path: path.to_string(), headers: vec![], body: Bytes::new() };
        let a = self.send(t, &m, timeout).await.ok()?;
        if a.status != 200 {
            return None;
        }
        serde_json::from_slice(&a.body).ok()
    }
}
