//! NATS JetStream: generated JSON events published to a subject of a stream chute consumes
//! ([`NatsEvents`], one message = one row), and the connection that publishes them
//! ([`Publisher`], in [`crate::http`]'s place). A message counts as acknowledged when
//! JetStream's publish ack arrives (the stream stored it), as rejected when the ack is an error
//! (no stream for the subject, a stream limit, ...); no ack within the timeout, or a broken
//! connection, is an error.

use crate::LoadgenError;
use crate::events::write_event;
use crate::k6gen::Rng;
use crate::payload::{
    Message, NatsMessage, Outgoing, Payload, PayloadInfo, PayloadKind, PayloadOptions, VisibilityProbe,
};
use async_nats::jetstream;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// The subject published to unless `--subject` says otherwise.
pub const DEFAULT_SUBJECT: &str = "loadgen.events";

/// Distinct messages generated per `--bodies`.
const MESSAGES_PER_BODY: usize = 1000;

/// Generated JSON events (the shape of [`crate::events`]: a time, a name, a type, a service,
/// `run_id`, ids, an amount, nested attributes; ~300 bytes), one per message, sent in turn.
/// No visibility markers: chute has no query endpoint for the consumer's table (count the rows
/// by `run_id` in the store).
pub struct NatsEvents {
    info: PayloadInfo,
    subject: Arc<str>,
    messages: Vec<Bytes>,
}

impl NatsEvents {
    pub fn new(o: &PayloadOptions) -> Result<Self, LoadgenError> {
        if o.rows_per_request != 1 {
            return Err(LoadgenError::Spec(format!(
                "nats: a message is one row; --rows-per-request {} cannot be used",
                o.rows_per_request
            )));
        }
        check_subject(&o.subject)?;
        let n = o.bodies.max(1) * MESSAGES_PER_BODY;
        let mut rng = Rng::new(o.seed);
        let messages: Vec<Bytes> = (0..n)
            .map(|i| {
                let mut buf = Vec::with_capacity(320);
                write_event(&mut buf, &mut rng, o.start_ns + i as i64 * 1_000_000, &o.run_id);
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                Bytes::from(buf)
            })
            .collect();
        let bytes = messages.iter().map(|m| m.len() as u64).sum::<u64>() / n as u64;
        Ok(NatsEvents {
            info: PayloadInfo {
                protocol: PayloadKind::Nats,
                run_id: o.run_id.clone(),
                run_ids: o.run_id.clone(),
                rows_per_request: 1,
                bytes_per_request: bytes,
                distinct_bodies: n,
            },
            subject: o.subject.as_str().into(),
            messages,
        })
    }
}

/// A subject to publish to: dot-separated tokens, no wildcards, no whitespace.
fn check_subject(s: &str) -> Result<(), LoadgenError> {
    let ok = !s.is_empty()
        && s.split('.').all(|t| !t.is_empty() && t != "*" && t != ">")
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(LoadgenError::Spec(format!(
            "--subject {s:?}: a subject to publish to (tokens separated by '.', no wildcards)"
        )))
    }
}

impl Payload for NatsEvents {
    fn info(&self) -> &PayloadInfo {
        &self.info
    }

    fn message(&self, seq: u64) -> Outgoing {
        let payload = self.messages[(seq % self.messages.len() as u64) as usize].clone();
        Outgoing { message: Message::Nats(NatsMessage { subject: self.subject.clone(), payload }), rows: 1 }
    }

    fn marker(&self, _id: &str, _now_ns: i64) -> Option<(Outgoing, VisibilityProbe)> {
        None
    }
}

/// What came of a publish.
#[derive(Debug)]
pub enum PublishOutcome {
    /// JetStream's ack: the stream stored the message.
    Acked,
    /// The ack was an error (the reason).
    Rejected(String),
}

/// A JetStream connection (one client, multiplexed: every worker publishes on it).
#[derive(Clone)]
pub struct Publisher {
    pub url: String,
    js: jetstream::Context,
}

