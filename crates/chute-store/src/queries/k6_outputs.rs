//! k6 runs sent through k6's aggregated outputs, read where they landed: the `otel_metrics_*`
//! rows of k6's opentelemetry output (`ServiceName = 'k6'`, source `otlp`) and of its
//! experimental-prometheus-rw output (`k6_*` names written by remote write, source
//! `prometheus-rw`). The raw rows stay as they are; these queries present them as runs and
//! summaries with what the outputs carry (see `docs/opentelemetry.md`).
//!
//! A run is the rows of one source with one `testid` attribute (k6's `--tag testid=...`); rows
//! without one are split into runs at silences longer than [`RUN_GAP_S`], named
//! `k6-otlp-<first push, UTC>` / `k6-prw-<first push, UTC>`.

use super::k6::RunInfo;
use super::{col, rows};
use crate::{Store, StoreError};
use std::collections::BTreeMap;

/// Silence (seconds) that separates two runs without a `testid`.
pub const RUN_GAP_S: u32 = 60;

pub const SOURCE_OTLP: &str = "otlp";
pub const SOURCE_PRW: &str = "prometheus-rw";

/// A run found in the OpenTelemetry tables.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OutputRun {
    pub run_id: String,
    /// `otlp` or `prometheus-rw`.
    pub source: String,
    /// The `testid` attribute ("" when the run has none).
    pub testid: String,
    /// First and last push (`TimeUnix`), seconds since the epoch.
    pub first_s: i64,
    pub last_s: i64,
    /// Data points (rows) of the run.
    pub points: u64,
}

impl OutputRun {
    /// As the run list shows runs (`samples` are data points here).
    pub fn info(&self) -> RunInfo {
        RunInfo {
            run_id: self.run_id.clone(),
            first_sample_us: self.first_s * 1_000_000,
            last_sample_us: self.last_s * 1_000_000,
            samples: self.points,
            sources: vec![self.source.clone()],
        }
    }
}

/// Rows of each source, as (source, table, condition).
const SELECTIONS: [(&str, &str, &str); 6] = [
    (SOURCE_OTLP, "otel_metrics_sum", "ServiceName = 'k6'"),
    (SOURCE_OTLP, "otel_metrics_gauge", "ServiceName = 'k6'"),
    (SOURCE_OTLP, "otel_metrics_histogram", "ServiceName = 'k6'"),
    (SOURCE_PRW, "otel_metrics_sum", "ScopeName = 'prometheus-remote-write' AND startsWith(MetricName, 'k6_')"),
    (SOURCE_PRW, "otel_metrics_gauge", "ScopeName = 'prometheus-remote-write' AND startsWith(MetricName, 'k6_')"),
    (
        SOURCE_PRW,
        "otel_metrics_exponential_histogram",
        "ScopeName = 'prometheus-remote-write' AND startsWith(MetricName, 'k6_')",
    ),
];

/// The tables of [`SELECTIONS`] that may hold rows: those whose row count is not 0 (a count the
/// engine does not know, as for a `Distributed` table, counts as rows). The engine plans a query
/// over every table it names, rows or not, so leaving empty tables out keeps a lookup of a run
/// that is not there cheap (the runs API answers it every time a client polls for a run that
/// has not arrived yet).
fn tables_with_rows(store: &dyn Store) -> Result<Vec<String>, StoreError> {
    let mut names: Vec<&str> = SELECTIONS.iter().map(|(_, table, _)| *table).collect();
    names.sort_unstable();
    names.dedup();
    let list = names.iter().map(|t| crate::sql::quote(t)).collect::<Vec<_>>().join(", ");
    let b = store.query(
        &format!(
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ({list}) \
             AND (total_rows IS NULL OR total_rows > 0)"
        ),
        &[],
    )?;
    let mut out = Vec::new();
    for (b, i) in rows(&b) {
        out.push(col(b, "name")?.str(i));
    }
    Ok(out)
}

