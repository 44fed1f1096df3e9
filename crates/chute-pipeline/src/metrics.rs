//! The counters, gauges and histograms chute reports about itself, rendered in the Prometheus
//! text format (`/metrics`) and as JSON (`/api/v1/stats`). Every family is named `chute_*`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Labels = Vec<(String, String)>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A value read when metrics are rendered.
pub type GaugeFn = Box<dyn Fn() -> f64 + Send + Sync>;

/// Labelled values read when metrics are rendered (for label sets that come and go).
pub type CollectorFn = Box<dyn Fn() -> Vec<(Vec<(String, String)>, f64)> + Send + Sync>;

enum Series {
    Counter(Arc<AtomicU64>),
    Gauge(Arc<Gauge>),
    GaugeFn(GaugeFn),
    Histogram(Arc<Histogram>),
}

struct Family {
    help: &'static str,
    kind: Kind,
    series: BTreeMap<Labels, Series>,
    collector: Option<CollectorFn>,
}

/// The registry. Cheap to share (`Arc<Metrics>`); series are created on first use and kept.
#[derive(Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

/// An f64 gauge.
#[derive(Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed)
    }
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    pub fn add(&self, d: f64) {
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| Some((f64::from_bits(b) + d).to_bits()));
    }
}

/// A histogram with fixed upper bounds (seconds, for latencies).
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum: Gauge,
    count: AtomicU64,
}

/// Latency buckets from 1 ms to 60 s.
pub const LATENCY_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Buckets from 0.5 ms to 2.5 s, for disk syncs.
pub const SYNC_BUCKETS: &[f64] = &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum: Gauge::default(),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum.add(v);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The upper bound of the bucket holding quantile `q` (an estimate, as Prometheus gives).
    pub fn quantile_bound(&self, q: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return 0.0;
        }
        let want = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Ordering::Relaxed);
            if seen >= want {
                return self.bounds[i];
            }
        }
        f64::INFINITY
    }
}

