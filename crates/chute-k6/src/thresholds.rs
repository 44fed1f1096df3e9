//! k6's threshold language, parsed and evaluated the way k6 does it.
//!
//! An expression is `<aggregation> <operator> <number>`, whitespace allowed around each part:
//!
//! - aggregations: `count`, `rate`, `value`, `avg`, `min`, `max`, `med`, `p(N)` with
//!   0 ≤ N ≤ 100, N possibly decimal (`p(99.9)`), no spaces inside the parentheses;
//! - operators: `<`, `<=`, `>`, `>=`, `==`, `===` (same as `==`), `!=`. Like k6, the first of
//!   `<=`, `<`, `>=`, `>`, `===`, `==`, `!=` found in the text splits it.
//!
//! Which aggregations a metric type has (k6 refuses the others): counter: `count`, `rate`;
//! gauge: `value`; rate: `rate`; trend: `avg`, `min`, `max`, `med`, `p(N)`.
//!
//! Thresholds attach to a metric or a sub-metric, `name{key:value,key2:value2}`: the samples of
//! `name` whose tags have those values. Keys and values are trimmed of spaces and of `"`/`'`
//! quotes, as k6 does.

use crate::K6Error;
use crate::builtin::MetricType;
use std::fmt;

/// What a threshold looks at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Aggregation {
    Count,
    Rate,
    Value,
    Avg,
    Min,
    Max,
    Med,
    /// `p(N)`, N in 0..=100.
    Percentile(f64),
}

impl Aggregation {
    /// Whether k6 allows this aggregation on a metric of type `t`.
    pub fn valid_for(self, t: MetricType) -> bool {
        use Aggregation::*;
        match t {
            MetricType::Counter => matches!(self, Count | Rate),
            MetricType::Gauge => matches!(self, Value),
            MetricType::Rate => matches!(self, Rate),
            MetricType::Trend => matches!(self, Avg | Min | Max | Med | Percentile(_)),
        }
    }

    /// The aggregations k6 allows on `t`, for error messages.
    pub fn allowed(t: MetricType) -> &'static str {
        match t {
            MetricType::Counter => "count, rate",
            MetricType::Gauge => "value",
            MetricType::Rate => "rate",
            MetricType::Trend => "avg, min, max, med, p(N)",
        }
    }
}

impl fmt::Display for Aggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Aggregation::Count => f.write_str("count"),
            Aggregation::Rate => f.write_str("rate"),
            Aggregation::Value => f.write_str("value"),
            Aggregation::Avg => f.write_str("avg"),
            Aggregation::Min => f.write_str("min"),
            Aggregation::Max => f.write_str("max"),
            Aggregation::Med => f.write_str("med"),
            Aggregation::Percentile(p) => write!(f, "p({p})"),
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operator {
    Lt,
    Le,
    Gt,
    Ge,
    /// `==`
    Eq,
    /// `===` (k6 treats it as `==`)
    StrictEq,
    Ne,
}

impl Operator {
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Eq => "==",
            Operator::StrictEq => "===",
            Operator::Ne => "!=",
        }
    }

    /// `lhs <op> rhs`.
    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Operator::Lt => lhs < rhs,
            Operator::Le => lhs <= rhs,
            Operator::Gt => lhs > rhs,
            Operator::Ge => lhs >= rhs,
            Operator::Eq | Operator::StrictEq => lhs == rhs,
            Operator::Ne => lhs != rhs,
        }
    }
}

/// The order k6 looks for operators in (`<=` before `<`, `===` before `==`).
const OPERATORS: [Operator; 7] =
    [Operator::Le, Operator::Lt, Operator::Ge, Operator::Gt, Operator::StrictEq, Operator::Eq, Operator::Ne];

/// A parsed threshold expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The expression as written.
    pub source: String,
    pub aggregation: Aggregation,
    pub operator: Operator,
    pub value: f64,
}

impl Threshold {
    /// Parses one expression such as `p(95)<200` or `rate > 0.99`.
    pub fn parse(expression: &str) -> Result<Threshold, K6Error> {
        let err =
            |reason: String| K6Error::Threshold { metric: String::new(), expression: expression.to_owned(), reason };
        let (lhs, operator, rhs) = OPERATORS
            .iter()
            .find_map(|op| expression.split_once(op.as_str()).map(|(l, r)| (l.trim(), *op, r.trim())))
            .ok_or_else(|| err("no operator found (expected one of <, <=, >, >=, ==, ===, !=)".into()))?;
        let aggregation = parse_aggregation(lhs).map_err(&err)?;
        let value = parse_number(rhs)
            .ok_or_else(|| err(format!("{rhs:?} is not a number (the right side of {})", operator.as_str())))?;
        Ok(Threshold { source: expression.to_owned(), aggregation, operator, value })
    }

    /// Whether the threshold holds for `actual` (the metric's value of [`Threshold::aggregation`]).
    pub fn passes(&self, actual: f64) -> bool {
        self.operator.holds(actual, self.value)
    }

