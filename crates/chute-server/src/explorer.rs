//! The telemetry explorer's REST API under `/api/v1`: services, metrics, spans and traces, logs
//! and log patterns, the attribute catalog, high cardinality, table and query statistics, and
//! the OpenAPI document that describes them (`/api/v1/openapi.json`).
//!
//! Handlers check every query parameter (unknown parameters, bad numbers, bad enums, bad times
//! and ids are 400s naming the parameter), then run one of `chute_store::queries::explorer`'s
//! queries on a blocking thread. Lists are paginated with `limit` (1–1000, default 100) and
//! `offset` (up to 10,000,000); `next_offset` is set when another page follows.

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chute_store::queries::explorer::{self as q, Filters, Page, Rows};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The OpenAPI 3 document of these endpoints.
pub const OPENAPI: &str = include_str!("openapi.json");

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 1000;
pub const MAX_OFFSET: u64 = 10_000_000;
/// Longest accepted text parameter, in bytes.
pub const MAX_TEXT: usize = 1024;

/// Adds the explorer's routes.
pub fn routes(r: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    r.route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/services", get(services))
        .route("/api/v1/metrics", get(metrics))
        .route("/api/v1/metrics/{name}", get(metric))
        .route("/api/v1/spans", get(spans))
        .route("/api/v1/traces/{trace_id}", get(trace))
        .route("/api/v1/logs", get(logs))
        .route("/api/v1/logs/patterns", get(log_patterns))
        .route("/api/v1/attributes", get(attributes))
        .route("/api/v1/attributes/{key}", get(attribute))
        .route("/api/v1/cardinality/high", get(high_cardinality))
        .route("/api/v1/stats/tables", get(table_stats))
        .route("/api/v1/stats/queries", get(query_stats))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

// ---------------------------------------------------------------------------------------------
// parameters

/// The query parameters of one request, checked against what the endpoint takes.
struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn parse(raw: Option<String>, accepted: &[&str]) -> Result<Params, ApiError> {
        let pairs = crate::query::pairs(&raw.unwrap_or_default());
        for (k, _) in &pairs {
            if !accepted.contains(&k.as_str()) {
                return Err(ApiError::BadRequest(format!(
                    "parameter {k}: unknown here; this endpoint takes {}",
                    if accepted.is_empty() { "no parameters".to_string() } else { accepted.join(", ") }
                )));
            }
        }
        for (i, (k, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(ApiError::BadRequest(format!("parameter {k}: given more than once")));
            }
        }
        Ok(Params { pairs })
    }

    /// A non-empty value (an empty one is as if not given).
    fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match crate::query::one(&self.pairs, key) {
            None | Some("") => Ok(None),
            Some(v) if v.len() > MAX_TEXT => {
                Err(ApiError::BadRequest(format!("parameter {key}: longer than {MAX_TEXT} bytes")))
            }
            Some(v) => Ok(Some(v.to_string())),
        }
    }

    fn number(&self, key: &str, max: u64) -> Result<Option<u64>, ApiError> {
        match self.text(key)? {
            None => Ok(None),
            Some(v) => v.parse::<u64>().ok().filter(|n| *n <= max).map(Some).ok_or_else(|| {
                ApiError::BadRequest(format!("parameter {key}: expected a whole number from 0 to {max}, got {v:?}"))
            }),
        }
    }

    fn one_of(&self, key: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.text(key)? {
            None => Ok(None),
            Some(v) => {
                allowed.iter().find(|a| a.eq_ignore_ascii_case(&v)).map(|a| Some(a.to_string())).ok_or_else(|| {
                    ApiError::BadRequest(format!("parameter {key}: expected one of {}, got {v:?}", allowed.join(", ")))
                })
            }
        }
    }

    /// Milliseconds (fractions allowed) as nanoseconds.
    fn millis(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.text(key)? {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|ms| ms.is_finite() && *ms >= 0.0 && *ms <= 1e12)
                .map(|ms| Some((ms * 1e6).round() as u64))
                .ok_or_else(|| {
                    ApiError::BadRequest(format!("parameter {key}: expected milliseconds (a number >= 0), got {v:?}"))
                }),
        }
    }

    /// RFC 3339 (`2026-11-23T10:00:00Z`, `...+02:00`, fractions allowed) or Unix seconds.
    fn time(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.text(key)? {
            None => Ok(None),
            Some(v) => parse_time(&v).map(Some).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "parameter {key}: expected an RFC 3339 time (2026-11-23T10:00:00Z) or Unix seconds, got {v:?}"
                ))
            }),
        }
    }

    fn trace_id(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.text(key)? {
            None => Ok(None),
            Some(v) => check_trace_id(key, &v).map(Some),
        }
    }

    fn page(&self) -> Result<Page, ApiError> {
        let limit = self.number("limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 {
            return Err(ApiError::BadRequest(format!("parameter limit: expected 1 to {MAX_LIMIT}, got 0")));
        }
        Ok(Page { limit, offset: self.number("offset", MAX_OFFSET)?.unwrap_or(0) })
    }
}

