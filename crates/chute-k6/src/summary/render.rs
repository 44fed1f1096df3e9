//! [`render_text`]: a [`RunSummary`] printed like k6's end-of-test summary (thresholds, checks
//! by group, then one line per metric with k6's number formatting).

use super::{MetricSummary, RunSummary};
use chute_store::queries::k6_outputs::OutputSummary;
use std::fmt::Write;

/// A k6 output run's summary as text: one line per metric, `~` before approximate values.
pub(super) fn render_output_text(s: &OutputSummary) -> String {
    let mut out = format!(
        "run {} (source {}, from k6's aggregated output: counts and rates exact, ~ approximate)\n\n",
        s.run.run_id, s.run.source
    );
    for m in &s.metrics {
        let values: Vec<String> = m
            .values
            .iter()
            .map(|(k, v)| format!("{k}={}{v}", if m.approximate.contains(k) { "~" } else { "" }))
            .collect();
        let _ = writeln!(out, "{} ({}): {}", m.name, m.metric_type, values.join(" "));
    }
    out
}

/// JS `parseFloat(v.toFixed(prec)).toString()`: fixed decimals, trailing zeros dropped.
fn fixed_trim(v: f64, prec: usize) -> String {
    let s = format!("{v:.prec$}");
    match s.parse::<f64>() {
        Ok(0.0) => "0".to_owned(),
        Ok(x) => x.to_string(),
        Err(_) => s,
    }
}

/// k6's `toFixedNoTrailingZerosTrunc`: truncated (not rounded) decimals, trailing zeros dropped.
fn trunc_trim(v: f64, prec: i32) -> String {
    let mult = 10f64.powi(prec);
    let t = (v * mult).trunc() / mult;
    if t == 0.0 { "0".to_owned() } else { t.to_string() }
}

/// k6's `humanizeGenericDuration`: milliseconds as ns, µs, ms, s, or XmYs / XhYmZs.
pub(crate) fn duration(ms: f64) -> String {
    if !ms.is_finite() {
        return ms.to_string();
    }
    if ms == 0.0 {
        return "0s".to_owned();
    }
    let neg = ms < 0.0;
    let d = ms.abs();
    let s = if d < 0.001 {
        format!("{}ns", (d * 1e6).trunc())
    } else if d < 1.0 {
        format!("{}µs", trunc_trim(d * 1000.0, 2))
    } else if d < 1000.0 {
        format!("{}ms", trunc_trim(d, 2))
    } else {
        let secs = trunc_trim((d % 60_000.0) / 1000.0, if d > 60_000.0 { 0 } else { 2 });
        let mins = (d / 60_000.0).trunc();
        if mins < 1.0 {
            format!("{secs}s")
        } else if mins < 60.0 {
            format!("{mins}m{secs}s")
        } else {
            format!("{}h{}m{secs}s", (mins / 60.0).trunc(), mins % 60.0)
        }
    };
    if neg { format!("-{s}") } else { s }
}

/// k6's `humanizeBytes`: decimal units, one decimal under 10.
pub(crate) fn bytes(b: f64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    if !b.is_finite() || b < 10.0 {
        return format!("{} B", fixed_trim(b, 6));
    }
    let e = (b.ln() / 1000f64.ln()).floor().clamp(0.0, 5.0);
    let val = ((b / 1000f64.powf(e)) * 10.0 + 0.5).floor() / 10.0;
    format!("{:.*} {}", if val < 10.0 { 1 } else { 0 }, val, UNITS[e as usize])
}

/// A rate as k6 shows it: truncated to two decimals of a percent.
pub(crate) fn percent(v: f64) -> String {
    format!("{:.2}%", (v * 100.0 * 100.0).trunc() / 100.0)
}

/// A value of a metric, in the metric's unit.
fn value(m: &MetricSummary, v: f64) -> String {
    match m.contains.as_str() {
        "time" => duration(v),
        "data" => bytes(v),
        _ => fixed_trim(v, 6),
    }
}

fn get(m: &MetricSummary, k: &str) -> f64 {
    m.values.get(k).copied().unwrap_or(0.0)
}