fn labels(l: &[(&str, &str)]) -> Labels {
    l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Family {
    /// The series with these labels, found without allocating: handlers look their series up
    /// on every request, and a family holds a few dozen series at most.
    fn find(&self, l: &[(&str, &str)]) -> Option<&Series> {
        let same = |k: &Labels| k.len() == l.len() && k.iter().zip(l).all(|((a, b), (c, d))| a == c && b == d);
        self.series.iter().find(|(k, _)| same(k)).map(|(_, s)| s)
    }
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn with_family<T>(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        f: impl FnOnce(&mut Family) -> T,
    ) -> T {
        let mut fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let fam = fams.entry(name).or_insert_with(|| Family { help, kind, series: BTreeMap::new(), collector: None });
        f(fam)
    }

    pub fn counter(&self, name: &'static str, help: &'static str, l: &[(&str, &str)]) -> Arc<AtomicU64> {
        self.with_family(name, help, Kind::Counter, |fam| {
            if let Some(Series::Counter(c)) = fam.find(l) {
                return c.clone();
            }
            match fam.series.entry(labels(l)).or_insert_with(|| Series::Counter(Arc::new(AtomicU64::new(0)))) {
                Series::Counter(c) => c.clone(),
                _ => Arc::new(AtomicU64::new(0)),
            }
        })
    }

    pub fn gauge(&self, name: &'static str, help: &'static str, l: &[(&str, &str)]) -> Arc<Gauge> {
        self.with_family(name, help, Kind::Gauge, |fam| {
            if let Some(Series::Gauge(g)) = fam.find(l) {
                return g.clone();
            }
            match fam.series.entry(labels(l)).or_insert_with(|| Series::Gauge(Arc::new(Gauge::default()))) {
                Series::Gauge(g) => g.clone(),
                _ => Arc::new(Gauge::default()),
            }
        })
    }

    /// A gauge whose value is computed at render time.
    pub fn gauge_fn(&self, name: &'static str, help: &'static str, l: &[(&str, &str)], f: GaugeFn) {
        self.with_family(name, help, Kind::Gauge, |fam| {
            fam.series.insert(labels(l), Series::GaugeFn(f));
        })
    }

    /// A gauge family whose series are produced at render time.
    pub fn collector(&self, name: &'static str, help: &'static str, f: CollectorFn) {
        self.with_family(name, help, Kind::Gauge, |fam| fam.collector = Some(f))
    }

    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        l: &[(&str, &str)],
        bounds: &'static [f64],
    ) -> Arc<Histogram> {
        self.with_family(name, help, Kind::Histogram, |fam| {
            if let Some(Series::Histogram(h)) = fam.find(l) {
                return h.clone();
            }
            match fam.series.entry(labels(l)).or_insert_with(|| Series::Histogram(Arc::new(Histogram::new(bounds)))) {
                Series::Histogram(h) => h.clone(),
                _ => Arc::new(Histogram::new(bounds)),
            }
        })
    }

    /// The Prometheus text exposition format, version 0.0.4.
    pub fn render_prometheus(&self) -> String {
        let fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for (name, fam) in fams.iter() {
            let _ = writeln!(out, "# HELP {name} {}", fam.help);
            let _ = writeln!(out, "# TYPE {name} {}", fam.kind.as_str());
            if let Some(c) = &fam.collector {
                for (l, v) in c() {
                    let _ = writeln!(out, "{name}{} {}", fmt_labels(&l, None), fmt_f64(v));
                }
            }
            for (l, s) in &fam.series {
                match s {
                    Series::Counter(c) => {
                        let _ = writeln!(out, "{name}{} {}", fmt_labels(l, None), c.load(Ordering::Relaxed));
                    }
                    Series::Gauge(g) => {
                        let _ = writeln!(out, "{name}{} {}", fmt_labels(l, None), fmt_f64(g.get()));
                    }
                    Series::GaugeFn(f) => {
                        let _ = writeln!(out, "{name}{} {}", fmt_labels(l, None), fmt_f64(f()));
                    }
                    Series::Histogram(h) => {
                        let mut cum = 0;
                        for (b, c) in h.bounds.iter().zip(&h.counts) {
                            cum += c.load(Ordering::Relaxed);
                            let _ = writeln!(out, "{name}_bucket{} {cum}", fmt_labels(l, Some(&fmt_f64(*b))));
                        }
                        let _ = writeln!(out, "{name}_bucket{} {}", fmt_labels(l, Some("+Inf")), h.count());
                        let _ = writeln!(out, "{name}_sum{} {}", fmt_labels(l, None), fmt_f64(h.sum.get()));
                        let _ = writeln!(out, "{name}_count{} {}", fmt_labels(l, None), h.count());
                    }
                }
            }
        }
        out
    }

    /// Every series as JSON: `{family: [{labels: {...}, value | count, sum, p50, p99}]}`.
    pub fn to_json(&self) -> serde_json::Value {
        let fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let mut obj = serde_json::Map::new();
        for (name, fam) in fams.iter() {
            let mut arr = Vec::new();
            if let Some(c) = &fam.collector {
                for (l, v) in c() {
                    let lab: serde_json::Map<String, serde_json::Value> =
                        l.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
                    arr.push(serde_json::json!({ "labels": lab, "value": json_f64(v) }));
                }
            }
            for (l, s) in &fam.series {
                let lab: serde_json::Map<String, serde_json::Value> =
                    l.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
                let mut e = serde_json::Map::new();
                e.insert("labels".into(), lab.into());
                match s {
                    Series::Counter(c) => {
                        e.insert("value".into(), c.load(Ordering::Relaxed).into());
                    }
                    Series::Gauge(g) => {
                        e.insert("value".into(), json_f64(g.get()));
                    }
                    Series::GaugeFn(f) => {
                        e.insert("value".into(), json_f64(f()));
                    }
                    Series::Histogram(h) => {
                        e.insert("count".into(), h.count().into());
                        e.insert("sum".into(), json_f64(h.sum.get()));
                        e.insert("p50_le".into(), json_f64(h.quantile_bound(0.5)));
                        e.insert("p99_le".into(), json_f64(h.quantile_bound(0.99)));
                    }
                }
                arr.push(serde_json::Value::Object(e));
            }
            obj.insert(name.to_string(), arr.into());
        }
        serde_json::Value::Object(obj)
    }

    /// Sum of a counter family over the series whose labels include all of `filter`.
    pub fn counter_sum(&self, name: &str, filter: &[(&str, &str)]) -> u64 {
        let fams = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let Some(fam) = fams.get(name) else { return 0 };
        fam.series
            .iter()
            .filter(|(l, _)| filter.iter().all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v)))
            .map(|(_, s)| match s {
                Series::Counter(c) => c.load(Ordering::Relaxed),
                _ => 0,
            })
            .sum()
    }
}

