//! SQL over the k6 tables: runs, exact per-metric aggregates (k6's percentile definition is
//! `quantileExactInclusive`), checks, metric declarations, the import ledger.

use super::{col, rows};
use crate::{Store, StoreError};

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RunInfo {
    pub run_id: String,
    pub first_sample_us: i64,
    pub last_sample_us: i64,
    pub samples: u64,
    pub sources: Vec<String>,
}

const RUNS_SQL: &str = "SELECT run_id, min(first_sample) AS first_sample, max(last_sample) AS last_sample, \
     sum(samples) AS samples, groupUniqArrayArray(sources) AS sources FROM k6_runs";

fn parse_runs(batches: &[arrow_array::RecordBatch]) -> Result<Vec<RunInfo>, StoreError> {
    let mut out = Vec::new();
    for (b, i) in rows(batches) {
        let mut sources = col(b, "sources")?.strings(i);
        sources.sort();
        out.push(RunInfo {
            run_id: col(b, "run_id")?.str(i),
            first_sample_us: col(b, "first_sample")?.micros(i),
            last_sample_us: col(b, "last_sample")?.micros(i),
            samples: col(b, "samples")?.u64(i),
            sources,
        });
    }
    Ok(out)
}

/// Runs, newest first.
pub fn runs(store: &dyn Store, limit: u64, offset: u64) -> Result<Vec<RunInfo>, StoreError> {
    let b = store.query(
        &format!(
            "{RUNS_SQL} GROUP BY run_id ORDER BY last_sample DESC, run_id \
             LIMIT {{limit:UInt64}} OFFSET {{offset:UInt64}}"
        ),
        &[("limit", &limit.to_string()), ("offset", &offset.to_string())],
    )?;
    parse_runs(&b)
}

pub fn run(store: &dyn Store, run_id: &str) -> Result<Option<RunInfo>, StoreError> {
    let b = store.query(&format!("{RUNS_SQL} WHERE run_id = {{run:String}} GROUP BY run_id"), &[("run", run_id)])?;
    Ok(parse_runs(&b)?.into_iter().next())
}

/// The newest run of a source key (e.g. `influxdb:k6`) whose last sample is at or after
/// `since_us`: the run that samples arriving now continue.
pub fn latest_run_of_source(store: &dyn Store, source: &str, since_us: i64) -> Result<Option<RunInfo>, StoreError> {
    let b = store.query(
        &format!(
            "{RUNS_SQL} GROUP BY run_id HAVING has(sources, {{source:String}}) \
             AND last_sample >= fromUnixTimestamp64Micro({{since:Int64}}, 'UTC') \
             ORDER BY last_sample DESC LIMIT 1"
        ),
        &[("source", source), ("since", &since_us.to_string())],
    )?;
    Ok(parse_runs(&b)?.into_iter().next())
}

/// Exact aggregates of one metric's samples (or a sub-metric's: the samples whose tags match).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MetricAggregate {
    pub metric: String,
    /// The type recorded with the samples (empty when the source did not say).
    pub metric_type: String,
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub med: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    /// Samples whose value is not zero (a rate's passes).
    pub nonzero: u64,
    /// The value of the last sample (a gauge's value).
    pub last: f64,
    pub first_us: i64,
    pub last_us: i64,
}

/// Aggregates for every metric of a run, or for one metric restricted to samples whose tags
/// have the given values (a k6 sub-metric such as `http_req_duration{scenario:buy}`).
pub fn metric_aggregates(
    store: &dyn Store,
    run_id: &str,
    only: Option<(&str, &[(String, String)])>,
) -> Result<Vec<MetricAggregate>, StoreError> {
    let (filter, params) = sample_filter(run_id, only);
    // The last sample by time; among samples with the same time, the one stored last.
    let sql = format!(
        "SELECT metric, any(metric_type) AS metric_type, count() AS count, sum(value) AS sum, \
         min(value) AS min, max(value) AS max, \
         quantilesExactInclusive(0.5, 0.9, 0.95, 0.99)(value) AS q, \
         countIf(value != 0) AS nonzero, argMax(value, timestamp) AS last, \
         min(timestamp) AS first_ts, max(timestamp) AS last_ts \
         FROM k6_samples WHERE run_id = {{run:String}}{filter} GROUP BY metric ORDER BY metric"
    );
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let batches = store.query(&sql, &p)?;
    let mut out = Vec::new();
    for (b, i) in rows(&batches) {
        let q = col(b, "q")?.floats(i);
        let qv = |j: usize| q.get(j).copied().unwrap_or(f64::NAN);
        out.push(MetricAggregate {
            metric: col(b, "metric")?.str(i),
            metric_type: col(b, "metric_type")?.str(i),
            count: col(b, "count")?.u64(i),
            sum: col(b, "sum")?.f64(i),
            min: col(b, "min")?.f64(i),
            max: col(b, "max")?.f64(i),
            med: qv(0),
            p90: qv(1),
            p95: qv(2),
            p99: qv(3),
            nonzero: col(b, "nonzero")?.u64(i),
            last: col(b, "last")?.f64(i),
            first_us: col(b, "first_ts")?.micros(i),
            last_us: col(b, "last_ts")?.micros(i),
        });
    }
    Ok(out)
}