    /// Checks that k6 allows this threshold's aggregation on a metric of type `t`.
    pub fn check_type(&self, metric: &str, t: MetricType) -> Result<(), K6Error> {
        if self.aggregation.valid_for(t) {
            return Ok(());
        }
        Err(K6Error::Threshold {
            metric: metric.to_owned(),
            expression: self.source.clone(),
            reason: format!(
                "{} is not an aggregation of a {} metric (a {} has {})",
                self.aggregation,
                t,
                t,
                Aggregation::allowed(t)
            ),
        })
    }
}

fn parse_number(s: &str) -> Option<f64> {
    // Go's strconv.ParseFloat accepts what Rust's parser does for plain decimals and exponents.
    if s.is_empty() || s.chars().any(|c| c.is_whitespace()) {
        return None;
    }
    s.parse::<f64>().ok()
}

fn parse_aggregation(s: &str) -> Result<Aggregation, String> {
    Ok(match s {
        "count" => Aggregation::Count,
        "rate" => Aggregation::Rate,
        "value" => Aggregation::Value,
        "avg" => Aggregation::Avg,
        "min" => Aggregation::Min,
        "max" => Aggregation::Max,
        "med" => Aggregation::Med,
        _ => {
            let Some(inner) = s.strip_prefix("p(").and_then(|r| r.strip_suffix(')')) else {
                return Err(format!(
                    "unknown aggregation {s:?} (expected count, rate, value, avg, min, max, med or p(N))"
                ));
            };
            let p = parse_number(inner).ok_or_else(|| format!("malformed percentile {inner:?} in {s}"))?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("percentile {inner} in {s} is not between 0 and 100"));
            }
            Aggregation::Percentile(p)
        }
    })
}

/// A metric or sub-metric name: `http_req_duration` or `http_req_duration{scenario:buy}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricName {
    /// The name as written.
    pub name: String,
    /// The parent metric.
    pub metric: String,
    /// The sub-metric's tag filter, in the order written (empty for a plain metric).
    pub tags: Vec<(String, String)>,
}

impl MetricName {
    /// Parses a name as k6 does (`ParseMetricName` and `NewSubmetric`).
    pub fn parse(name: &str) -> Result<MetricName, K6Error> {
        let err = |reason: &str| K6Error::MetricName { name: name.to_owned(), reason: reason.to_owned() };
        let open = name.find('{');
        let close = name.rfind('}');
        let (open, close) = match (open, close) {
            (None, None) => return Ok(MetricName { name: name.to_owned(), metric: name.to_owned(), tags: vec![] }),
            (Some(o), Some(c)) if o < c => (o, c),
            (Some(_), None) => return Err(err("'{' without a closing '}'")),
            (None, Some(_)) => return Err(err("'}' without an opening '{'")),
            _ => return Err(err("'}' comes before '{'")),
        };
        if close != name.len() - 1 {
            return Err(err("the tag filter must end the name"));
        }
        let metric = name[..open].trim();
        if metric.is_empty() {
            return Err(err("no metric before '{'"));
        }
        let mut tags = Vec::new();
        for pair in name[open + 1..close].split(',') {
            let Some((k, v)) = pair.split_once(':').filter(|(_, v)| !v.is_empty()) else {
                return Err(K6Error::MetricName {
                    name: name.to_owned(),
                    reason: format!("tag expression {pair:?} is not key:value"),
                });
            };
            let unquote = |s: &str| s.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
            tags.push((unquote(k), unquote(v)));
        }
        Ok(MetricName { name: name.to_owned(), metric: metric.to_owned(), tags })
    }

