//! Telemetry explorer commands: `chute services`, `chute attributes`, `chute logs patterns`.
//! Each asks the running chute's `/api/v1` (the server holds the embedded engine) or, when none
//! answers, opens the store itself and runs the same query; both print the same table.

use crate::client::connect;
use crate::local;
use crate::table::{Table, thousands};
use chute_config::Config;
use chute_store::queries::explorer::{self, Filters, Page};
use clap::{Args, Subcommand};
use serde_json::Value;

#[derive(Args, Debug)]
pub struct Common {
    /// Rows to show (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    limit: u64,
    /// Print the API's JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Ask the chute at this URL instead of the configured address.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServicesArgs {
    /// Only this service.
    #[arg(long)]
    service: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug)]
pub struct AttributesArgs {
    /// Only keys with at least this many distinct values.
    #[arg(long, value_name = "N")]
    min_cardinality: Option<u64>,
    /// log, span or metric.
    #[arg(long, value_parser = ["log", "span", "metric"])]
    signal: Option<String>,
    /// resource or item.
    #[arg(long, value_parser = ["resource", "item"])]
    scope: Option<String>,
    /// Only this service.
    #[arg(long)]
    service: Option<String>,
    #[command(flatten)]
    common: Common,
}

#[derive(Subcommand, Debug)]
pub enum LogsCommand {
    /// Log templates with exact counts, most frequent first.
    Patterns {
        /// Only templates with at least this many records.
        #[arg(long, value_name = "N")]
        min_count: Option<u64>,
        /// Only templates seen in at least this many services.
        #[arg(long, value_name = "N")]
        min_services: Option<u64>,
        /// Only records of this severity (e.g. ERROR).
        #[arg(long)]
        severity: Option<String>,
        /// Only this service.
        #[arg(long)]
        service: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

/// Percent-encodes a query parameter value.
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let q: Vec<String> = pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v)))).collect();
    if q.is_empty() { String::new() } else { format!("?{}", q.join("&")) }
}

/// The page from the server, or from the local store when no server answers.
async fn fetch(
    config: &Config,
    common: &Common,
    path: &str,
    pairs: &[(&str, Option<String>)],
    local: impl FnOnce(&dyn chute_store::Store, Page) -> Result<explorer::Rows, chute_store::StoreError> + Send + 'static,
) -> anyhow::Result<Value> {
    let page = Page { limit: common.limit, offset: 0 };
    match connect(config, common.server.clone()).await? {
        Some(c) => {
            let mut all: Vec<(&str, Option<String>)> = pairs.to_vec();
            all.push(("limit", Some(common.limit.to_string())));
            c.get_json(&format!("{path}{}", query(&all))).await
        }
        None => {
            let store = local::open_migrated(config)?;
            let rows = tokio::task::spawn_blocking(move || local(store.as_ref(), page)).await??;
            Ok(serde_json::json!({ "items": rows.items, "limit": page.limit, "offset": 0 }))
        }
    }
}

fn s(v: &Value, k: &str) -> String {
    match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn n(v: &Value, k: &str) -> String {
    thousands(v[k].as_u64().unwrap_or(0))
}

fn list(v: &Value, k: &str) -> String {
    v[k].as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(",")).unwrap_or_default()
}

fn time(v: &Value, k: &str) -> String {
    s(v, k).replace('T', " ").trim_end_matches('Z').to_string()
}

fn print(out: &Value, json: bool, table: impl FnOnce(&[Value]) -> Table) {
    if json {
        println!("{out}");
        return;
    }
    let items = out["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    print!("{}", table(items).render());
}

pub async fn services(config: &Config, a: ServicesArgs) -> anyhow::Result<i32> {
    let f = Filters { service: a.service.clone(), ..Default::default() };
    let out = fetch(config, &a.common, "/api/v1/services", &[("service", a.service.clone())], move |s, p| {
        explorer::services(s, &f, p)
    })
    .await?;
    print(&out, a.common.json, |items| {
        let mut t = Table::new(&[
            "service",
            "metrics",
            "points",
            "spans",
            "span errors",
            "error rate",
            "logs",
            "first seen (UTC)",
            "last seen (UTC)",
        ]);
        for r in items {
            t.row(vec![
                s(r, "service"),
                n(r, "metrics"),
                n(r, "metric_points"),
                n(r, "spans"),
                n(r, "span_errors"),
                format!("{:.2}%", r["span_error_rate"].as_f64().unwrap_or(0.0) * 100.0),
                n(r, "logs"),
                time(r, "first_seen"),
                time(r, "last_seen"),
            ]);
        }
        t
    });
    Ok(0)
}

pub async fn attributes(config: &Config, a: AttributesArgs) -> anyhow::Result<i32> {
    let f = Filters {
        min_cardinality: a.min_cardinality,
        signal: a.signal.clone(),
        scope: a.scope.clone(),
        service: a.service.clone(),
        ..Default::default()
    };
    let pairs = [
        ("min_cardinality", a.min_cardinality.map(|m| m.to_string())),
        ("signal", a.signal.clone()),
        ("scope", a.scope.clone()),
        ("service", a.service.clone()),
    ];
    let out =
        fetch(config, &a.common, "/api/v1/attributes", &pairs, move |s, p| explorer::attributes(s, &f, p)).await?;
    print(&out, a.common.json, |items| {
        let mut t =
            Table::new(&["key", "signal", "scope", "cardinality", "occurrences", "types", "services", "samples"]);
        for r in items {
            t.row(vec![
                s(r, "key"),
                s(r, "signal"),
                s(r, "scope"),
                n(r, "cardinality"),
                n(r, "occurrences"),
                list(r, "types"),
                list(r, "services"),
                list(r, "samples").chars().take(60).collect(),
            ]);
        }
        t
    });
    Ok(0)
}

pub async fn logs(config: &Config, cmd: LogsCommand) -> anyhow::Result<i32> {
    match cmd {
        LogsCommand::Patterns { min_count, min_services, severity, service, common } => {
            let f = Filters {
                min_count,
                min_services,
                severity: severity.clone(),
                service: service.clone(),
                ..Default::default()
            };
            let pairs = [
                ("min_count", min_count.map(|m| m.to_string())),
                ("min_services", min_services.map(|m| m.to_string())),
                ("severity", severity),
                ("service", service),
            ];
            let out =
                fetch(config, &common, "/api/v1/logs/patterns", &pairs, move |s, p| explorer::log_patterns(s, &f, p))
                    .await?;
            print(&out, common.json, |items| {
                let mut t = Table::new(&["count", "services", "severities", "template id", "template"]);
                for r in items {
                    t.row(vec![
                        n(r, "count"),
                        list(r, "services"),
                        list(r, "severities"),
                        s(r, "template_id"),
                        s(r, "template"),
                    ]);
                }
                t
            });
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_encode_values() {
        assert_eq!(query(&[("a", Some("x' OR 1=1&b=2".into())), ("c", None)]), "?a=x%27%20OR%201%3D1%26b%3D2");
        assert_eq!(query(&[("c", None)]), "");
    }
}