fn check_trace_id(what: &str, v: &str) -> Result<String, ApiError> {
    if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(v.to_ascii_lowercase())
    } else {
        Err(ApiError::BadRequest(format!("parameter {what}: expected 32 hex digits, got {v:?}")))
    }
}

/// Unix nanoseconds of an RFC 3339 time or of Unix seconds (a number, fractions allowed).
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs.abs() < 9.2e9).then(|| (secs * 1e9).round() as i64);
    }
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, sec) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ns = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = s.get(start..i)?;
        if digits.is_empty() {
            return None;
        }
        let mut padded: String = digits.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac_ns = padded.parse().ok()?;
    }
    let offset_s = match s.get(i..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let o = oh * 3600 + om * 60;
            if tz.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------------
// running queries

/// Recent explorer queries timed by chute, for `/stats/queries` when the engine keeps no query
/// log.
static RECENT: Mutex<VecDeque<Value>> = Mutex::new(VecDeque::new());
const RECENT_KEPT: usize = 200;

/// Runs a store query on a blocking thread and records how long it took.
async fn run<T: Send + 'static>(
    state: &Arc<AppState>,
    endpoint: &'static str,
    f: impl FnOnce(&dyn chute_store::Store) -> Result<T, chute_store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    let t0 = Instant::now();
    let out =
        tokio::task::spawn_blocking(move || f(store.as_ref())).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    tracing::debug!(endpoint, duration_ms = ms, ok = out.is_ok(), "explorer query");
    let finished = chute_store::rows::rfc3339(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0),
        arrow_schema::TimeUnit::Microsecond,
    );
    let mut recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
    if recent.len() == RECENT_KEPT {
        recent.pop_back();
    }
    recent.push_front(json!({ "finished": finished, "endpoint": endpoint, "duration_ms": ms, "ok": out.is_ok() }));
    drop(recent);
    Ok(out?)
}

fn page_json(rows: Rows, page: Page) -> Value {
    json!({
        "items": rows.items,
        "limit": page.limit,
        "offset": page.offset,
        "next_offset": rows.more.then_some(page.offset + page.limit),
    })
}

type Answer = Result<axum::Json<Value>, ApiError>;

// ---------------------------------------------------------------------------------------------
// handlers

const PAGING: [&str; 2] = ["limit", "offset"];

fn accepted(extra: &[&'static str]) -> Vec<&'static str> {
    extra.iter().chain(PAGING.iter()).copied().collect()
}

async fn services(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &accepted(&["service"]))?;
    let f = Filters { service: p.text("service")?, ..Default::default() };
    let page = p.page()?;
    let rows = run(&state, "services", move |s| q::services(s, &f, page)).await?;
    Ok(axum::Json(page_json(rows, page)))
}

const METRIC_TYPES: [&str; 5] = ["gauge", "sum", "histogram", "exponential_histogram", "summary"];

async fn metrics(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &accepted(&["service", "name", "type"]))?;
    let f = Filters {
        service: p.text("service")?,
        name: p.text("name")?,
        metric_type: p.one_of("type", &METRIC_TYPES)?,
        ..Default::default()
    };
    let page = p.page()?;
    let rows = run(&state, "metrics", move |s| q::metrics(s, &f, page)).await?;
    Ok(axum::Json(page_json(rows, page)))
}