/// `AND metric = ... AND tags[k] = v ...` with its parameters (`run` is always bound).
fn sample_filter(run_id: &str, only: Option<(&str, &[(String, String)])>) -> (String, Vec<(String, String)>) {
    let mut params: Vec<(String, String)> = vec![("run".into(), run_id.into())];
    let mut filter = String::new();
    if let Some((metric, tags)) = only {
        filter.push_str(" AND metric = {metric:String}");
        params.push(("metric".into(), metric.into()));
        for (i, (k, v)) in tags.iter().enumerate() {
            filter.push_str(&format!(" AND tags[{{k{i}:String}}] = {{v{i}:String}}"));
            params.push((format!("k{i}"), k.clone()));
            params.push((format!("v{i}"), v.clone()));
        }
    }
    (filter, params)
}

/// The exact k6 percentile (`quantileExactInclusive`) at `level` (0..=1) of a metric's samples,
/// or a sub-metric's; None when there are no samples.
pub fn percentile(
    store: &dyn Store,
    run_id: &str,
    metric: &str,
    tags: &[(String, String)],
    level: f64,
) -> Result<Option<f64>, StoreError> {
    if !(0.0..=1.0).contains(&level) {
        return Err(StoreError::new(crate::ErrorKind::Schema, format!("percentile level {level} is outside 0..1")));
    }
    let (filter, params) = sample_filter(run_id, Some((metric, tags)));
    let sql = format!(
        "SELECT quantileExactInclusive({level:?})(value) AS q, count() AS n FROM k6_samples \
         WHERE run_id = {{run:String}}{filter}"
    );
    let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let batches = store.query(&sql, &p)?;
    let Some((b, i)) = rows(&batches).next() else { return Ok(None) };
    if col(b, "n")?.u64(i) == 0 {
        return Ok(None);
    }
    Ok(Some(col(b, "q")?.f64(i)))
}

/// Passes and fails of one check in one group.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CheckCount {
    pub group: String,
    pub check: String,
    pub passes: u64,
    pub fails: u64,
}

pub fn checks(store: &dyn Store, run_id: &str) -> Result<Vec<CheckCount>, StoreError> {
    let b = store.query(
        "SELECT `group` AS g, `check` AS c, countIf(value != 0) AS passes, countIf(value = 0) AS fails \
         FROM k6_samples WHERE run_id = {run:String} AND metric = 'checks' GROUP BY g, c ORDER BY g, c",
        &[("run", run_id)],
    )?;
    let mut out = Vec::new();
    for (b, i) in rows(&b) {
        out.push(CheckCount {
            group: col(b, "g")?.str(i),
            check: col(b, "c")?.str(i),
            passes: col(b, "passes")?.u64(i),
            fails: col(b, "fails")?.u64(i),
        });
    }
    Ok(out)
}

/// A metric declaration recorded for a run (from a JSON import's `Metric` lines, or a user).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MetricDecl {
    pub name: String,
    pub metric_type: String,
    pub contains: String,
    pub thresholds: Vec<String>,
    pub submetrics: Vec<String>,
}

pub fn metric_decls(store: &dyn Store, run_id: &str) -> Result<Vec<MetricDecl>, StoreError> {
    let b = store.query(
        "SELECT name, argMax(type, updated_at) AS type, argMax(contains, updated_at) AS contains, \
         argMax(thresholds, updated_at) AS thresholds, argMax(submetrics, updated_at) AS submetrics \
         FROM k6_metrics WHERE run_id = {run:String} GROUP BY name ORDER BY name",
        &[("run", run_id)],
    )?;
    let mut out = Vec::new();
    for (b, i) in rows(&b) {
        out.push(MetricDecl {
            name: col(b, "name")?.str(i),
            metric_type: col(b, "type")?.str(i),
            contains: col(b, "contains")?.str(i),
            thresholds: col(b, "thresholds")?.strings(i),
            submetrics: col(b, "submetrics")?.strings(i),
        });
    }
    Ok(out)
}

/// A file already imported, by content hash.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ImportRecord {
    pub file_name: String,
    pub run_id: String,
    pub samples: u64,
    pub imported_at_ms: i64,
}

pub fn import_by_hash(store: &dyn Store, sha256: &str) -> Result<Option<ImportRecord>, StoreError> {
    let b = store.query(
        "SELECT argMax(file_name, imported_at) AS f, argMax(run_id, imported_at) AS r, \
         argMax(samples, imported_at) AS n, max(imported_at) AS t \
         FROM k6_imports WHERE file_sha256 = {h:String} GROUP BY file_sha256",
        &[("h", sha256)],
    )?;
    let Some((b, i)) = rows(&b).next() else { return Ok(None) };
    Ok(Some(ImportRecord {
        file_name: col(b, "f")?.str(i),
        run_id: col(b, "r")?.str(i),
        samples: col(b, "n")?.u64(i),
        imported_at_ms: col(b, "t")?.micros(i) / 1000,
    }))
}

/// Deletes a run's samples, declarations, run row and import records (for `--replace`).
/// Mutations run synchronously, so the run is gone when this returns.
pub fn delete_run(store: &dyn Store, run_id: &str) -> Result<(), StoreError> {
    let q = crate::sql::quote(run_id);
    for table in ["k6_samples", "k6_metrics", "k6_runs", "k6_imports"] {
        store.execute(&format!("ALTER TABLE {table} DELETE WHERE run_id = {q} SETTINGS mutations_sync = 1"))?;
    }
    Ok(())
}