fn json_f64(v: f64) -> serde_json::Value {
    serde_json::Number::from_f64(v).map(serde_json::Value::Number).unwrap_or(serde_json::Value::Null)
}

fn fmt_f64(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else if v.is_nan() {
        "NaN".into()
    } else {
        format!("{v}")
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn fmt_labels(l: &Labels, le: Option<&str>) -> String {
    if l.is_empty() && le.is_none() {
        return String::new();
    }
    let mut parts: Vec<String> = l.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    format!("{{{}}}", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms_in_prometheus_text() {
        let m = Metrics::new();
        m.counter("chute_rows_received_total", "rows received", &[("table", "k6_samples"), ("source", "json")])
            .fetch_add(5, Ordering::Relaxed);
        m.gauge("chute_spool_bytes", "bytes in the spool", &[]).set(42.0);
        let h = m.histogram("chute_flush_seconds", "flush time", &[("table", "t")], LATENCY_BUCKETS);
        h.observe(0.003);
        h.observe(0.2);
        let text = m.render_prometheus();
        assert!(text.contains("# TYPE chute_rows_received_total counter"), "{text}");
        assert!(text.contains("chute_rows_received_total{table=\"k6_samples\",source=\"json\"} 5"), "{text}");
        assert!(text.contains("chute_spool_bytes 42"), "{text}");
        assert!(text.contains("chute_flush_seconds_bucket{table=\"t\",le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("chute_flush_seconds_bucket{table=\"t\",le=\"+Inf\"} 2"), "{text}");
        assert!(text.contains("chute_flush_seconds_count{table=\"t\"} 2"), "{text}");
        assert_eq!(m.counter_sum("chute_rows_received_total", &[("table", "k6_samples")]), 5);
        assert_eq!(h.quantile_bound(0.5), 0.005);
        m.collector("chute_fill", "fill", Box::new(|| vec![(vec![("table".into(), "t".into())], 7.0)]));
        assert!(m.render_prometheus().contains("chute_fill{table=\"t\"} 7"));
        assert_eq!(m.to_json()["chute_fill"][0]["value"], 7.0);
    }

    #[test]
    fn a_series_is_found_again_by_its_labels_and_only_by_them() {
        let m = Metrics::new();
        let c = |l: &[(&str, &str)]| m.counter("chute_x_total", "x", l);
        c(&[("a", "1"), ("b", "2")]).fetch_add(1, Ordering::Relaxed);
        c(&[("a", "1"), ("b", "2")]).fetch_add(2, Ordering::Relaxed);
        c(&[("a", "1"), ("b", "3")]).fetch_add(10, Ordering::Relaxed);
        c(&[("a", "1")]).fetch_add(100, Ordering::Relaxed);
        c(&[("a", "1"), ("b", "2"), ("c", "")]).fetch_add(1000, Ordering::Relaxed);
        assert_eq!(c(&[("a", "1"), ("b", "2")]).load(Ordering::Relaxed), 3);
        assert_eq!(m.counter_sum("chute_x_total", &[("a", "1")]), 1113);
        let text = m.render_prometheus();
        assert_eq!(text.lines().filter(|l| l.starts_with("chute_x_total")).count(), 4, "{text}");
        let g = |v: &str| m.gauge("chute_g", "g", &[("t", v)]);
        g("x").set(1.0);
        g("y").set(2.0);
        assert_eq!(g("x").get(), 1.0);
        let h = |v: &str| m.histogram("chute_h_seconds", "h", &[("t", v)], LATENCY_BUCKETS);
        h("x").observe(0.1);
        h("x").observe(0.1);
        assert_eq!((h("x").count(), h("y").count()), (2, 0));
    }
}
