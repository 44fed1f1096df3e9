//! The end-of-test summary of a stored run, computed the way k6 computes its own.
//!
//! [`run_summary`] answers "how did run X do?" from the store; [`render_text`] prints it like
//! k6's end-of-test summary.
//!
//! # What is reported, per metric type (k6's definitions)
//!
//! - **trend**: `count`, `avg` (sum / count), `min`, `med`, `max`, `p(90)`, `p(95)`, `p(99)`.
//!   Percentiles interpolate linearly between the closest ranks (`i = p·(n−1)`), exactly as
//!   k6 does.
//! - **counter**: `count` (the *sum* of the values, e.g. bytes for `data_received`) and `rate`
//!   (count per second). k6 divides by the test's wall-clock duration, which it alone knows;
//!   here it is the time from the run's first to its last sample, so `rate` is close to k6's but
//!   not equal.
//! - **rate**: `rate` (non-zero samples / all samples), `passes` (non-zero samples), `fails`.
//! - **gauge**: `value` (the last sample's value), `min`, `max`.
//! - **unknown** type (no source said it, and it is not a k6 built-in): the raw aggregates
//!   `count`, `sum`, `avg`, `min`, `med`, `max`, `p(90)`, `p(95)`, `p(99)`, `nonzero`, `last`.
//!
//! A metric's type is the first known of: the request's `metric_types`, the run's declarations
//! (`k6_metrics`, from JSON `Metric` lines), the type stored with the samples, k6's built-in
//! registry. Thresholds are the run's declared ones, except that a metric named in the
//! request's `thresholds` gets the request's list instead. Sub-metrics reported: those declared,
//! those named by a threshold, and `http_req_duration{expected_response:true}` (as k6 does)
//! whenever `http_req_duration` has samples. A threshold on a metric without samples is
//! evaluated against zeros, as k6 evaluates an empty metric.
//!
//! # JSON shape ([`RunSummary`] serialized; stable)
//!
//! ```json
//! {
//!   "run": {"run_id": "fixture-basic-001", "first_sample": "2026-11-23T11:24:53.125392Z",
//!           "last_sample": "2026-11-23T11:25:01.291996Z", "first_sample_us": 1795433093125392,
//!           "last_sample_us": 1795433101291996, "duration_s": 8.166604, "samples": 4123,
//!           "sources": ["json"]},
//!   "metrics": [
//!     {"name": "http_req_duration", "metric": "http_req_duration", "tags": {}, "type": "trend",
//!      "type_from": "declared", "contains": "time",
//!      "values": {"avg": 1.54, "count": 291, "max": 9.89, "med": 1.25, "min": 0.28,
//!                 "p(90)": 2.97, "p(95)": 3.86, "p(99)": 6.68}},
//!     {"name": "http_req_duration{scenario:buy}", "metric": "http_req_duration",
//!      "tags": {"scenario": "buy"}, "type": "trend", ...}
//!   ],
//!   "thresholds": [
//!     {"metric": "http_req_duration", "expression": "p(95)<200", "ok": true,
//!      "actual": 3.86, "from": "declared", "error": null}
//!   ],
//!   "checks": [
//!     {"group": "::home", "name": "home is 200", "path": "::home::home is 200",
//!      "passes": 120, "fails": 0}
//!   ]
//! }
//! ```
//!
//! - `metrics` are sorted by name, each metric's sub-metrics right after it. `values` keys are
//!   k6's stat names (above). `type_from`: `request`, `declared`, `samples`, `builtin` or
//!   `unknown`.
//! - `thresholds[].ok` is **true when the threshold passed**. (k6's `--summary-export` has the
//!   opposite: `true` when it failed.) `actual` is the value the expression compared (null when
//!   it could not be evaluated, then `error` says why and `ok` is false). `from`: `declared` or
//!   `request`.
//! - `checks` are flat, sorted by group path (`""` is the root group, `::home` a group), then
//!   name; `path` is k6's `<group>::<check>`.

mod render;

pub use render::render_text;