impl Publisher {
    /// Connects to `nats://HOST:PORT` (credentials as `nats://user:password@host:port`) and
    /// checks that a stream captures `subject` (else every publish would be refused).
    pub async fn connect(url: &str, subject: &str, timeout: Duration) -> Result<Publisher, LoadgenError> {
        let bad = |why: String| LoadgenError::Target(format!("--target {url:?}: {why}"));
        if !(url.starts_with("nats://") || url.starts_with("tls://")) {
            return Err(bad("the nats protocol needs a nats:// (or tls://) URL".into()));
        }
        let client =
            tokio::time::timeout(timeout, async_nats::ConnectOptions::new().connection_timeout(timeout).connect(url))
                .await
                .map_err(|_| bad(format!("no connection within {timeout:?}")))?
                .map_err(|e| bad(format!("cannot connect: {e}")))?;
        let js = jetstream::new(client);
        match tokio::time::timeout(timeout, js.stream_by_subject(subject)).await {
            Ok(Ok(_stream)) => {}
            Ok(Err(e)) => {
                return Err(bad(format!(
                    "no JetStream stream captures subject {subject:?} ({e}); create one or pass --subject"
                )));
            }
            Err(_) => return Err(bad(format!("JetStream did not answer within {timeout:?}"))),
        }
        Ok(Publisher { url: url.trim_end_matches('/').to_string(), js })
    }

    /// Publishes `m` and waits for JetStream's ack within `timeout`. Err: no ack (not sent, the
    /// connection broke, or the timeout).
    pub async fn publish(&self, m: &NatsMessage, timeout: Duration) -> Result<PublishOutcome, String> {
        use jetstream::context::PublishErrorKind as K;
        let exchange = async {
            let ack =
                self.js.publish(m.subject.to_string(), m.payload.clone()).await.map_err(|e| format!("publish: {e}"))?;
            match ack.await {
                Ok(_) => Ok(PublishOutcome::Acked),
                Err(e) if matches!(e.kind(), K::TimedOut | K::BrokenPipe) => Err(format!("publish ack: {e}")),
                Err(e) => Ok(PublishOutcome::Rejected(format!("publish ack: {e}"))),
            }
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(format!("no publish ack within {timeout:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PayloadOptions {
        PayloadOptions {
            rows_per_request: 1,
            bodies: 2,
            run_id: "lg-nats-t".into(),
            seed: 3,
            start_ns: 1_795_433_093_000_000_000,
            fixtures: std::path::PathBuf::new(),
            subject: "loadgen.events".into(),
        }
    }

    #[test]
    fn messages_are_single_json_events_of_about_300_bytes_with_the_run_id() {
        let p = NatsEvents::new(&opts()).unwrap();
        assert_eq!(p.info().distinct_bodies, 2000);
        assert!((270..=330).contains(&p.info().bytes_per_request), "{}", p.info().bytes_per_request);
        for seq in [0, 1, 1999] {
            let o = p.message(seq);
            assert_eq!(o.rows, 1);
            let Message::Nats(m) = &o.message else { panic!("not NATS") };
            assert_eq!(&*m.subject, "loadgen.events");
            assert!(!m.payload.contains(&b'\n'));
            let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
            assert_eq!(v["run_id"], "lg-nats-t");
            assert!(v["attributes"].is_object());
        }
        let Message::Nats(a) = p.message(2000).message else { panic!() };
        let Message::Nats(b) = p.message(0).message else { panic!() };
        assert_eq!(a.payload, b.payload, "sent in turn");
        assert!(p.marker("m", 1).is_none());
    }

    #[test]
    fn rows_per_request_and_subjects_are_checked() {
        assert!(NatsEvents::new(&PayloadOptions { rows_per_request: 5, ..opts() }).is_err());
        for bad in ["", "a.*", "a.>", "a..b", "a b"] {
            assert!(NatsEvents::new(&PayloadOptions { subject: bad.into(), ..opts() }).is_err(), "{bad:?}");
        }
    }
}
