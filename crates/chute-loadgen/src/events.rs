//! Plain HTTP JSON events: NDJSON bodies of product and service events (~300 bytes each: a
//! time, a name, a type, a service, ids, an amount, nested attributes), posted to chute's
//! built-in `events` table (`POST /api/v1/events/events`).

use crate::k6gen::{Rng, rfc3339_nano};
use crate::payload::{
    HttpMessage, Message, Outgoing, Payload, PayloadInfo, PayloadKind, PayloadOptions, VisibilityProbe,
};
use bytes::Bytes;
use std::io::Write;

/// Where the events go: the built-in table.
pub const EVENTS_PATH: &str = "/api/v1/events/events";

const NAMES: [(&str, &str); 8] = [
    ("checkout.completed", "business"),
    ("checkout.started", "business"),
    ("cart.item_added", "business"),
    ("user.signed_in", "audit"),
    ("user.signed_up", "audit"),
    ("payment.declined", "business"),
    ("search.performed", "product"),
    ("feature.flag_evaluated", "product"),
];
const SERVICES: [&str; 4] = ["shop-web", "checkout", "accounts", "search"];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-south-1"];
const BROWSERS: [&str; 4] = ["firefox", "chrome", "safari", "edge"];

/// Appends one event (one NDJSON line, newline included) at `time_ns`.
pub fn write_event(out: &mut Vec<u8>, rng: &mut Rng, time_ns: i64, run_id: &str) {
    let (name, kind) = NAMES[rng.below(NAMES.len() as u64) as usize];
    let service = SERVICES[rng.below(SERVICES.len() as u64) as usize];
    // Writing into a Vec cannot fail.
    let _ = writeln!(
        out,
        "{{\"timestamp\":\"{}\",\"name\":\"{name}\",\"type\":\"{kind}\",\"service\":\"{service}\",\
         \"run_id\":\"{run_id}\",\"user_id\":\"u-{:06}\",\"session_id\":\"{:016x}\",\"amount\":{:.2},\
         \"currency\":\"EUR\",\"items\":{},\"attributes\":{{\"region\":\"{}\",\"browser\":\"{}\",\
         \"plan\":\"{}\",\"experiment\":\"exp-{}\"}}}}",
        rfc3339_nano(time_ns),
        rng.below(1_000_000),
        rng.next_u64(),
        rng.unit() * 500.0,
        1 + rng.below(9),
        REGIONS[rng.below(REGIONS.len() as u64) as usize],
        BROWSERS[rng.below(BROWSERS.len() as u64) as usize],
        if rng.below(4) == 0 { "pro" } else { "free" },
        rng.below(20),
    );
}

/// An NDJSON body of `rows` events, 1 ms apart from `start_ns`.
pub fn events_body(rows: usize, seed: u64, start_ns: i64, run_id: &str) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut buf = Vec::with_capacity(rows * 320);
    for i in 0..rows {
        write_event(&mut buf, &mut rng, start_ns + i as i64 * 1_000_000, run_id);
    }
    buf
}

/// Generated event bodies sent in turn. No visibility markers: chute has no query endpoint for
/// event tables (count them in the store).
pub struct Events {
    info: PayloadInfo,
    bodies: Vec<Bytes>,
}

impl Events {
    pub fn new(o: &PayloadOptions) -> Self {
        let bodies: Vec<Bytes> = (0..o.bodies.max(1))
            .map(|i| {
                let start = o.start_ns + (i * o.rows_per_request) as i64 * 1_000_000;
                Bytes::from(events_body(o.rows_per_request, o.seed ^ i as u64, start, &o.run_id))
            })
            .collect();
        let bytes = bodies.iter().map(|b| b.len() as u64).sum::<u64>() / bodies.len() as u64;
        Events {
            info: PayloadInfo {
                protocol: PayloadKind::Events,
                run_id: o.run_id.clone(),
                run_ids: o.run_id.clone(),
                rows_per_request: o.rows_per_request as u64,
                bytes_per_request: bytes,
                distinct_bodies: bodies.len(),
            },
            bodies,
        }
    }
}

impl Payload for Events {
    fn info(&self) -> &PayloadInfo {
        &self.info
    }

    fn message(&self, seq: u64) -> Outgoing {
        let body = self.bodies[(seq % self.bodies.len() as u64) as usize].clone();
        Outgoing {
            message: Message::Http(HttpMessage {
                method: "POST",
                path: EVENTS_PATH.into(),
                headers: vec![("content-type", "application/x-ndjson")],
                body,
            }),
            rows: self.info.rows_per_request,
        }
    }

    fn marker(&self, _id: &str, _now_ns: i64) -> Option<(Outgoing, VisibilityProbe)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_ndjson_of_about_300_byte_events() {
        let body = events_body(1000, 7, 1_795_433_093_000_000_000, "lg-events-t");
        let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1000);
        let avg = body.len() / 1000;
        assert!((270..=330).contains(&avg), "average event size {avg} bytes");
        for l in &lines {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            assert_eq!(v["run_id"], "lg-events-t");
            assert!(v["timestamp"].as_str().unwrap().starts_with("2026-11-23T"), "{v}");
            assert!(v["attributes"]["region"].is_string());
        }
        assert_eq!(body, events_body(1000, 7, 1_795_433_093_000_000_000, "lg-events-t"), "deterministic");
    }
}