use crate::K6Error;
use crate::builtin::{MetricType, builtin_contains, builtin_type};
use crate::thresholds::{Aggregation, MetricName, Threshold};
use chute_store::Store;
use chute_store::queries::k6::{self as q, MetricAggregate, MetricDecl};
use std::collections::BTreeMap;

/// What the caller adds to what the run's data says ("given with the request").
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SummaryRequest {
    /// Thresholds per metric or sub-metric (`http_req_duration{scenario:buy}`); a metric named
    /// here gets this list instead of its declared one.
    pub thresholds: BTreeMap<String, Vec<String>>,
    /// Metric types, for sources that do not carry them (InfluxDB writes, CSV files).
    pub metric_types: BTreeMap<String, MetricType>,
}

/// The run as a whole.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunOverview {
    pub run_id: String,
    /// RFC 3339, UTC, microseconds.
    pub first_sample: String,
    pub last_sample: String,
    pub first_sample_us: i64,
    pub last_sample_us: i64,
    /// Last sample time − first sample time, in seconds.
    pub duration_s: f64,
    pub samples: u64,
    /// The `source` values of the run's samples (`json`, `csv`, `influxdb:<db>`...).
    pub sources: Vec<String>,
}

impl From<q::RunInfo> for RunOverview {
    fn from(info: q::RunInfo) -> Self {
        RunOverview {
            first_sample: crate::time::rfc3339_utc(info.first_sample_us),
            last_sample: crate::time::rfc3339_utc(info.last_sample_us),
            first_sample_us: info.first_sample_us,
            last_sample_us: info.last_sample_us,
            duration_s: (info.last_sample_us - info.first_sample_us) as f64 / 1e6,
            samples: info.samples,
            sources: info.sources,
            run_id: info.run_id,
        }
    }
}

/// Where a metric's type came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeSource {
    Request,
    Declared,
    Samples,
    Builtin,
    Unknown,
}

/// One metric or sub-metric.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MetricSummary {
    /// As k6 names it: `http_req_duration`, `http_req_duration{scenario:buy}`.
    pub name: String,
    /// The metric (the parent of a sub-metric).
    pub metric: String,
    /// A sub-metric's tag filter; empty for a metric.
    pub tags: BTreeMap<String, String>,
    /// `counter`, `gauge`, `rate`, `trend` or `unknown`.
    #[serde(rename = "type")]
    pub metric_type: String,
    pub type_from: TypeSource,
    /// `time` (milliseconds), `data` (bytes) or `default`.
    pub contains: String,
    /// k6's stats for the type (see the module doc).
    pub values: BTreeMap<String, f64>,
}

/// Where a threshold came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdFrom {
    Declared,
    Request,
}

/// One threshold's verdict.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ThresholdResult {
    /// The metric or sub-metric it is on.
    pub metric: String,
    pub expression: String,
    /// True when the threshold passed (k6's summary export says the opposite: true = failed).
    pub ok: bool,
    /// The value compared; None when the threshold could not be evaluated.
    pub actual: Option<f64>,
    pub from: ThresholdFrom,
    /// Why the threshold could not be evaluated.
    pub error: Option<String>,
}

/// One check in one group.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CheckResult {
    /// k6's group path: "" for the root group, `::home`, `::home::cart`.
    pub group: String,
    pub name: String,
    /// `<group>::<name>`, as k6's summary export writes it.
    pub path: String,
    pub passes: u64,
    pub fails: u64,
}

/// The summary of one run; see the module doc for its JSON shape.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunSummary {
    pub run: RunOverview,
    pub metrics: Vec<MetricSummary>,
    pub thresholds: Vec<ThresholdResult>,
    pub checks: Vec<CheckResult>,
}

impl RunSummary {
    /// A metric or sub-metric by name.
    pub fn metric(&self, name: &str) -> Option<&MetricSummary> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// True when every threshold passed.
    pub fn thresholds_ok(&self) -> bool {
        self.thresholds.iter().all(|t| t.ok)
    }
}

