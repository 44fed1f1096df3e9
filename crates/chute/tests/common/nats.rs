//! A real NATS server with JetStream for tests: `nats-server -js` on 127.0.0.1 with a free port
//! and a temporary store directory, killed when dropped; plus publishing and consumer-info
//! helpers (blocking, on a runtime of its own).
#![allow(dead_code)]

use async_nats::jetstream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    client: async_nats::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl NatsServer {
    /// Starts `nats-server` (installed by `scripts/setup.sh`) and waits until JetStream answers.
    pub fn start() -> NatsServer {
        NatsServer::start_with(&[], "nats", async_nats::ConnectOptions::new)
    }

    /// Starts `nats-server` with `args` added (authorization, TLS), reached at `scheme://` and
    /// connected to with the options `connect` makes.
    pub fn start_with(args: &[&str], scheme: &str, connect: impl Fn() -> async_nats::ConnectOptions) -> NatsServer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server runs (scripts/setup.sh installs the Debian package nats-server)");
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let url = format!("{scheme}://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            let c = rt.block_on(async {
                let c = connect().connect(&url).await.map_err(|e| e.to_string())?;
                // JetStream answers (a "stream not found" is an answer).
                match jetstream::new(c.clone()).get_stream("chute-probe").await {
                    Err(e) if !matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(_)) => {
                        return Err(e.to_string());
                    }
                    _ => {}
                }
                Ok::<_, String>(c)
            });
            let e = match c {
                Ok(c) => break c,
                Err(e) => e,
            };
            assert!(Instant::now() < deadline, "nats-server on {url} did not answer within 20 s: {e}");
            std::thread::sleep(Duration::from_millis(50));
        };
        NatsServer { child, url, _dir: dir, rt, client }
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn js(&self) -> jetstream::Context {
        let _rt = self.rt.enter();
        jetstream::new(self.client.clone())
    }

    pub fn create_stream(&self, name: &str, subjects: &[&str]) {
        let js = self.js();
        self.block_on(js.create_stream(jetstream::stream::Config {
            name: name.to_string(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }))
        .unwrap();
    }

    /// Publishes every payload to `subject` and waits for the stream to have stored each one.
    pub fn publish(&self, subject: &str, payloads: impl IntoIterator<Item = Vec<u8>>) {
        self.publish_with_headers(subject, payloads.into_iter().map(|p| (p, None)));
    }

    pub fn publish_with_headers(
        &self,
        subject: &str,
        payloads: impl IntoIterator<Item = (Vec<u8>, Option<async_nats::HeaderMap>)>,
    ) {
        let js = self.js();
        self.block_on(async {
            let mut acks = Vec::with_capacity(4096);
            for (p, h) in payloads {
                let ack = match h {
                    Some(h) => js.publish_with_headers(subject.to_string(), h, p.into()).await,
                    None => js.publish(subject.to_string(), p.into()).await,
                };
                acks.push(ack.expect("publish"));
                if acks.len() >= 4096 {
                    for a in acks.drain(..) {
                        a.await.expect("stream stored the message");
                    }
                }
            }
            for a in acks {
                a.await.expect("stream stored the message");
            }
        });
    }

    /// The durable consumer's info, None while it does not exist (or the server does not answer).
    pub fn consumer_info(&self, stream: &str, durable: &str) -> Option<jetstream::consumer::Info> {
        let js = self.js();
        self.block_on(async {
            let s = js.get_stream(stream).await.ok()?;
            let mut c: jetstream::consumer::PullConsumer = s.get_consumer(durable).await.ok()?;
            c.info().await.ok().cloned()
        })
    }

    /// Waits until every message of the stream is acknowledged by the consumer (ack floor at
    /// `last_seq`, nothing pending or awaiting an ack).
    pub fn wait_acked(&self, stream: &str, durable: &str, last_seq: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Some(i) = self.consumer_info(stream, durable) {
                if i.ack_floor.stream_sequence == last_seq && i.num_ack_pending == 0 && i.num_pending == 0 {
                    return;
                }
                last = Some((i.ack_floor.stream_sequence, i.num_ack_pending, i.num_pending, i.num_redelivered));
            }
            assert!(
                Instant::now() < deadline,
                "consumer {stream}/{durable}: ack floor did not reach {last_seq} within {timeout:?}; \
                 last (ack floor, ack pending, pending, redelivered) = {last:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