    pub fn is_submetric(&self) -> bool {
        !self.tags.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Aggregation::*;

    fn parsed(e: &str) -> (Aggregation, Operator, f64) {
        match Threshold::parse(e) {
            Ok(t) => (t.aggregation, t.operator, t.value),
            Err(err) => panic!("{e}: {err}"),
        }
    }

    #[test]
    fn every_operator_parses() {
        assert_eq!(parsed("p(95)<200"), (Percentile(95.0), Operator::Lt, 200.0));
        assert_eq!(parsed("avg<=100"), (Avg, Operator::Le, 100.0));
        assert_eq!(parsed("rate>0.9"), (Rate, Operator::Gt, 0.9));
        assert_eq!(parsed("count >= 10"), (Count, Operator::Ge, 10.0));
        assert_eq!(parsed("value==3"), (Value, Operator::Eq, 3.0));
        assert_eq!(parsed("value===3"), (Value, Operator::StrictEq, 3.0));
        assert_eq!(parsed("min != 0"), (Min, Operator::Ne, 0.0));
    }

    #[test]
    fn every_aggregation_parses_with_whitespace_and_decimals() {
        assert_eq!(parsed("  max < 1000 "), (Max, Operator::Lt, 1000.0));
        assert_eq!(parsed("med<1.5e2"), (Med, Operator::Lt, 150.0));
        assert_eq!(parsed("p(99.9) < 400"), (Percentile(99.9), Operator::Lt, 400.0));
        assert_eq!(parsed("p(0)>=-1"), (Percentile(0.0), Operator::Ge, -1.0));
        assert_eq!(parsed("p(100)<1"), (Percentile(100.0), Operator::Lt, 1.0));
        assert_eq!(Percentile(99.9).to_string(), "p(99.9)");
        assert_eq!(Percentile(95.0).to_string(), "p(95)");
    }

    #[test]
    fn operators_compare_as_k6_does() {
        let t = |e: &str, v: f64| Threshold::parse(e).map(|t| t.passes(v)).ok();
        assert_eq!(t("p(95)<200", 199.9), Some(true));
        assert_eq!(t("p(95)<200", 200.0), Some(false));
        assert_eq!(t("p(95)<=200", 200.0), Some(true));
        assert_eq!(t("rate>0.9", 0.9), Some(false));
        assert_eq!(t("rate>=0.9", 0.9), Some(true));
        assert_eq!(t("value==3", 3.0), Some(true));
        assert_eq!(t("value===3", 4.0), Some(false));
        assert_eq!(t("value!=3", 4.0), Some(true));
    }

    #[test]
    fn bad_expressions_are_errors_naming_the_expression() {
        for (e, why) in [
            ("p(95)", "no operator found"),
            ("p95<200", "unknown aggregation \"p95\""),
            ("p(101)<200", "not between 0 and 100"),
            ("p(-1)<200", "not between 0 and 100"),
            ("p( 95 )<200", "malformed percentile"),
            ("p(abc)<200", "malformed percentile"),
            ("average<200", "unknown aggregation"),
            ("avg<", "is not a number"),
            ("avg<2 00", "is not a number"),
            ("avg<abc", "is not a number"),
            ("avg=200", "no operator found"),
            ("", "no operator found"),
        ] {
            let msg = Threshold::parse(e).err().map(|err| err.to_string()).unwrap_or_default();
            assert!(msg.starts_with(&format!("invalid threshold {e:?}: ")), "{e}: {msg}");
            assert!(msg.contains(why), "{e}: {msg}");
        }
    }

    #[test]
    fn aggregations_must_fit_the_metric_type() {
        let ok = |e: &str, t| Threshold::parse(e).map(|th| th.check_type("m", t).is_ok()).ok();
        assert_eq!(ok("count>1", MetricType::Counter), Some(true));
        assert_eq!(ok("rate>1", MetricType::Counter), Some(true));
        assert_eq!(ok("avg>1", MetricType::Counter), Some(false));
        assert_eq!(ok("value>1", MetricType::Gauge), Some(true));
        assert_eq!(ok("max>1", MetricType::Gauge), Some(false));
        assert_eq!(ok("rate>0.5", MetricType::Rate), Some(true));
        assert_eq!(ok("count>1", MetricType::Rate), Some(false));
        for e in ["avg<1", "min<1", "max<1", "med<1", "p(90)<1"] {
            assert_eq!(ok(e, MetricType::Trend), Some(true), "{e}");
        }
        assert_eq!(ok("rate<1", MetricType::Trend), Some(false));
        let msg = Threshold::parse("count>1").and_then(|t| t.check_type("http_req_duration", MetricType::Trend));
        assert_eq!(
            msg.err().map(|e| e.to_string()).as_deref(),
            Some(
                "invalid threshold \"count>1\" on http_req_duration: count is not an aggregation of a trend metric \
                 (a trend has avg, min, max, med, p(N))"
            )
        );
    }

    #[test]
    fn submetric_names_parse_like_k6() {
        let n = MetricName::parse("http_req_duration{scenario:buy}").ok();
        assert_eq!(n.as_ref().map(|n| n.metric.as_str()), Some("http_req_duration"));
        assert_eq!(n.map(|n| n.tags), Some(vec![("scenario".into(), "buy".into())]));
        let n = MetricName::parse("http_req_duration{ name:\"a b\", status:'200' }").ok();
        assert_eq!(n.map(|n| n.tags), Some(vec![("name".into(), "a b".into()), ("status".into(), "200".into())]));
        let n = MetricName::parse("checks").ok();
        assert_eq!(n.map(|n| n.is_submetric()), Some(false));
        for bad in ["m{a:b", "m}a:b{", "m{a:b}x", "m{a}", "m{a:}", "{a:b}"] {
            assert!(MetricName::parse(bad).is_err(), "{bad}");
        }
    }
}

/// Splits `METRIC:EXPRESSION` (`http_req_duration{scenario:buy}:max<1000`) at the first `:`
/// outside braces, the way thresholds are given on a command line or in a query string.
pub fn split_metric_expression(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ':' if depth == 0 => return Some((&s[..i], &s[i + 1..])),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod split_tests {
    use super::split_metric_expression as split;

    #[test]
    fn splits_at_the_first_colon_outside_braces() {
        assert_eq!(split("http_req_duration:p(95)<200"), Some(("http_req_duration", "p(95)<200")));
        assert_eq!(
            split("http_req_duration{scenario:buy}:max<1000"),
            Some(("http_req_duration{scenario:buy}", "max<1000"))
        );
        assert_eq!(split("nothing"), None);
    }
}