/// The value columns of one metric line.
fn columns(m: &MetricSummary) -> Vec<String> {
    let kv = |keys: &[&str], fmt: &dyn Fn(f64) -> String| -> Vec<String> {
        keys.iter().filter(|k| m.values.contains_key(**k)).map(|k| format!("{k}={}", fmt(get(m, k)))).collect()
    };
    match m.metric_type.as_str() {
        "trend" => vec![kv(&["avg", "min", "med", "max", "p(90)", "p(95)"], &|v| value(m, v)).join(" ")],
        "counter" => {
            let rate = get(m, "rate");
            let rate = match m.contains.as_str() {
                "data" => bytes(rate),
                "time" => duration(rate),
                _ => fixed_trim(rate, 6),
            };
            vec![value(m, get(m, "count")), format!("{rate}/s")]
        }
        "rate" => vec![percent(get(m, "rate")), format!("✓ {}", get(m, "passes")), format!("✗ {}", get(m, "fails"))],
        "gauge" => vec![
            format!("value={}", value(m, get(m, "value"))),
            format!("min={}", value(m, get(m, "min"))),
            format!("max={}", value(m, get(m, "max"))),
        ],
        _ => vec![
            kv(&["count", "sum", "avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "nonzero", "last"], &|v| {
                fixed_trim(v, 6)
            })
            .join(" "),
        ],
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// The summary as text, laid out like k6's end-of-test summary.
pub fn render_text(s: &RunSummary) -> String {
    let mut out = String::new();
    let r = &s.run;
    let _ = writeln!(
        out,
        "  run {}: {} → {} ({}), {} samples from {}\n",
        r.run_id,
        r.first_sample,
        r.last_sample,
        duration(r.duration_s * 1000.0),
        r.samples,
        if r.sources.is_empty() { "-".to_owned() } else { r.sources.join(", ") }
    );

    if !s.thresholds.is_empty() {
        let _ = writeln!(out, "  █ THRESHOLDS\n");
        let mut last_metric = None;
        for t in &s.thresholds {
            if last_metric != Some(&t.metric) {
                if last_metric.is_some() {
                    out.push('\n');
                }
                let _ = writeln!(out, "    {}", t.metric);
                last_metric = Some(&t.metric);
            }
            let mark = if t.ok { '✓' } else { '✗' };
            let shown = match (&t.error, t.actual, s.metric(&t.metric)) {
                (Some(e), _, _) => format!("(not evaluated: {e})"),
                (None, Some(a), Some(m)) => {
                    let agg = t.expression.split(['<', '>', '=', '!']).next().unwrap_or("").trim().to_owned();
                    let v = match (m.metric_type.as_str(), agg.as_str()) {
                        ("rate", _) => percent(a),
                        ("counter", "count") => value(m, a),
                        ("counter", _) => format!("{}/s", fixed_trim(a, 6)),
                        _ => value(m, a),
                    };
                    format!("{agg}={v}")
                }
                (None, Some(a), None) => fixed_trim(a, 6),
                (None, None, _) => String::new(),
            };
            let _ = writeln!(out, "    {mark} '{}' {shown}", t.expression);
        }
        out.push('\n');
    }

    if !s.checks.is_empty() {
        let _ = writeln!(out, "  █ CHECKS\n");
        let mut group: Option<&str> = None;
        for c in &s.checks {
            let depth = c.group.matches("::").count();
            if group != Some(c.group.as_str()) {
                if !c.group.is_empty() {
                    if !out.ends_with("\n\n") {
                        out.push('\n');
                    }
                    let name = c.group.rsplit("::").next().unwrap_or(&c.group);
                    let _ = writeln!(out, "{}█ {name}\n", " ".repeat(5 + 2 * (depth - 1)));
                }
                group = Some(&c.group);
            }
            let indent = " ".repeat(5 + 2 * depth);
            if c.fails == 0 {
                let _ = writeln!(out, "{indent}✓ {}", c.name);
            } else {
                let total = c.passes + c.fails;
                let pct = (c.passes * 100).checked_div(total).unwrap_or(0);
                let _ = writeln!(out, "{indent}✗ {}\n{indent} ↳  {pct}% — ✓ {} / ✗ {}", c.name, c.passes, c.fails);
            }
        }
        out.push('\n');
    }

    if !s.metrics.is_empty() {
        let _ = writeln!(out, "  █ METRICS\n");
        let names: Vec<String> = s
            .metrics
            .iter()
            .map(|m| {
                if m.tags.is_empty() {
                    m.name.clone()
                } else {
                    let filter = m.name.find('{').and_then(|i| m.name.get(i + 1..m.name.len() - 1)).unwrap_or("");
                    format!("  {{ {filter} }}")
                }
            })
            .collect();
        let name_w = names.iter().map(|n| width(n)).max().unwrap_or(0) + 3;
        let cols: Vec<Vec<String>> = s.metrics.iter().map(columns).collect();
        let mut col_w = [0usize; 3];
        for (m, c) in s.metrics.iter().zip(&cols) {
            if m.metric_type != "trend" && m.metric_type != "unknown" {
                for (i, v) in c.iter().enumerate().take(3) {
                    col_w[i] = col_w[i].max(width(v));
                }
            }
        }
        for ((m, name), c) in s.metrics.iter().zip(&names).zip(&cols) {
            let dots = ".".repeat(name_w - width(name));
            let line = if m.metric_type == "trend" || m.metric_type == "unknown" || c.len() == 1 {
                c.join(" ")
            } else {
                let last = c.len() - 1;
                c.iter()
                    .enumerate()
                    .map(|(i, v)| if i == last { v.clone() } else { pad(v, col_w.get(i).copied().unwrap_or(0)) })
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = writeln!(out, "     {name}{dots}: {}", line.trim_end());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_k6s_units() {
        assert_eq!(duration(1.5484968591065296), "1.54ms");
        assert_eq!(duration(0.283636), "283.63µs");
        assert_eq!(duration(9.891632), "9.89ms");
        assert_eq!(duration(2.975658), "2.97ms", "truncated, as k6 does");
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(0.0005), "500ns");
        assert_eq!(duration(154.0420904066388), "154.04ms");
        assert_eq!(duration(1500.0), "1.5s");
        assert_eq!(duration(61_000.0), "1m1s");
        assert_eq!(duration(3_725_000.0), "1h2m5s");
    }

    #[test]
    fn bytes_and_rates_use_k6s_units() {
        assert_eq!(bytes(872_923.0), "873 kB");
        assert_eq!(bytes(106_806.7674291803), "107 kB");
        assert_eq!(bytes(21_800.0), "22 kB");
        assert_eq!(bytes(2_667.345836867777), "2.7 kB");
        assert_eq!(bytes(5.0), "5 B");
        assert_eq!(bytes(12_345_678.0), "12 MB");
        assert_eq!(percent(1.0), "100.00%");
        assert_eq!(percent(0.41237113402061853), "41.23%");
        assert_eq!(fixed_trim(35.60539626277629, 6), "35.605396");
        assert_eq!(fixed_trim(291.0, 6), "291");
    }
}