/// Every run of both outputs, newest first.
pub fn runs(store: &dyn Store) -> Result<Vec<OutputRun>, StoreError> {
    let with_rows = tables_with_rows(store)?;
    if with_rows.is_empty() {
        return Ok(Vec::new());
    }
    let points = SELECTIONS
        .iter()
        .filter(|(_, table, _)| with_rows.iter().any(|t| t == table))
        .map(|(source, table, cond)| {
            format!(
                "SELECT '{source}' AS source, Attributes['testid'] AS testid, TimeUnix AS t FROM {table} WHERE {cond}"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let sql = format!(
        "SELECT source, testid, \
           if(testid != '', testid, concat(if(source = 'otlp', 'k6-otlp-', 'k6-prw-'), \
              formatDateTime(min(t), '%Y%m%dT%H%i%SZ', 'UTC'))) AS run_id, \
           toInt64(min(t)) AS first_s, toInt64(max(t)) AS last_s, sum(n) AS points \
         FROM ( \
           SELECT source, testid, t, n, \
             sum(new) OVER (PARTITION BY source, testid ORDER BY t ROWS UNBOUNDED PRECEDING) AS session \
           FROM ( \
             SELECT source, testid, t, n, \
               if(testid = '' AND toInt64(t) - toInt64(lagInFrame(t, 1, t) OVER \
                  (PARTITION BY source, testid ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)) > {{gap:UInt32}}, 1, 0) AS new \
             FROM (SELECT source, testid, t, count() AS n FROM ({points}) GROUP BY source, testid, t) \
           ) \
         ) \
         GROUP BY source, testid, session ORDER BY last_s DESC, run_id"
    );
    let b = store.query(&sql, &[("gap", &RUN_GAP_S.to_string())])?;
    let mut out = Vec::new();
    for (b, i) in rows(&b) {
        out.push(OutputRun {
            run_id: col(b, "run_id")?.str(i),
            source: col(b, "source")?.str(i),
            testid: col(b, "testid")?.str(i),
            first_s: col(b, "first_s")?.i64(i),
            last_s: col(b, "last_s")?.i64(i),
            points: col(b, "points")?.u64(i),
        });
    }
    Ok(out)
}

/// The run named `run_id`, if either output has it.
pub fn run(store: &dyn Store, run_id: &str) -> Result<Option<OutputRun>, StoreError> {
    Ok(runs(store)?.into_iter().find(|r| r.run_id == run_id))
}

/// One metric (or, for remote write gauges sent per tag set, one tag set of it).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OutputMetric {
    /// k6's metric name (prefixes and suffixes the output added removed), with `{tag:value,...}`
    /// when the output sent the stat per tag set.
    pub name: String,
    /// `counter`, `rate`, `gauge` or `trend`.
    #[serde(rename = "type")]
    pub metric_type: String,
    /// k6's stat names (`count`, `rate`, `passes`, `fails`, `value`, `avg`, `min`, `max`, `med`,
    /// `p(95)`, ...).
    pub values: BTreeMap<String, f64>,
    /// The stats in `values` that are estimates (percentiles from histogram buckets, per-second
    /// rates over the pushes' time span); the others are exact.
    pub approximate: Vec<String>,
}

/// What a k6 output run can tell.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OutputSummary {
    pub run: OutputRun,
    pub metrics: Vec<OutputMetric>,
}

fn run_filter(run: &OutputRun) -> (String, Vec<(String, String)>) {
    (
        "Attributes['testid'] = {testid:String} AND TimeUnix >= toDateTime({first:Int64}, 'UTC') \
         AND TimeUnix <= toDateTime({last:Int64}, 'UTC') AND bitAnd(Flags, 1) = 0"
            .to_string(),
        vec![
            ("testid".into(), run.testid.clone()),
            ("first".into(), run.first_s.to_string()),
            ("last".into(), run.last_s.to_string()),
        ],
    )
}

fn query(
    store: &dyn Store,
    sql: &str,
    params: &[(String, String)],
) -> Result<Vec<arrow_array::RecordBatch>, StoreError> {
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    store.query(sql, &p)
}

/// The summary of an output run: counts and rates exact, gauges' last values, trends' count,
/// avg, min, max exact and percentiles approximate (OTLP histograms), or k6's own trend stats
/// (remote write gauges such as `k6_http_req_duration_p99`, in seconds as k6 sends them).
pub fn summary(store: &dyn Store, run: &OutputRun) -> Result<OutputSummary, StoreError> {
    let metrics = if run.source == SOURCE_OTLP { otlp_metrics(store, run)? } else { prw_metrics(store, run)? };
    Ok(OutputSummary { run: run.clone(), metrics })
}

fn duration_s(run: &OutputRun) -> f64 {
    (run.last_s - run.first_s).max(1) as f64
}

fn otlp_metrics(store: &dyn Store, run: &OutputRun) -> Result<Vec<OutputMetric>, StoreError> {
    let (filter, params) = run_filter(run);
    let mut out: BTreeMap<String, OutputMetric> = BTreeMap::new();
    let metric = |name: &str, t: &str| OutputMetric {
        name: name.to_string(),
        metric_type: t.to_string(),
        values: BTreeMap::new(),
        approximate: Vec::new(),
    };

    // Sums: cumulative, so a series' newest value is its total; k6 rates are `<name>.total`
    // split by condition=zero|nonzero.
    let b = query(
        store,
        &format!(
            "SELECT MetricName AS name, Attributes['condition'] AS cond, sum(v) AS total FROM ( \
               SELECT MetricName, Attributes, argMax(Value, TimeUnix) AS v FROM otel_metrics_sum \
               WHERE ServiceName = 'k6' AND {filter} GROUP BY MetricName, Attributes) \
             GROUP BY name, cond"
        ),
        &params,
    )?;
    for (b, i) in rows(&b) {
        let name = col(b, "name")?.str(i);
        let cond = col(b, "cond")?.str(i);
        let total = col(b, "total")?.f64(i);
        match (name.strip_suffix(".total"), cond.as_str()) {
            (Some(base), "zero" | "nonzero") => {
                let m = out.entry(base.to_string()).or_insert_with(|| metric(base, "rate"));
                let key = if cond == "nonzero" { "passes" } else { "fails" };
                *m.values.entry(key.into()).or_default() += total;
            }
            _ => {
                let m = out.entry(name.clone()).or_insert_with(|| metric(&name, "counter"));
                *m.values.entry("count".into()).or_default() += total;
            }
        }
    }
    for m in out.values_mut() {
        if m.metric_type == "rate" {
            let passes = m.values.get("passes").copied().unwrap_or(0.0);
            let fails = m.values.get("fails").copied().unwrap_or(0.0);
            m.values.insert("passes".into(), passes);
            m.values.insert("fails".into(), fails);
            m.values.insert("rate".into(), if passes + fails > 0.0 { passes / (passes + fails) } else { 0.0 });
        } else {
            let count = m.values["count"];
            m.values.insert("rate".into(), count / duration_s(run));
            m.approximate.push("rate".into());
        }
    }

    // Gauges: the newest value.
    let b = query(
        store,
        &format!(
            "SELECT MetricName AS name, argMax(Value, TimeUnix) AS value FROM otel_metrics_gauge \
             WHERE ServiceName = 'k6' AND {filter} GROUP BY name"
        ),
        &params,
    )?;
    for (b, i) in rows(&b) {
        let name = col(b, "name")?.str(i);
        let mut m = metric(&name, "gauge");
        m.values.insert("value".into(), col(b, "value")?.f64(i));
        out.insert(name, m);
    }

    // Trends: cumulative explicit-bucket histograms; merged over tag sets with equal bounds.
    let b = query(
        store,
        &format!(
            "SELECT name, sum(c) AS h_count, sum(s) AS h_sum, min(mn) AS h_min, max(mx) AS h_max, \
               sumForEach(b) AS h_buckets, any(eb) AS h_bounds, uniqExact(eb) AS h_bound_sets FROM ( \
               SELECT MetricName AS name, argMax(Count, TimeUnix) AS c, argMax(Sum, TimeUnix) AS s, \
                 argMax(Min, TimeUnix) AS mn, argMax(Max, TimeUnix) AS mx, \
                 argMax(BucketCounts, TimeUnix) AS b, argMax(ExplicitBounds, TimeUnix) AS eb \
               FROM otel_metrics_histogram WHERE ServiceName = 'k6' AND {filter} GROUP BY MetricName, Attributes) \
             GROUP BY name"
        ),
        &params,
    )?;
    for (b, i) in rows(&b) {
        let name = col(b, "name")?.str(i);
        let count = col(b, "h_count")?.f64(i);
        let sum = col(b, "h_sum")?.f64(i);
        let mut m = metric(&name, "trend");
        m.values.insert("count".into(), count);
        m.values.insert("avg".into(), if count > 0.0 { sum / count } else { 0.0 });
        let (min, max) = (col(b, "h_min")?.f64(i), col(b, "h_max")?.f64(i));
        m.values.insert("min".into(), min);
        m.values.insert("max".into(), max);
        if col(b, "h_bound_sets")?.u64(i) == 1 {
            let buckets = col(b, "h_buckets")?.floats(i);
            let bounds = col(b, "h_bounds")?.floats(i);
            for (stat, p) in [("med", 0.5), ("p(90)", 0.9), ("p(95)", 0.95), ("p(99)", 0.99)] {
                if let Some(v) = bucket_percentile(&buckets, &bounds, min, max, p) {
                    m.values.insert(stat.into(), v);
                    m.approximate.push(stat.into());
                }
            }
        }
        out.insert(name, m);
    }
    Ok(out.into_values().collect())
}

/// A percentile from explicit-bucket counts: linear interpolation inside the bucket holding the
/// rank, the first bucket starting at `min` and the last ending at `max`.
pub fn bucket_percentile(counts: &[f64], bounds: &[f64], min: f64, max: f64, p: f64) -> Option<f64> {
    let total: f64 = counts.iter().sum();
    if total <= 0.0 || counts.len() != bounds.len() + 1 {
        return None;
    }
    let rank = p * total;
    let mut seen = 0.0;
    for (i, c) in counts.iter().enumerate() {
        if *c > 0.0 && seen + c >= rank {
            let lo = if i == 0 { min } else { bounds[i - 1].max(min) };
            let hi = if i == bounds.len() { max } else { bounds[i].min(max) };
            let frac = ((rank - seen) / c).clamp(0.0, 1.0);
            return Some(lo + (hi - lo) * frac);
        }
        seen += c;
    }
    Some(max)
}

/// k6's prometheus-rw trend stat suffixes (`K6_PROMETHEUS_RW_TREND_STATS`).
const TREND_STATS: [(&str, &str); 9] = [
    ("_p99", "p(99)"),
    ("_p95", "p(95)"),
    ("_p90", "p(90)"),
    ("_med", "med"),
    ("_min", "min"),
    ("_max", "max"),
    ("_avg", "avg"),
    ("_count", "count"),
    ("_sum", "sum"),
];

fn with_tags(name: &str, tags: &BTreeMap<String, String>, series: u64) -> String {
    if series <= 1 || tags.is_empty() {
        return name.to_string();
    }
    let t: Vec<String> = tags.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("{name}{{{}}}", t.join(","))
}

fn prw_metrics(store: &dyn Store, run: &OutputRun) -> Result<Vec<OutputMetric>, StoreError> {
    let (filter, params) = run_filter(run);
    let mut out: BTreeMap<String, OutputMetric> = BTreeMap::new();
    let cond = "ScopeName = 'prometheus-remote-write' AND startsWith(MetricName, 'k6_')";

    // Counters: `k6_<name>_total`, cumulative: newest value per series, summed.
    let b = query(
        store,
        &format!(
            "SELECT name, sum(v) AS total FROM ( \
               SELECT MetricName AS name, argMax(Value, TimeUnix) AS v FROM otel_metrics_sum \
               WHERE {cond} AND {filter} GROUP BY MetricName, Attributes) GROUP BY name"
        ),
        &params,
    )?;
    for (b, i) in rows(&b) {
        let full = col(b, "name")?.str(i);
        let base = full.strip_prefix("k6_").unwrap_or(&full);
        let name = base.strip_suffix("_total").unwrap_or(base).to_string();
        let count = col(b, "total")?.f64(i);
        let mut values = BTreeMap::from([("count".to_string(), count)]);
        values.insert("rate".into(), count / duration_s(run));
        out.insert(
            name.clone(),
            OutputMetric { name, metric_type: "counter".into(), values, approximate: vec!["rate".into()] },
        );
    }

    // Gauges: rates (`_rate`), k6's trend stats (`_p99`, ...), and plain gauges; per tag set.
    let b = query(
        store,
        &format!(
            "SELECT MetricName AS name, Attributes AS tags, argMax(Value, TimeUnix) AS value, \
               count() OVER (PARTITION BY MetricName) AS series FROM otel_metrics_gauge \
             WHERE {cond} AND {filter} GROUP BY MetricName, Attributes"
        ),
        &params,
    )?;
    for (b, i) in rows(&b) {
        let full = col(b, "name")?.str(i);
        let base = full.strip_prefix("k6_").unwrap_or(&full).to_string();
        let tags: BTreeMap<String, String> =
            match crate::rows::value_at(b.column_by_name("tags").unwrap_or_else(|| b.column(1)), i) {
                serde_json::Value::Object(o) => o
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                    .collect(),
                _ => BTreeMap::new(),
            };
        let series = col(b, "series")?.u64(i);
        let value = col(b, "value")?.f64(i);
        let (metric, metric_type, stat) = if let Some(m) = base.strip_suffix("_rate") {
            (m.to_string(), "rate", "rate")
        } else if let Some((m, stat)) =
            TREND_STATS.iter().find_map(|(s, stat)| base.strip_suffix(s).map(|m| (m, *stat)))
        {
            (m.to_string(), "trend", stat)
        } else {
            (base.clone(), "gauge", "value")
        };
        let name = with_tags(&metric, &tags, series);
        let m = out.entry(name.clone()).or_insert_with(|| OutputMetric {
            name,
            metric_type: metric_type.into(),
            values: BTreeMap::new(),
            approximate: Vec::new(),
        });
        m.values.insert(stat.into(), value);
    }
    Ok(out.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_inside_the_bucket_holding_the_rank() {
        // 10 values in (0, 10], 10 in (10, 20]; min 1, max 18.
        let counts = [10.0, 10.0, 0.0];
        let bounds = [10.0, 20.0];
        assert_eq!(bucket_percentile(&counts, &bounds, 1.0, 18.0, 0.5), Some(10.0));
        assert_eq!(bucket_percentile(&counts, &bounds, 1.0, 18.0, 0.75), Some(14.0));
        assert_eq!(bucket_percentile(&counts, &bounds, 1.0, 18.0, 0.25), Some(5.5));
        assert_eq!(bucket_percentile(&[0.0, 0.0], &[1.0], 0.0, 0.0, 0.5), None);
    }
}
