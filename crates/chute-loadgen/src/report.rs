//! The result of a run: counts, rates, latency percentiles, visibility, thresholds; as JSON
//! (`--json`) and as text for people.

use crate::payload::PayloadInfo;
use crate::spec::{Figure, Profile, Threshold};
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Requests {
    /// Open model: the arrivals the profile asked for (sent + overflow).
    pub intended: u64,
    /// Requests started (a connection was attempted).
    pub sent: u64,
    /// Answered 2xx (NATS: JetStream's publish ack arrived).
    pub acked: u64,
    /// Answered 429 (NATS: the publish ack was an error).
    pub rejected: u64,
    /// 429 answers that carried `Retry-After`.
    pub retry_after_seen: u64,
    /// Connection failures, timeouts and answers other than 2xx and 429 (NATS: no ack).
    pub errors: u64,
    /// Open model: arrivals not sent because `max_in_flight` requests were outstanding.
    pub overflow: u64,
    /// Answers by status code (HTTP only).
    pub statuses: BTreeMap<String, u64>,
    /// The first few distinct error messages (and NATS rejections, "rejected: ...").
    pub error_examples: Vec<String>,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Rows {
    pub sent: u64,
    pub acked: u64,
    pub rejected: u64,
    pub overflow: u64,
    /// Acknowledged rows per second of the run.
    pub per_second: f64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Visibility {
    /// Markers sent (one row each, a unique run id each).
    pub markers: u64,
    /// Markers the target acknowledged.
    pub acked: u64,
    /// Markers seen through the target's API before the timeout.
    pub visible: u64,
    /// From sending a marker to the first answer that shows it.
    pub latency: Option<Latency>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct ThresholdResult {
    pub expression: String,
    pub ok: bool,
    /// The figure judged (ms for latencies); None when the run did not produce it.
    pub value: Option<f64>,
}

/// One second of the run.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Tick {
    pub t_s: f64,
    /// Load level at that moment: requests/s (open) or connections (closed).
    pub level: f64,
    pub sent: u64,
    pub acked_rows: u64,
    pub rejected: u64,
    pub errors: u64,
    pub overflow: u64,
    /// p99 of the acknowledgement latency within this second.
    pub ack_p99_ms: Option<f64>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub target: String,
    pub model: String,
    pub scenario: String,
    pub payload: PayloadInfo,
    pub profile: Profile,
    /// The profile's length.
    pub duration_s: f64,
    /// From the first request to the last answer.
    pub elapsed_s: f64,
    /// Open model: the arrival rate asked for, on average (requests/s).
    pub intended_rate: Option<f64>,
    pub max_in_flight: Option<u64>,
    pub requests: Requests,
    pub rows: Rows,
    /// 2xx answers; open model: measured from each request's intended send time.
    pub ack_latency: Option<Latency>,
    pub visibility: Visibility,
    pub thresholds: Vec<ThresholdResult>,
    pub thresholds_ok: bool,
    pub timeline: Vec<Tick>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl Report {
    /// The value of a figure, if the run produced it.
    pub fn figure(&self, f: Figure) -> Option<f64> {
        let ack = self.ack_latency.as_ref();
        let vis = self.visibility.latency.as_ref();
        match f {
            Figure::AckP50 => ack.map(|l| l.p50_ms),
            Figure::AckP90 => ack.map(|l| l.p90_ms),
            Figure::AckP99 => ack.map(|l| l.p99_ms),
            Figure::AckMax => ack.map(|l| l.max_ms),
            Figure::VisibilityP50 => vis.map(|l| l.p50_ms),
            Figure::VisibilityP99 => vis.map(|l| l.p99_ms),
            Figure::RowsPerS => Some(self.rows.per_second),
            Figure::ErrorRate => Some(ratio(self.requests.errors, self.requests.sent)),
            Figure::RejectedRate => Some(ratio(self.requests.rejected, self.requests.sent)),
            Figure::OverflowRate => Some(ratio(self.requests.overflow, self.requests.intended.max(self.requests.sent))),
        }
    }

    /// Judges the thresholds (a figure the run did not produce fails its threshold).
    pub fn judge(&mut self, thresholds: &[Threshold]) {
        self.thresholds = thresholds
            .iter()
            .map(|t| {
                let value = self.figure(t.figure);
                ThresholdResult {
                    expression: t.expression.clone(),
                    ok: value.is_some_and(|v| t.op.holds(v, t.limit)),
                    value,
                }
            })
            .collect();
        self.thresholds_ok = self.thresholds.iter().all(|t| t.ok);
    }

    /// 99 when a threshold failed (as k6), else 0.
    pub fn exit_code(&self) -> i32 {
        if self.thresholds_ok { 0 } else { 99 }
    }

    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let p = &self.payload;
        let _ = writeln!(
            s,
            "chute loadgen: {} to {}, {} model, {} scenario, {:.1} s",
            p.protocol.as_str(),
            self.target,
            self.model,
            self.scenario,
            self.duration_s
        );
        let _ = writeln!(
            s,
            "  run id {}, {} rows ({}) per request, {} distinct bodies",
            p.run_ids,
            thousands(p.rows_per_request),
            bytes(p.bytes_per_request),
            p.distinct_bodies
        );
        if let Some(rate) = self.intended_rate {
            let _ = writeln!(
                s,
                "  intended rate {rate:.1} requests/s ({} intended), at most {} in flight",
                thousands(self.requests.intended),
                self.max_in_flight.unwrap_or(0)
            );
        }
        s.push('\n');
        let r = &self.requests;
        let rejected = if p.protocol.is_nats() {
            format!("rejected (error ack) {}", thousands(r.rejected))
        } else {
            format!("rejected (429) {} (Retry-After on {})", thousands(r.rejected), thousands(r.retry_after_seen))
        };
        let _ = writeln!(
            s,
            "  requests     sent {}  acknowledged {}  {rejected}  errors {}  overflow {}",
            thousands(r.sent),
            thousands(r.acked),
            thousands(r.errors),
            thousands(r.overflow)
        );
        let rows = &self.rows;
        let _ = writeln!(
            s,
            "  rows         sent {}  acknowledged {}  rejected {}  overflow {}  → {} rows/s over {:.1} s",
            thousands(rows.sent),
            thousands(rows.acked),
            thousands(rows.rejected),
            thousands(rows.overflow),
            thousands(rows.per_second.round() as u64),
            self.elapsed_s
        );
        match &self.ack_latency {
            Some(l) => {
                let _ = writeln!(
                    s,
                    "  ack latency  p50 {}  p90 {}  p99 {}  max {}  (mean {}, {} answers{})",
                    ms(l.p50_ms),
                    ms(l.p90_ms),
                    ms(l.p99_ms),
                    ms(l.max_ms),
                    ms(l.mean_ms),
                    thousands(l.count),
                    if self.intended_rate.is_some() { ", from the intended send time" } else { "" }
                );
            }
            None => s.push_str("  ack latency  no acknowledged request\n"),
        }
        let v = &self.visibility;
        match &v.latency {
            Some(l) => {
                let _ = writeln!(
                    s,
                    "  visibility   p50 {}  p99 {}  max {}  ({} of {} markers queryable)",
                    ms(l.p50_ms),
                    ms(l.p99_ms),
                    ms(l.max_ms),
                    v.visible,
                    v.markers
                );
            }
            // OTLP's listener answers no queries: its markers need chute's main address.
            None if v.markers == 0 && self.payload.protocol.is_otlp() => {
                s.push_str("  visibility   not measured (pass --api with chute's main address)\n")
            }
            None if v.markers == 0 => s.push_str("  visibility   not measured\n"),
            None => {
                let _ = writeln!(s, "  visibility   none of {} markers became queryable", v.markers);
            }
        }
        if !r.statuses.is_empty() {
            let st: Vec<String> = r.statuses.iter().map(|(k, n)| format!("{k}: {}", thousands(*n))).collect();
            let _ = writeln!(s, "  answers      {}", st.join(", "));
        }
        for e in &r.error_examples {
            let _ = writeln!(s, "  error        {e}");
        }
        if !self.thresholds.is_empty() {
            s.push_str("\n  thresholds\n");
            for t in &self.thresholds {
                let value = match t.value {
                    Some(v) => format!("{v:.3}"),
                    None => "no value".into(),
                };
                let _ = writeln!(s, "    {} {}  ({value})", if t.ok { "✓" } else { "✗" }, t.expression);
            }
        }
        s
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}