fn empty_aggregate(metric: &str) -> MetricAggregate {
    MetricAggregate {
        metric: metric.to_owned(),
        metric_type: String::new(),
        count: 0,
        sum: 0.0,
        min: 0.0,
        max: 0.0,
        med: 0.0,
        p90: 0.0,
        p95: 0.0,
        p99: 0.0,
        nonzero: 0,
        last: 0.0,
        first_us: 0,
        last_us: 0,
    }
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// The stats k6 reports for a metric of type `t` (None: unknown).
fn values_of(t: Option<MetricType>, a: &MetricAggregate, duration_s: f64) -> BTreeMap<String, f64> {
    let n = a.count as f64;
    let avg = ratio(a.sum, n);
    let v: Vec<(&str, f64)> = match t {
        Some(MetricType::Trend) => vec![
            ("count", n),
            ("avg", avg),
            ("min", a.min),
            ("med", a.med),
            ("max", a.max),
            ("p(90)", a.p90),
            ("p(95)", a.p95),
            ("p(99)", a.p99),
        ],
        Some(MetricType::Counter) => vec![("count", a.sum), ("rate", ratio(a.sum, duration_s))],
        Some(MetricType::Rate) => {
            vec![
                ("rate", ratio(a.nonzero as f64, n)),
                ("passes", a.nonzero as f64),
                ("fails", (a.count - a.nonzero) as f64),
            ]
        }
        Some(MetricType::Gauge) => vec![("value", a.last), ("min", a.min), ("max", a.max)],
        None => vec![
            ("count", n),
            ("sum", a.sum),
            ("avg", avg),
            ("min", a.min),
            ("med", a.med),
            ("max", a.max),
            ("p(90)", a.p90),
            ("p(95)", a.p95),
            ("p(99)", a.p99),
            ("nonzero", a.nonzero as f64),
            ("last", a.last),
        ],
    };
    v.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// An exact percentile of a metric's (or sub-metric's) samples, for thresholds on percentiles
/// the aggregates do not carry (`p(99.9)`). Same function as the aggregates
/// (`quantileExactInclusive`, k6's definition).
fn percentile(store: &dyn Store, run_id: &str, name: &MetricName, p: f64) -> Result<f64, K6Error> {
    Ok(q::percentile(store, run_id, &name.metric, &name.tags, p / 100.0)?.unwrap_or(0.0))
}

struct Resolved {
    metric_type: Option<MetricType>,
    from: TypeSource,
    contains: String,
}

fn resolve(
    metric: &str,
    req: &SummaryRequest,
    decls: &BTreeMap<&str, &MetricDecl>,
    sample_type: Option<&str>,
) -> Resolved {
    let decl = decls.get(metric);
    let declared = decl.and_then(|d| d.metric_type.parse::<MetricType>().ok());
    let sampled = sample_type.and_then(|t| t.parse::<MetricType>().ok());
    let (metric_type, from) = if let Some(t) = req.metric_types.get(metric) {
        (Some(*t), TypeSource::Request)
    } else if let Some(t) = declared {
        (Some(t), TypeSource::Declared)
    } else if let Some(t) = sampled {
        (Some(t), TypeSource::Samples)
    } else if let Some(t) = builtin_type(metric) {
        (Some(t), TypeSource::Builtin)
    } else {
        (None, TypeSource::Unknown)
    };
    let contains = decl
        .map(|d| d.contains.as_str())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| builtin_contains(metric))
        .to_owned();
    Resolved { metric_type, from, contains }
}

/// A run's summary from wherever the run is: its samples (`k6_samples`), or for a run of k6's
/// opentelemetry or prometheus-rw output, what that aggregated output carries.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub enum AnySummary {
    Samples(Box<RunSummary>),
    Output(chute_store::queries::k6_outputs::OutputSummary),
}

impl AnySummary {
    /// The summary as text: k6's end-of-test format for sample runs, one line per metric for
    /// output runs.
    pub fn render_text(&self) -> String {
        match self {
            AnySummary::Samples(s) => render_text(s),
            AnySummary::Output(o) => render::render_output_text(o),
        }
    }