async fn metric(State(state): State<Arc<AppState>>, Path(name): Path<String>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &["service"])?;
    let f = Filters { service: p.text("service")?, ..Default::default() };
    let n = name.clone();
    match run(&state, "metric", move |s| q::metric(s, &n, &f)).await? {
        Some(v) => Ok(axum::Json(v)),
        None => Err(ApiError::NotFound(format!("no metric named {name:?}"))),
    }
}

async fn spans(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(
        raw,
        &accepted(&["service", "name", "status", "min_duration_ms", "max_duration_ms", "from", "to", "trace_id"]),
    )?;
    let f = Filters {
        service: p.text("service")?,
        name: p.text("name")?,
        status: p.one_of("status", &["Unset", "Ok", "Error"])?,
        min_duration_ns: p.millis("min_duration_ms")?,
        max_duration_ns: p.millis("max_duration_ms")?,
        from_ns: p.time("from")?,
        to_ns: p.time("to")?,
        trace_id: p.trace_id("trace_id")?,
        ..Default::default()
    };
    let page = p.page()?;
    let rows = run(&state, "spans", move |s| q::spans(s, &f, page)).await?;
    Ok(axum::Json(page_json(rows, page)))
}

async fn trace(State(state): State<Arc<AppState>>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Answer {
    Params::parse(raw, &[])?;
    let id = check_trace_id("trace_id", &id)?;
    let tid = id.clone();
    let spans = run(&state, "trace", move |s| q::trace_spans(s, &tid)).await?;
    if spans.is_empty() {
        return Err(ApiError::NotFound(format!("no spans of trace {id}")));
    }
    Ok(axum::Json(trace_tree(&id, spans)))
}

/// The spans of a trace as a tree: every span under its parent (`children`, oldest first);
/// spans whose parent is not in the trace are roots.
pub fn trace_tree(trace_id: &str, spans: Vec<Value>) -> Value {
    let count = spans.len();
    let ids: HashMap<String, usize> =
        spans.iter().enumerate().map(|(i, s)| (s["span_id"].as_str().unwrap_or_default().to_string(), i)).collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); count];
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        match ids.get(s["parent_span_id"].as_str().unwrap_or_default()) {
            Some(&p) if p != i => children[p].push(i),
            _ => roots.push(i),
        }
    }
    let mut services: Vec<String> = spans.iter().filter_map(|s| s["service"].as_str().map(str::to_string)).collect();
    services.sort();
    services.dedup();
    let mut slots: Vec<Option<Value>> = spans.into_iter().map(Some).collect();
    // Iterative post-order: a node is built after its children (no recursion on deep traces).
    fn build(i: usize, children: &[Vec<usize>], slots: &mut [Option<Value>], seen: &mut [bool]) -> Value {
        let mut stack = vec![(i, false)];
        let mut built: HashMap<usize, Value> = HashMap::new();
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                let mut v = slots[n].take().unwrap_or(Value::Null);
                let kids: Vec<Value> = children[n].iter().filter_map(|c| built.remove(c)).collect();
                if let Value::Object(o) = &mut v {
                    o.insert("children".into(), Value::Array(kids));
                }
                built.insert(n, v);
            } else if !seen[n] {
                seen[n] = true;
                stack.push((n, true));
                for &c in children[n].iter().rev() {
                    stack.push((c, false));
                }
            }
        }
        built.remove(&i).unwrap_or(Value::Null)
    }
    let mut seen = vec![false; count];
    let mut tree: Vec<Value> = roots.iter().map(|&r| build(r, &children, &mut slots, &mut seen)).collect();
    // Spans on a parent cycle (never reached from a root) are listed as roots too.
    for i in 0..count {
        if !seen[i] {
            tree.push(build(i, &children, &mut slots, &mut seen));
        }
    }
    json!({ "trace_id": trace_id, "span_count": count, "services": services, "roots": tree })
}

