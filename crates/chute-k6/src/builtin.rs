//! k6's metric types and its registry of built-in metrics (name → type and what values contain),
//! used when a source does not say a metric's type (InfluxDB writes, CSV files).

use crate::K6Error;
use std::fmt;
use std::str::FromStr;

/// The four k6 metric types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricType {
    /// Sums values (`http_reqs`, `data_received`).
    Counter,
    /// Keeps the last value, and the min and max (`vus`).
    Gauge,
    /// The share of non-zero values (`http_req_failed`, `checks`).
    Rate,
    /// Every value, summarized by avg, min, med, max and percentiles (`http_req_duration`).
    Trend,
}

impl MetricType {
    /// `counter`, `gauge`, `rate` or `trend`, as k6 writes them.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Rate => "rate",
            MetricType::Trend => "trend",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MetricType {
    type Err = K6Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "counter" => Ok(MetricType::Counter),
            "gauge" => Ok(MetricType::Gauge),
            "rate" => Ok(MetricType::Rate),
            "trend" => Ok(MetricType::Trend),
            other => Err(K6Error::UnknownMetricType(other.to_owned())),
        }
    }
}

use MetricType::{Counter, Gauge, Rate, Trend};

/// (name, type, contains) of every metric k6 itself emits.
const BUILTIN: &[(&str, MetricType, &str)] = &[
    // Test execution.
    ("vus", Gauge, "default"),
    ("vus_max", Gauge, "default"),
    ("iterations", Counter, "default"),
    ("iteration_duration", Trend, "time"),
    ("dropped_iterations", Counter, "default"),
    ("data_sent", Counter, "data"),
    ("data_received", Counter, "data"),
    ("checks", Rate, "default"),
    ("group_duration", Trend, "time"),
    // HTTP.
    ("http_reqs", Counter, "default"),
    ("http_req_failed", Rate, "default"),
    ("http_req_duration", Trend, "time"),
    ("http_req_blocked", Trend, "time"),
    ("http_req_connecting", Trend, "time"),
    ("http_req_tls_handshaking", Trend, "time"),
    ("http_req_sending", Trend, "time"),
    ("http_req_waiting", Trend, "time"),
    ("http_req_receiving", Trend, "time"),
    // gRPC.
    ("grpc_req_duration", Trend, "time"),
    ("grpc_streams", Counter, "default"),
    ("grpc_streams_msgs_sent", Counter, "default"),
    ("grpc_streams_msgs_received", Counter, "default"),
    // WebSockets.
    ("ws_connecting", Trend, "time"),
    ("ws_session_duration", Trend, "time"),
    ("ws_ping", Trend, "time"),
    ("ws_msgs_sent", Counter, "default"),
    ("ws_msgs_received", Counter, "default"),
    ("ws_sessions", Counter, "default"),
    // Browser.
    ("browser_data_received", Counter, "data"),
    ("browser_data_sent", Counter, "data"),
    ("browser_http_req_duration", Trend, "time"),
    ("browser_http_req_failed", Rate, "default"),
    ("browser_web_vital_cls", Trend, "default"),
    ("browser_web_vital_fcp", Trend, "time"),
    ("browser_web_vital_fid", Trend, "time"),
    ("browser_web_vital_inp", Trend, "time"),
    ("browser_web_vital_lcp", Trend, "time"),
    ("browser_web_vital_ttfb", Trend, "time"),
];

fn lookup(metric: &str) -> Option<&'static (&'static str, MetricType, &'static str)> {
    BUILTIN.iter().find(|(name, _, _)| *name == metric)
}

/// The type of a k6 built-in metric; None for custom metrics.
pub fn builtin_type(metric: &str) -> Option<MetricType> {
    lookup(metric).map(|(_, t, _)| *t)
}

/// What a built-in metric's values are: `time` (milliseconds), `data` (bytes) or `default`
/// (also for metrics that are not built in).
pub fn builtin_contains(metric: &str) -> &'static str {
    lookup(metric).map(|(_, _, c)| *c).unwrap_or("default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_builtin_has_the_type_k6_gives_it() {
        assert_eq!(builtin_type("http_reqs"), Some(Counter));
        assert_eq!(builtin_type("http_req_failed"), Some(Rate));
        assert_eq!(builtin_type("vus_max"), Some(Gauge));
        assert_eq!(builtin_type("ws_ping"), Some(Trend));
        assert_eq!(builtin_type("orders_placed"), None);
        assert_eq!(builtin_contains("data_received"), "data");
        assert_eq!(builtin_contains("http_req_waiting"), "time");
        assert_eq!(builtin_contains("orders_placed"), "default");
    }

    #[test]
    fn metric_types_round_trip_through_their_names() {
        for t in [Counter, Gauge, Rate, Trend] {
            assert_eq!(t.as_str().parse::<MetricType>().ok(), Some(t));
        }
        let err = "histogram".parse::<MetricType>().err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("unknown metric type \"histogram\" (expected counter, gauge, rate or trend)"));
    }
}