    /// Whether every threshold passed (output runs carry none).
    pub fn thresholds_ok(&self) -> bool {
        match self {
            AnySummary::Samples(s) => s.thresholds.iter().all(|t| t.ok),
            AnySummary::Output(_) => true,
        }
    }
}

/// The summary of run `run_id`, a sample run first, else a k6 output run.
pub fn any_summary(store: &dyn Store, run_id: &str, req: &SummaryRequest) -> Result<AnySummary, K6Error> {
    match run_summary(store, run_id, req) {
        Ok(s) => Ok(AnySummary::Samples(Box::new(s))),
        Err(K6Error::RunNotFound(e)) => match chute_store::queries::k6_outputs::run(store, run_id)? {
            Some(run) => Ok(AnySummary::Output(chute_store::queries::k6_outputs::summary(store, &run)?)),
            None => Err(K6Error::RunNotFound(e)),
        },
        Err(e) => Err(e),
    }
}

/// The summary of run `run_id`; see the module doc.
pub fn run_summary(store: &dyn Store, run_id: &str, req: &SummaryRequest) -> Result<RunSummary, K6Error> {
    let info = q::run(store, run_id)?.ok_or_else(|| K6Error::RunNotFound(run_id.to_owned()))?;
    let duration_s = (info.last_sample_us - info.first_sample_us) as f64 / 1e6;
    let aggregates = q::metric_aggregates(store, run_id, None)?;
    let decl_rows = q::metric_decls(store, run_id)?;
    let decls: BTreeMap<&str, &MetricDecl> = decl_rows.iter().map(|d| (d.name.as_str(), d)).collect();
    let aggs: BTreeMap<&str, &MetricAggregate> = aggregates.iter().map(|a| (a.metric.as_str(), a)).collect();

    // Thresholds: declared, replaced per metric by the request's.
    let mut wanted: BTreeMap<String, (Vec<String>, ThresholdFrom)> = BTreeMap::new();
    for d in &decl_rows {
        if !d.thresholds.is_empty() {
            wanted.insert(d.name.clone(), (d.thresholds.clone(), ThresholdFrom::Declared));
        }
    }
    for (metric, list) in &req.thresholds {
        wanted.insert(metric.clone(), (list.clone(), ThresholdFrom::Request));
    }

    // Metrics and sub-metrics to report.
    let mut names: BTreeMap<String, MetricName> = BTreeMap::new();
    for a in &aggregates {
        names.insert(a.metric.clone(), MetricName { name: a.metric.clone(), metric: a.metric.clone(), tags: vec![] });
    }
    let mut sub_names: BTreeMap<String, ThresholdFrom> = BTreeMap::new();
    for d in &decl_rows {
        for s in &d.submetrics {
            sub_names.insert(s.clone(), ThresholdFrom::Declared);
        }
    }
    for (metric, (_, from)) in &wanted {
        sub_names.insert(metric.clone(), *from);
    }
    if aggs.contains_key("http_req_duration") {
        sub_names.entry("http_req_duration{expected_response:true}".into()).or_insert(ThresholdFrom::Declared);
    }
    for (name, from) in sub_names {
        if names.contains_key(&name) {
            continue;
        }
        match MetricName::parse(&name) {
            Ok(parsed) => {
                names.insert(name, parsed);
            }
            Err(e) if from == ThresholdFrom::Request => return Err(e),
            Err(e) => tracing::warn!(run_id, error = %e, "skipping a declared sub-metric"),
        }
    }

    let mut metrics: Vec<(MetricSummary, Option<MetricType>, MetricAggregate, MetricName)> = Vec::new();
    for (name, parsed) in names {
        let agg = if parsed.is_submetric() {
            let tags = parsed.tags.clone();
            q::metric_aggregates(store, run_id, Some((&parsed.metric, &tags)))?
                .into_iter()
                .next()
                .unwrap_or_else(|| empty_aggregate(&parsed.metric))
        } else {
            aggs.get(name.as_str()).map(|a| (*a).clone()).unwrap_or_else(|| empty_aggregate(&parsed.metric))
        };
        let parent_type = aggs.get(parsed.metric.as_str()).map(|a| a.metric_type.as_str());
        let r = resolve(&parsed.metric, req, &decls, parent_type);
        let summary = MetricSummary {
            name: name.clone(),
            metric: parsed.metric.clone(),
            tags: parsed.tags.iter().cloned().collect(),
            metric_type: r.metric_type.map(MetricType::as_str).unwrap_or("unknown").to_owned(),
            type_from: r.from,
            contains: r.contains,
            values: values_of(r.metric_type, &agg, duration_s),
        };
        metrics.push((summary, r.metric_type, agg, parsed));
    }
    metrics.sort_by(|a, b| {
        let key = |m: &MetricSummary| (m.metric.clone(), !m.tags.is_empty(), m.name.clone());
        key(&a.0).cmp(&key(&b.0))
    });

    let mut thresholds = Vec::new();
    for (metric, (list, from)) in &wanted {
        let Some((summary, t, agg, parsed)) = metrics.iter().find(|m| &m.0.name == metric) else { continue };
        for expression in list {
            let result = |ok: bool, actual: Option<f64>, error: Option<String>| ThresholdResult {
                metric: metric.clone(),
                expression: expression.clone(),
                ok,
                actual,
                from: *from,
                error,
            };
            let parsed_threshold = Threshold::parse(expression).map_err(|e| match e {
                K6Error::Threshold { expression, reason, .. } => {
                    K6Error::Threshold { metric: metric.clone(), expression, reason }
                }
                other => other,
            });
            let th = match (parsed_threshold, from) {
                (Ok(th), _) => th,
                (Err(e), ThresholdFrom::Request) => return Err(e),
                (Err(e), ThresholdFrom::Declared) => {
                    thresholds.push(result(false, None, Some(e.to_string())));
                    continue;
                }
            };
            let Some(t) = *t else {
                let why = format!("the type of {} is unknown: give it in the request's metric_types", summary.metric);
                thresholds.push(result(false, None, Some(why)));
                continue;
            };
            match (th.check_type(metric, t), from) {
                (Ok(()), _) => {}
                (Err(e), ThresholdFrom::Request) => return Err(e),
                (Err(e), ThresholdFrom::Declared) => {
                    thresholds.push(result(false, None, Some(e.to_string())));
                    continue;
                }
            }
            let actual = match th.aggregation {
                Aggregation::Percentile(p) if agg.count > 0 => match p {
                    50.0 => agg.med,
                    90.0 => agg.p90,
                    95.0 => agg.p95,
                    99.0 => agg.p99,
                    _ => percentile(store, run_id, parsed, p)?,
                },
                Aggregation::Percentile(_) => 0.0,
                Aggregation::Med => agg.med,
                Aggregation::Avg => ratio(agg.sum, agg.count as f64),
                Aggregation::Min => agg.min,
                Aggregation::Max => agg.max,
                Aggregation::Value => agg.last,
                Aggregation::Count => agg.sum,
                Aggregation::Rate if t == MetricType::Counter => ratio(agg.sum, duration_s),
                Aggregation::Rate => ratio(agg.nonzero as f64, agg.count as f64),
            };
            thresholds.push(result(th.passes(actual), Some(actual), None));
        }
    }

    let checks = q::checks(store, run_id)?
        .into_iter()
        .map(|c| CheckResult {
            path: format!("{}::{}", c.group, c.check),
            group: c.group,
            name: c.check,
            passes: c.passes,
            fails: c.fails,
        })
        .collect();

    Ok(RunSummary {
        run: RunOverview {
            run_id: info.run_id,
            first_sample: crate::time::rfc3339_utc(info.first_sample_us),
            last_sample: crate::time::rfc3339_utc(info.last_sample_us),
            first_sample_us: info.first_sample_us,
            last_sample_us: info.last_sample_us,
            duration_s,
            samples: info.samples,
            sources: info.sources,
        },
        metrics: metrics.into_iter().map(|m| m.0).collect(),
        thresholds,
        checks,
    })
}
