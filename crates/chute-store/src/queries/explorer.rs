//! SQL behind the telemetry explorer (`/api/v1/services`, `/metrics`, `/spans`, `/traces`,
//! `/logs`, `/logs/patterns`, `/attributes`, `/cardinality/high`, `/stats`): reads of the catalogs
//! that migrations 0005 and 0007 keep at ingest (`otel_attribute_catalog`, `otel_metric_catalog`,
//! `otel_services`, `otel_log_patterns`) and filtered reads of the raw `otel_*` tables.
//!
//! Every value from a request is bound as a `{name:Type}` parameter; the SQL text is made only of
//! constant pieces chosen by which filters are set. Rows come back as JSON objects whose keys are
//! the column aliases below (the API's property names, documented in the OpenAPI document).

use crate::{Store, StoreError};
use serde_json::Value;

/// The filters every explorer query may take; each query uses the ones that apply to it (the
/// server refuses parameters an endpoint does not take).
#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub service: Option<String>,
    /// Span name (exact) for spans; metric name substring for metrics.
    pub name: Option<String>,
    /// Span status: `Unset`, `Ok` or `Error`.
    pub status: Option<String>,
    pub severity: Option<String>,
    /// Case-insensitive substring of a log body.
    pub text: Option<String>,
    /// 32 lowercase hex digits.
    pub trace_id: Option<String>,
    /// `log`, `span` or `metric`.
    pub signal: Option<String>,
    /// `resource` or `item`.
    pub scope: Option<String>,
    /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
    pub metric_type: Option<String>,
    pub min_duration_ns: Option<u64>,
    pub max_duration_ns: Option<u64>,
    /// Unix nanoseconds, inclusive.
    pub from_ns: Option<i64>,
    /// Unix nanoseconds, exclusive.
    pub to_ns: Option<i64>,
    pub min_cardinality: Option<u64>,
    pub min_count: Option<u64>,
    pub min_services: Option<u64>,
    pub table: Option<String>,
}

/// One page of results: `limit` rows from `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: u64,
    pub offset: u64,
}

/// A page of rows, and whether more follow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub items: Vec<Value>,
    pub more: bool,
}

