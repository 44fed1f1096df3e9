//! Talking to a running chute over its HTTP API (commands run beside a server use it, because
//! the server holds the embedded engine's data directory).

use anyhow::{Context, bail};
use chute_config::Config;
use std::time::Duration;

pub struct Client {
    pub base: String,
    http: reqwest::Client,
}

/// The URL of the chute this configuration describes.
pub fn default_url(config: &Config) -> String {
    let listen = config.server.listen.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]");
    format!("http://{listen}")
}

/// A client for the chute at `explicit` (which must answer) or at the configured address (None
/// when nothing answers there, so the caller works locally).
pub async fn connect(config: &Config, explicit: Option<String>) -> anyhow::Result<Option<Client>> {
    let is_explicit = explicit.is_some();
    let base = explicit.unwrap_or_else(|| default_url(config)).trim_end_matches('/').to_string();
    let http = reqwest::Client::builder().build().context("http client")?;
    let probe = http.get(format!("{base}/health/live")).timeout(Duration::from_millis(800)).send().await;
    match probe {
        Ok(r) if r.status().is_success() => Ok(Some(Client { base, http })),
        Ok(r) if is_explicit => bail!("{base} answered {} to /health/live; is it a chute?", r.status()),
        Err(e) if is_explicit => bail!("cannot reach chute at {base}: {e}"),
        _ => Ok(None),
    }
}

impl Client {
    async fn check(resp: reqwest::Response) -> anyhow::Result<serde_json::Value> {
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.clone()));
        if !status.is_success() {
            let msg = json.get("error").and_then(|e| e.as_str()).map(str::to_string).unwrap_or(text);
            bail!("{msg} (HTTP {})", status.as_u16());
        }
        Ok(json)
    }

    pub async fn get_json(&self, path_and_query: &str) -> anyhow::Result<serde_json::Value> {
        let resp = self.http.get(format!("{}{path_and_query}", self.base)).send().await?;
        Self::check(resp).await
    }

    pub async fn get_text(&self, path_and_query: &str) -> anyhow::Result<String> {
        let resp = self.http.get(format!("{}{path_and_query}", self.base)).send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            let msg = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|j| j.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or(text);
            bail!("{msg} (HTTP {})", status.as_u16());
        }
        Ok(text)
    }

    /// Streams a file as the request body.
    pub async fn post_file(
        &self,
        path_and_query: &str,
        file: &std::path::Path,
        progress: std::sync::Arc<std::sync::atomic::AtomicU64>,
    ) -> anyhow::Result<serde_json::Value> {
        let f = tokio::fs::File::open(file).await.with_context(|| format!("cannot open {}", file.display()))?;
        let stream = CountingStream { inner: tokio_util::io::ReaderStream::new(f), n: progress };
        let resp = self
            .http
            .post(format!("{}{path_and_query}", self.base))
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await?;
        Self::check(resp).await
    }
}

/// A byte stream that counts what passes (for a progress display).
struct CountingStream<S> {
    inner: S,
    n: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<S> futures_core::Stream for CountingStream<S>
where
    S: futures_core::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
{
    type Item = std::io::Result<bytes::Bytes>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_next(cx);
        if let std::task::Poll::Ready(Some(Ok(b))) = &r {
            self.n.fetch_add(b.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        r
    }
}