async fn logs(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &accepted(&["service", "severity", "text", "from", "to", "trace_id"]))?;
    let f = Filters {
        service: p.text("service")?,
        severity: p.text("severity")?,
        text: p.text("text")?,
        from_ns: p.time("from")?,
        to_ns: p.time("to")?,
        trace_id: p.trace_id("trace_id")?,
        ..Default::default()
    };
    let page = p.page()?;
    let rows = run(&state, "logs", move |s| q::logs(s, &f, page)).await?;
    Ok(axum::Json(page_json(rows, page)))
}

async fn log_patterns(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &accepted(&["service", "severity", "min_count", "min_services", "from", "to"]))?;
    let f = Filters {
        service: p.text("service")?,
        severity: p.text("severity")?,
        min_count: p.number("min_count", u64::MAX / 2)?,
        min_services: p.number("min_services", 1_000_000)?,
        from_ns: p.time("from")?,
        to_ns: p.time("to")?,
        ..Default::default()
    };
    let page = p.page()?;
    let rows = run(&state, "log_patterns", move |s| q::log_patterns(s, &f, page)).await?;
    Ok(axum::Json(page_json(rows, page)))
}

const SIGNALS: [&str; 3] = ["log", "span", "metric"];
const SCOPES: [&str; 2] = ["resource", "item"];

async fn attributes(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &accepted(&["signal", "scope", "service", "min_cardinality"]))?;
    let f = Filters {
        signal: p.one_of("signal", &SIGNALS)?,
        scope: p.one_of("scope", &SCOPES)?,
        service: p.text("service")?,
        min_cardinality: p.number("min_cardinality", u64::MAX / 2)?,
        ..Default::default()
    };
    let page = p.page()?;
    let rows = run(&state, "attributes", move |s| q::attributes(s, &f, page)).await?;
    Ok(axum::Json(page_json(rows, page)))
}

async fn attribute(State(state): State<Arc<AppState>>, Path(key): Path<String>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &["signal", "scope", "service"])?;
    let f = Filters {
        signal: p.one_of("signal", &SIGNALS)?,
        scope: p.one_of("scope", &SCOPES)?,
        service: p.text("service")?,
        ..Default::default()
    };
    let k = key.clone();
    let (totals, items) =
        run(&state, "attribute", move |s| Ok((q::attribute_totals(s, &k, &f)?, q::attribute(s, &k, &f)?))).await?;
    if items.is_empty() {
        return Err(ApiError::NotFound(format!("no attribute {key:?} was seen")));
    }
    Ok(axum::Json(json!({ "key": key, "signals": totals, "items": items })))
}

/// Keys listed by `/cardinality/high` when no `threshold` is given.
pub const DEFAULT_THRESHOLD: u64 = 100;
/// Metrics listed with their complexity score.
pub const COMPLEX_METRICS: u64 = 20;

async fn high_cardinality(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &accepted(&["threshold", "signal", "service"]))?;
    let threshold = p.number("threshold", u64::MAX / 2)?.unwrap_or(DEFAULT_THRESHOLD);
    let f = Filters {
        signal: p.one_of("signal", &SIGNALS)?,
        service: p.text("service")?,
        min_cardinality: Some(threshold),
        ..Default::default()
    };
    let page = p.page()?;
    let (rows, complex) = run(&state, "cardinality_high", move |s| {
        Ok((q::high_cardinality(s, &f, page)?, q::complex_metrics(s, &f, COMPLEX_METRICS)?))
    })
    .await?;
    let mut v = page_json(rows, page);
    v["threshold"] = threshold.into();
    v["metrics"] = Value::Array(complex);
    Ok(axum::Json(v))
}