/// Conditions and their bound parameters, in the order they were added.
#[derive(Default)]
struct Where {
    conds: Vec<&'static str>,
    params: Vec<(&'static str, String)>,
}

impl Where {
    fn add(&mut self, cond: &'static str, name: &'static str, value: impl ToString) {
        self.conds.push(cond);
        self.params.push((name, value.to_string()));
    }
    fn when<T: ToString>(&mut self, v: &Option<T>, cond: &'static str, name: &'static str) {
        if let Some(v) = v {
            self.add(cond, name, v.to_string());
        }
    }
    fn sql(&self) -> String {
        if self.conds.is_empty() { String::new() } else { format!(" WHERE {}", self.conds.join(" AND ")) }
    }
}

fn run(store: &dyn Store, sql: &str, w: &Where, extra: &[(&'static str, String)]) -> Result<Vec<Value>, StoreError> {
    let params: Vec<(&str, &str)> = w.params.iter().chain(extra.iter()).map(|(k, v)| (*k, v.as_str())).collect();
    Ok(crate::rows::to_json_rows(&store.query(sql, &params)?))
}

/// Runs `sql` (which must end in `LIMIT {limit:UInt64} OFFSET {offset:UInt64}`) for one more row
/// than asked, to know whether another page follows.
fn paged(store: &dyn Store, sql: &str, w: &Where, page: Page) -> Result<Rows, StoreError> {
    let extra = [("limit", (page.limit + 1).to_string()), ("offset", page.offset.to_string())];
    let mut items = run(store, sql, w, &extra)?;
    let more = items.len() as u64 > page.limit;
    items.truncate(page.limit as usize);
    Ok(Rows { items, more })
}

const PAGE: &str = " LIMIT {limit:UInt64} OFFSET {offset:UInt64}";

/// Value types as the API reports them, inferred from sample values (the exporter's tables keep
/// every attribute as text).
const TYPES_OF_SAMPLES: &str = "arraySort(arrayDistinct(arrayMap(v -> multiIf(isNotNull(toInt64OrNull(v)), 'int', \
     isNotNull(toFloat64OrNull(v)), 'double', v IN ('true', 'false'), 'bool', \
     startsWith(v, '[') OR startsWith(v, '{'), 'json', 'string'), samples)))";

// ---------------------------------------------------------------------------------------------
// services

/// Per service: metrics (distinct names) and data points, spans and span errors (and their
/// rate), logs and error logs, first and last seen.
pub fn services(store: &dyn Store, f: &Filters, page: Page) -> Result<Rows, StoreError> {
    let mut w = Where::default();
    w.when(&f.service, "service = {service:String}", "service");
    let sql = format!(
        "SELECT service, \
           toUInt64(sumIf(names, signal = 'metric')) AS metrics, \
           toUInt64(sumIf(items, signal = 'metric')) AS metric_points, \
           toUInt64(sumIf(items, signal = 'span')) AS spans, \
           toUInt64(sumIf(errors, signal = 'span')) AS span_errors, \
           if(spans = 0, 0, span_errors / spans) AS span_error_rate, \
           toUInt64(sumIf(items, signal = 'log')) AS logs, \
           toUInt64(sumIf(errors, signal = 'log')) AS log_errors, \
           formatDateTime(min(first), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS first_seen, formatDateTime(max(last), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS last_seen \
         FROM ( \
           SELECT toString(ServiceName) AS service, toString(Signal) AS signal, sum(Items) AS items, \
             sum(Errors) AS errors, min(FirstSeen) AS first, max(LastSeen) AS last, toUInt64(0) AS names \
           FROM otel_services GROUP BY service, signal \
           UNION ALL \
           SELECT toString(ServiceName) AS service, 'metric' AS signal, sum(Points) AS items, toUInt64(0) AS errors, \
             min(FirstSeen) AS first, max(LastSeen) AS last, uniqExact(MetricName) AS names \
           FROM otel_metric_catalog GROUP BY service \
         ){} GROUP BY service ORDER BY service{PAGE}",
        w.sql()
    );
    paged(store, &sql, &w, page)
}

// ---------------------------------------------------------------------------------------------
// metrics

fn metric_where(f: &Filters) -> Where {
    let mut w = Where::default();
    w.when(&f.service, "ServiceName = {service:String}", "service");
    w.when(&f.name, "positionCaseInsensitive(MetricName, {name:String}) > 0", "name");
    w.when(&f.metric_type, "MetricType = {metric_type:String}", "metric_type");
    w
}

/// Attribute counts per metric: the number of point attribute keys, the largest exact
/// cardinality among them, and their product (the metadata-complexity score). `names_filter`
/// keeps the metrics named in `{names:Array(String)}`.
fn metric_attrs_sql(service_filter: bool, names_filter: bool) -> String {
    format!(
        "SELECT Name AS aname, count() AS attribute_count, max(card) AS max_cardinality FROM ( \
           SELECT Name, Key, uniqExactMerge(`Values`) AS card FROM otel_attribute_catalog \
           WHERE Signal = 'metric' AND Scope = 'item'{}{} GROUP BY Name, Key) GROUP BY Name",
        if service_filter { " AND ServiceName = {service:String}" } else { "" },
        if names_filter { " AND Name IN {names:Array(String)}" } else { "" }
    )
}

/// One row per metric name and type, from the metric catalog; the attribute counts are added
/// by [`with_attribute_counts`]. Two simple statements cost the engine less than one with a join
/// (a listing that matches nothing, such as the load generator's visibility probe, runs one).
fn metrics_sql(w: &Where) -> String {
    format!(
        "SELECT MetricName AS name, toString(MetricType) AS type, any(Unit) AS unit, any(Description) AS description, \
           arraySort(groupUniqArray(toString(ServiceName))) AS services, sum(Points) AS points, \
           uniqExactMerge(Series) AS series, formatDateTime(min(FirstSeen), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS first_seen, \
           formatDateTime(max(LastSeen), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS last_seen \
         FROM otel_metric_catalog{} GROUP BY name, type ORDER BY name, type",
        w.sql()
    )
}

/// Sets `attribute_count`, `max_cardinality` and their product `complexity` on a metric row.
fn set_attribute_counts(row: &mut Value, count: u64, max: u64) {
    if let Some(o) = row.as_object_mut() {
        o.insert("attribute_count".into(), count.into());
        o.insert("max_cardinality".into(), max.into());
        o.insert("complexity".into(), count.saturating_mul(max).into());
    }
}

/// Adds the attribute counts of the metrics in `rows` (one statement, none when `rows` is empty).
fn with_attribute_counts(store: &dyn Store, rows: &mut [Value], service: &Option<String>) -> Result<(), StoreError> {
    let mut names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        return Ok(());
    }
    // The conditions are in the statement's text; only the parameters are needed.
    let mut w = Where::default();
    if let Some(v) = service {
        w.params.push(("service", v.clone()));
    }
    let list = format!("[{}]", names.iter().map(|n| crate::sql::quote(n)).collect::<Vec<_>>().join(","));
    let counts = run(store, &metric_attrs_sql(service.is_some(), true), &w, &[("names", list)])?;
    let by_name: std::collections::HashMap<&str, (u64, u64)> = counts
        .iter()
        .filter_map(|c| {
            let n = c["aname"].as_str()?;
            Some((n, (c["attribute_count"].as_u64().unwrap_or(0), c["max_cardinality"].as_u64().unwrap_or(0))))
        })
        .collect();
    for r in rows.iter_mut() {
        // A metric without point attributes gets zeros.
        let (count, max) = r["name"].as_str().and_then(|n| by_name.get(n)).copied().unwrap_or((0, 0));
        set_attribute_counts(r, count, max);
    }
    Ok(())
}

/// Metrics: type, unit, services, data points, exact series count, attribute count, largest
/// attribute cardinality and the complexity score.
pub fn metrics(store: &dyn Store, f: &Filters, page: Page) -> Result<Rows, StoreError> {
    let w = metric_where(f);
    let sql = format!("{}{PAGE}", metrics_sql(&w));
    let mut rows = paged(store, &sql, &w, page)?;
    with_attribute_counts(store, &mut rows.items, &f.service)?;
    Ok(rows)
}

/// One metric (every type it was sent as) with its attribute keys: scope, exact cardinality,
/// samples. None when no such metric was seen.
pub fn metric(store: &dyn Store, name: &str, f: &Filters) -> Result<Option<Value>, StoreError> {
    let mut w = Where::default();
    w.add("MetricName = {metric:String}", "metric", name);
    w.when(&f.service, "ServiceName = {service:String}", "service");
    let mut types = run(store, &metrics_sql(&w), &w, &[])?;
    if types.is_empty() {
        return Ok(None);
    }
    let mut aw = Where::default();
    aw.conds.push("Signal = 'metric'");
    aw.add("Name = {metric:String}", "metric", name);
    aw.when(&f.service, "ServiceName = {service:String}", "service");
    let attrs = run(
        store,
        &format!(
            "SELECT key, scope, cardinality, occurrences, samples, {TYPES_OF_SAMPLES} AS types FROM ( \
               SELECT Key AS key, toString(Scope) AS scope, uniqExactMerge(`Values`) AS cardinality, \
                 sum(Occurrences) AS occurrences, arraySlice(arraySort(groupUniqArrayMerge(5)(Samples)), 1, 5) AS samples \
               FROM otel_attribute_catalog{} GROUP BY key, scope) \
             ORDER BY scope, cardinality DESC, key",
            aw.sql()
        ),
        &aw,
        &[],
    )?;
    // The point attributes (scope `item`) are the ones the counts are over.
    let items: Vec<&Value> = attrs.iter().filter(|a| a["scope"] == "item").collect();
    let max = items.iter().filter_map(|a| a["cardinality"].as_u64()).max().unwrap_or(0);
    for t in &mut types {
        set_attribute_counts(t, items.len() as u64, max);
    }
    Ok(Some(serde_json::json!({ "name": name, "types": types, "attributes": attrs })))
}

// ---------------------------------------------------------------------------------------------
// spans and traces

const SPAN_COLUMNS: &str = "Timestamp AS start, TraceId AS trace_id, SpanId AS span_id, \
     ParentSpanId AS parent_span_id, toString(ServiceName) AS service, toString(SpanName) AS name, \
     toString(SpanKind) AS kind, toString(StatusCode) AS status, StatusMessage AS status_message, \
     Duration AS duration_ns, SpanAttributes AS attributes, ResourceAttributes AS resource_attributes";

fn time_where(w: &mut Where, f: &Filters, column: &'static str) {
    // The column is one of two constants; values are bound.
    if let Some(v) = f.from_ns {
        w.add(
            if column == "Timestamp" {
                "Timestamp >= fromUnixTimestamp64Nano({from:Int64})"
            } else {
                "Bucket >= toStartOfHour(toDateTime(intDiv({from:Int64}, 1000000000)))"
            },
            "from",
            v,
        );
    }
    if let Some(v) = f.to_ns {
        w.add(
            if column == "Timestamp" {
                "Timestamp < fromUnixTimestamp64Nano({to:Int64})"
            } else {
                "Bucket < toDateTime(intDiv({to:Int64}, 1000000000))"
            },
            "to",
            v,
        );
    }
}

/// Spans, newest first, filtered by service, name, status, duration, time and trace id.
pub fn spans(store: &dyn Store, f: &Filters, page: Page) -> Result<Rows, StoreError> {
    let mut w = Where::default();
    w.when(&f.service, "ServiceName = {service:String}", "service");
    w.when(&f.name, "SpanName = {name:String}", "name");
    w.when(&f.status, "StatusCode = {status:String}", "status");
    w.when(&f.min_duration_ns, "Duration >= {min_duration:UInt64}", "min_duration");
    w.when(&f.max_duration_ns, "Duration <= {max_duration:UInt64}", "max_duration");
    w.when(&f.trace_id, "TraceId = {trace_id:String}", "trace_id");
    time_where(&mut w, f, "Timestamp");
    let sql = format!("SELECT {SPAN_COLUMNS} FROM otel_traces{} ORDER BY Timestamp DESC, SpanId{PAGE}", w.sql());
    paged(store, &sql, &w, page)
}

/// Every span of a trace, oldest first (bounded in time by the trace id lookup table).
pub fn trace_spans(store: &dyn Store, trace_id: &str) -> Result<Vec<Value>, StoreError> {
    let mut w = Where::default();
    w.add("TraceId = {trace_id:String}", "trace_id", trace_id);
    run(
        store,
        &format!(
            "WITH (SELECT (min(Start), max(End)) FROM otel_traces_trace_id_ts WHERE TraceId = {{trace_id:String}}) AS bounds \
             SELECT {SPAN_COLUMNS} FROM otel_traces{} \
               AND toDateTime(Timestamp) >= bounds.1 AND toDateTime(Timestamp) <= bounds.2 \
             ORDER BY Timestamp, SpanId LIMIT 100000",
            w.sql()
        ),
        &w,
        &[],
    )
}

// ---------------------------------------------------------------------------------------------
// logs

/// Log records, newest first, filtered by service, severity, body text, time and trace id.
pub fn logs(store: &dyn Store, f: &Filters, page: Page) -> Result<Rows, StoreError> {
    let mut w = Where::default();
    w.when(&f.service, "ServiceName = {service:String}", "service");
    w.when(&f.severity, "SeverityText = {severity:String}", "severity");
    w.when(&f.text, "positionCaseInsensitive(Body, {text:String}) > 0", "text");
    w.when(&f.trace_id, "TraceId = {trace_id:String}", "trace_id");
    time_where(&mut w, f, "Timestamp");
    let sql = format!(
        "SELECT Timestamp AS timestamp, toString(ServiceName) AS service, toString(SeverityText) AS severity, \
           SeverityNumber AS severity_number, Body AS body, TraceId AS trace_id, SpanId AS span_id, \
           LogAttributes AS attributes, ResourceAttributes AS resource_attributes \
         FROM otel_logs{} ORDER BY Timestamp DESC{PAGE}",
        w.sql()
    );
    paged(store, &sql, &w, page)
}

/// Log templates with exact counts, most frequent first: services and severities they were
/// seen with, an example body, first and last hour. `min_count` and `min_services` apply to the
/// totals over the selected rows.
pub fn log_patterns(store: &dyn Store, f: &Filters, page: Page) -> Result<Rows, StoreError> {
    let mut w = Where::default();
    w.when(&f.service, "ServiceName = {service:String}", "service");
    w.when(&f.severity, "SeverityText = {severity:String}", "severity");
    time_where(&mut w, f, "Bucket");
    let mut having = Where::default();
    having.when(&f.min_count, "count >= {min_count:UInt64}", "min_count");
    having.when(&f.min_services, "service_count >= {min_services:UInt64}", "min_services");
    let having_sql =
        if having.conds.is_empty() { String::new() } else { format!(" HAVING {}", having.conds.join(" AND ")) };
    let sql = format!(
        "SELECT lower(leftPad(hex(TemplateId), 16, '0')) AS template_id, any(Template) AS template, \
           sum(Count) AS count, uniqExact(ServiceName) AS service_count, \
           arraySort(groupUniqArray(toString(ServiceName))) AS services, \
           arraySort(groupUniqArray(toString(SeverityText))) AS severities, any(Example) AS example, \
           formatDateTime(min(Bucket), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS first_seen, formatDateTime(max(Bucket), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS last_seen \
         FROM otel_log_patterns{} GROUP BY TemplateId{having_sql} ORDER BY count DESC, template_id{PAGE}",
        w.sql()
    );
    let all = Where {
        conds: w.conds.iter().chain(having.conds.iter()).copied().collect(),
        params: w.params.into_iter().chain(having.params).collect(),
    };
    paged(store, &sql, &all, page)
}

// ---------------------------------------------------------------------------------------------
// attributes

fn attribute_where(f: &Filters) -> Where {
    let mut w = Where::default();
    w.when(&f.signal, "Signal = {signal:String}", "signal");
    w.when(&f.scope, "Scope = {scope:String}", "scope");
    w.when(&f.service, "ServiceName = {service:String}", "service");
    w
}

/// Attribute keys per signal and scope (over the selected services): exact distinct values,
/// occurrences, services, names (metrics, spans or log scopes, up to 100), samples, types, first
/// and last seen. Highest cardinality first.
pub fn attributes(store: &dyn Store, f: &Filters, page: Page) -> Result<Rows, StoreError> {
    let mut w = attribute_where(f);
    let mut having = String::new();
    if let Some(m) = f.min_cardinality {
        having = " HAVING cardinality >= {min_cardinality:UInt64}".into();
        w.params.push(("min_cardinality", m.to_string()));
    }
    let sql = format!(
        "SELECT key, signal, scope, cardinality, occurrences, services, names, samples, {TYPES_OF_SAMPLES} AS types, \
           first_seen, last_seen FROM ( \
           SELECT Key AS key, toString(Signal) AS signal, toString(Scope) AS scope, uniqExactMerge(`Values`) AS cardinality, \
             sum(Occurrences) AS occurrences, arraySort(groupUniqArray(toString(ServiceName))) AS services, \
             arraySlice(arraySort(groupUniqArray(Name)), 1, 100) AS names, \
             arraySlice(arraySort(groupUniqArrayMerge(5)(Samples)), 1, 5) AS samples, \
             formatDateTime(min(FirstSeen), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS first_seen, formatDateTime(max(LastSeen), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS last_seen \
           FROM otel_attribute_catalog{} GROUP BY key, signal, scope{having}) \
         ORDER BY cardinality DESC, key, signal, scope{PAGE}",
        w.sql()
    );
    paged(store, &sql, &w, page)
}

/// One key: its exact cardinality per signal, scope and service, and over each signal. Empty
/// when the key was never seen.
pub fn attribute(store: &dyn Store, key: &str, f: &Filters) -> Result<Vec<Value>, StoreError> {
    let mut w = attribute_where(f);
    w.add("Key = {key:String}", "key", key);
    run(
        store,
        &format!(
            "SELECT signal, scope, service, cardinality, occurrences, names, samples, {TYPES_OF_SAMPLES} AS types, \
               first_seen, last_seen FROM ( \
               SELECT toString(Signal) AS signal, toString(Scope) AS scope, toString(ServiceName) AS service, \
                 uniqExactMerge(`Values`) AS cardinality, sum(Occurrences) AS occurrences, \
                 arraySlice(arraySort(groupUniqArray(Name)), 1, 100) AS names, \
                 arraySlice(arraySort(groupUniqArrayMerge(5)(Samples)), 1, 5) AS samples, \
                 formatDateTime(min(FirstSeen), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS first_seen, formatDateTime(max(LastSeen), '%Y-%m-%dT%H:%i:%SZ', 'UTC') AS last_seen \
               FROM otel_attribute_catalog{} GROUP BY signal, scope, service) \
             ORDER BY signal, scope, service",
            w.sql()
        ),
        &w,
        &[],
    )
}

/// Exact cardinality of one key per signal over every service and scope.
pub fn attribute_totals(store: &dyn Store, key: &str, f: &Filters) -> Result<Vec<Value>, StoreError> {
    let mut w = attribute_where(f);
    w.add("Key = {key:String}", "key", key);
    run(
        store,
        &format!(
            "SELECT toString(Signal) AS signal, uniqExactMerge(`Values`) AS cardinality \
             FROM otel_attribute_catalog{} GROUP BY signal ORDER BY signal",
            w.sql()
        ),
        &w,
        &[],
    )
}

/// Keys whose exact cardinality per signal (over every service and scope) is at least
/// `min_cardinality`, highest first.
pub fn high_cardinality(store: &dyn Store, f: &Filters, page: Page) -> Result<Rows, StoreError> {
    let mut w = attribute_where(f);
    w.params.push(("min_cardinality", f.min_cardinality.unwrap_or(0).to_string()));
    let sql = format!(
        "SELECT Key AS key, toString(Signal) AS signal, uniqExactMerge(`Values`) AS cardinality, \
           arraySort(groupUniqArray(toString(ServiceName))) AS services \
         FROM otel_attribute_catalog{} GROUP BY key, signal HAVING cardinality >= {{min_cardinality:UInt64}} \
         ORDER BY cardinality DESC, key, signal{PAGE}",
        w.sql()
    );
    paged(store, &sql, &w, page)
}

/// The metrics with the highest metadata-complexity score (attribute count × largest
/// attribute cardinality), at most `limit`.
pub fn complex_metrics(store: &dyn Store, f: &Filters, limit: u64) -> Result<Vec<Value>, StoreError> {
    let mut w = Where::default();
    w.when(&f.service, "ServiceName = {service:String}", "service");
    let extra = [("limit", limit.to_string())];
    let sql = format!(
        "SELECT aname AS name, toUInt64(attribute_count) AS attribute_count, toUInt64(max_cardinality) AS max_cardinality, \
           toUInt64(attribute_count * max_cardinality) AS complexity FROM ({}) \
         ORDER BY complexity DESC, name LIMIT {{limit:UInt64}}",
        metric_attrs_sql(f.service.is_some(), false)
    );
    run(store, &sql, &w, &extra)
}

// ---------------------------------------------------------------------------------------------
// stats

/// Per table of chute's database: rows, bytes on disk, compressed and uncompressed bytes, the
/// compression ratio and the number of active parts (from `system.parts`).
pub fn table_stats(store: &dyn Store, f: &Filters, page: Page) -> Result<Rows, StoreError> {
    let mut w = Where::default();
    w.conds.push("database = currentDatabase()");
    w.conds.push("active");
    w.when(&f.table, "table = {table:String}", "table");
    let sql = format!(
        "SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes_on_disk, \
           sum(data_compressed_bytes) AS compressed_bytes, sum(data_uncompressed_bytes) AS uncompressed_bytes, \
           if(compressed_bytes = 0, 0, uncompressed_bytes / compressed_bytes) AS compression_ratio, \
           count() AS parts \
         FROM system.parts{} GROUP BY table ORDER BY table{PAGE}",
        w.sql()
    );
    paged(store, &sql, &w, page)
}

/// Recent finished queries from the engine's `system.query_log`, newest first: None when the
/// engine keeps no query log.
pub fn recent_queries(store: &dyn Store, page: Page) -> Result<Option<Rows>, StoreError> {
    let exists =
        store.query("SELECT count() FROM system.tables WHERE database = 'system' AND name = 'query_log'", &[])?;
    let has_log =
        crate::rows::to_json_rows(&exists).first().and_then(|r| r.as_object()?.values().next()?.as_u64()).unwrap_or(0)
            > 0;
    if !has_log {
        return Ok(None);
    }
    let w = Where::default();
    let sql = format!(
        "SELECT event_time_microseconds AS finished, query_duration_ms AS duration_ms, read_rows, read_bytes, \
           result_rows, memory_usage, substring(query, 1, 300) AS query \
         FROM system.query_log WHERE type = 'QueryFinish' ORDER BY event_time_microseconds DESC{PAGE}"
    );
    Ok(Some(paged(store, &sql, &w, page)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_constant_text_and_values_are_parameters() {
        let f = Filters {
            service: Some("x' OR 1=1 --".into()),
            name: Some("{evil:String}".into()),
            min_cardinality: Some(3),
            ..Default::default()
        };
        let mut w = metric_where(&f);
        assert_eq!(
            w.sql(),
            " WHERE ServiceName = {service:String} AND positionCaseInsensitive(MetricName, {name:String}) > 0"
        );
        assert_eq!(w.params[0], ("service", "x' OR 1=1 --".to_string()));
        w.add("Key = {key:String}", "key", "k");
        assert!(w.sql().ends_with(" AND Key = {key:String}"));
        assert_eq!(attribute_where(&Filters::default()).sql(), "");
    }
}