async fn table_stats(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &accepted(&["table"]))?;
    let f = Filters { table: p.text("table")?, ..Default::default() };
    let page = p.page()?;
    let rows = run(&state, "stats_tables", move |s| q::table_stats(s, &f, page)).await?;
    Ok(axum::Json(page_json(rows, page)))
}

async fn query_stats(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Answer {
    let p = Params::parse(raw, &PAGING)?;
    let page = p.page()?;
    let engine = run(&state, "stats_queries", move |s| q::recent_queries(s, page)).await?;
    let (source, rows) = match engine {
        Some(rows) => ("engine", rows),
        None => {
            let recent = RECENT.lock().unwrap_or_else(|p| p.into_inner());
            let items: Vec<Value> =
                recent.iter().skip(page.offset as usize).take(page.limit as usize + 1).cloned().collect();
            let more = items.len() as u64 > page.limit;
            ("chute", Rows { items: items.into_iter().take(page.limit as usize).collect(), more })
        }
    };
    let mut v = page_json(rows, page);
    v["source"] = source.into();
    Ok(axum::Json(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2026-11-23T11:24:53Z"), Some(1_795_433_093_000_000_000));
        assert_eq!(parse_time("2026-11-23T13:24:53.5+02:00"), Some(1_795_433_093_500_000_000));
        assert_eq!(parse_time("1795433093"), Some(1_795_433_093_000_000_000));
        for bad in ["", "yesterday", "2026-13-01T00:00:00Z", "2026-11-23T11:24:53", "2026-11-23T11:24:53.Z", "1e400"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn traces_become_trees_and_orphans_roots() {
        let s = |id: &str, parent: &str| json!({ "span_id": id, "parent_span_id": parent, "service": "a" });
        let t = trace_tree("t", vec![s("1", ""), s("2", "1"), s("3", "2"), s("4", "missing"), s("5", "1")]);
        assert_eq!(t["span_count"], 5);
        let roots = t["roots"].as_array().unwrap();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[0]["children"][0]["children"][0]["span_id"], "3");
        assert_eq!(roots[0]["children"][1]["span_id"], "5");
        // A cycle does not hang and loses no span.
        let t = trace_tree("t", vec![s("1", "2"), s("2", "1")]);
        assert_eq!(t["roots"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn unknown_repeated_and_bad_parameters_name_the_parameter() {
        let e = Params::parse(Some("servce=a".into()), &["service"]).err().unwrap();
        assert!(e.to_string().starts_with("parameter servce:"), "{e}");
        let e = Params::parse(Some("service=a&service=b".into()), &["service"]).err().unwrap();
        assert!(e.to_string().contains("more than once"));
        let p = Params::parse(
            Some("limit=0&offset=x&status=bad&min_duration_ms=-1".into()),
            &accepted(&["status", "min_duration_ms"]),
        )
        .unwrap();
        assert!(p.page().err().unwrap().to_string().starts_with("parameter limit"));
        assert!(p.one_of("status", &["Ok"]).err().unwrap().to_string().starts_with("parameter status"));
        assert!(p.millis("min_duration_ms").err().unwrap().to_string().starts_with("parameter min_duration_ms"));
        assert_eq!(
            Params::parse(Some("status=error".into()), &["status"]).unwrap().one_of("status", &["Error"]).unwrap(),
            Some("Error".into())
        );
    }

    #[test]
    fn the_openapi_document_is_json_and_lists_every_route() {
        let doc: Value = serde_json::from_str(OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/v1/services",
            "/api/v1/metrics",
            "/api/v1/metrics/{name}",
            "/api/v1/spans",
            "/api/v1/traces/{trace_id}",
            "/api/v1/logs",
            "/api/v1/logs/patterns",
            "/api/v1/attributes",
            "/api/v1/attributes/{key}",
            "/api/v1/cardinality/high",
            "/api/v1/stats/tables",
            "/api/v1/stats/queries",
        ] {
            assert!(paths.contains_key(p), "{p} is documented");
        }
    }
}
