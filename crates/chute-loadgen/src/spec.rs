//! What a load run is asked to do: durations, load profiles (scenarios and custom stages) and
//! thresholds, parsed from the command line's text.

use crate::LoadgenError;
use std::time::Duration;

/// Parses `250ms`, `20s`, `1.5s`, `2m`, `1h`, `500us` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, LoadgenError> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 =
        num.parse().map_err(|_| LoadgenError::Spec(format!("{s:?} is not a duration (e.g. 20s, 500ms, 2m)")))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        other => {
            return Err(LoadgenError::Spec(format!("{s:?}: unknown duration unit {other:?} (use us, ms, s, m, h)")));
        }
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(LoadgenError::Spec(format!("{s:?} is not a duration")));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// One stage of a profile: over `duration`, the level moves linearly to `target` (a duration
/// of zero is a jump).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Stage {
    pub duration_s: f64,
    pub target: f64,
}

/// The load level over time: requests per second in the open model, connections in the closed
/// model. Piecewise linear, like k6's ramping executors.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Profile {
    pub start: f64,
    pub stages: Vec<Stage>,
}

/// The named load shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    /// Constant at the level for the whole duration.
    Baseline,
    /// Climbs to the level in four steps (each: a ramp over 1/8 of the duration, then a hold).
    Stress,
    /// The level, a burst at `spike_factor` times the level for 1/10 of the duration, the level.
    Spike,
    /// Constant at the level, meant for long durations (drift, memory, merges).
    Soak,
    /// `--stages`.
    Custom,
}

impl std::str::FromStr for Scenario {
    type Err = LoadgenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "baseline" => Ok(Scenario::Baseline),
            "stress" => Ok(Scenario::Stress),
            "spike" => Ok(Scenario::Spike),
            "soak" => Ok(Scenario::Soak),
            "custom" => Ok(Scenario::Custom),
            other => Err(LoadgenError::Spec(format!(
                "unknown scenario {other:?} (baseline, stress, spike, soak; or --stages)"
            ))),
        }
    }
}

impl Scenario {
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Baseline => "baseline",
            Scenario::Stress => "stress",
            Scenario::Spike => "spike",
            Scenario::Soak => "soak",
            Scenario::Custom => "custom",
        }
    }

    /// The profile of this scenario at `level` over `duration`.
    pub fn profile(self, level: f64, duration: Duration, spike_factor: f64) -> Profile {
        let d = duration.as_secs_f64();
        let st = |duration_s: f64, target: f64| Stage { duration_s, target };
        match self {
            Scenario::Baseline | Scenario::Soak | Scenario::Custom => {
                Profile { start: level, stages: vec![st(d, level)] }
            }
            Scenario::Stress => {
                let mut stages = Vec::new();
                for step in 1..=4 {
                    let l = level * step as f64 / 4.0;
                    stages.push(st(d / 8.0, l));
                    stages.push(st(d / 8.0, l));
                }
                Profile { start: 0.0, stages }
            }
            Scenario::Spike => Profile {
                start: level,
                stages: vec![
                    st(d * 0.45, level),
                    st(0.0, level * spike_factor),
                    st(d * 0.10, level * spike_factor),
                    st(0.0, level),
                    st(d * 0.45, level),
                ],
            },
        }
    }
}

/// Parses `--stages "10s:2000,20s:8000"`: each stage ramps linearly from the previous level
/// (the first from its own target, as k6's `startRate`, unless `start` is given) to its target.
pub fn parse_stages(s: &str, start: Option<f64>) -> Result<Profile, LoadgenError> {
    let mut stages = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (d, t) = part
            .split_once(':')
            .ok_or_else(|| LoadgenError::Spec(format!("stage {part:?}: expected DURATION:LEVEL, e.g. 10s:2000")))?;
        let duration = parse_duration(d)?;
        let target: f64 = t
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| LoadgenError::Spec(format!("stage {part:?}: {t:?} is not a level (a number ≥ 0)")))?;
        stages.push(Stage { duration_s: duration.as_secs_f64(), target });
    }
    if stages.is_empty() {
        return Err(LoadgenError::Spec(format!("--stages {s:?}: no stages")));
    }
    let start = start.unwrap_or(stages[0].target);
    Ok(Profile { start, stages })
}

impl Profile {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.stages.iter().map(|s| s.duration_s).sum())
    }

    pub fn max_level(&self) -> f64 {
        self.stages.iter().map(|s| s.target).fold(self.start, f64::max)
    }

    /// The level at `t` seconds (after the end: the last target).
    pub fn level_at(&self, t: f64) -> f64 {
        let mut from = self.start;
        let mut t0 = 0.0;
        for s in &self.stages {
            if t < t0 + s.duration_s {
                let f = (t - t0) / s.duration_s;
                return from + (s.target - from) * f;
            }
            t0 += s.duration_s;
            from = s.target;
        }
        from
    }

    /// The time (seconds from the start) of arrival number `k` (0-based) when the level is a
    /// rate per second: the `t` where the integral of the rate from 0 reaches `k`. None when
    /// the profile ends first.
    pub fn arrival_time(&self, k: u64) -> Option<f64> {
        let mut want = k as f64;
        let mut from = self.start;
        let mut t0 = 0.0;
        for s in &self.stages {
            let d = s.duration_s;
            let (a, b) = if d > 0.0 { (from, (s.target - from) / d) } else { (from, 0.0) };
            let area = a * d + b * d * d / 2.0;
            if d > 0.0 && want < area {
                let tau = if b.abs() < 1e-12 {
                    want / a
                } else {
                    let disc = (a * a + 2.0 * b * want).max(0.0);
                    (-a + disc.sqrt()) / b
                };
                return Some(t0 + tau.clamp(0.0, d));
            }
            want -= area;
            t0 += d;
            from = s.target;
        }
        None
    }

    /// The number of arrivals the profile asks for (rate per second integrated).
    pub fn total_arrivals(&self) -> f64 {
        let mut from = self.start;
        let mut sum = 0.0;
        for s in &self.stages {
            sum += (from + s.target) / 2.0 * s.duration_s;
            from = s.target;
        }
        sum
    }
}

/// A figure of a finished run that a threshold can judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    AckP50,
    AckP90,
    AckP99,
    AckMax,
    VisibilityP50,
    VisibilityP99,
    RowsPerS,
    ErrorRate,
    RejectedRate,
    OverflowRate,
}

impl Figure {
    fn parse(s: &str) -> Option<Figure> {
        Some(match s {
            "ack_p50" => Figure::AckP50,
            "ack_p90" => Figure::AckP90,
            "ack_p99" => Figure::AckP99,
            "ack_max" => Figure::AckMax,
            "visibility_p50" => Figure::VisibilityP50,
            "visibility_p99" => Figure::VisibilityP99,
            "rows_per_s" => Figure::RowsPerS,
            "error_rate" => Figure::ErrorRate,
            "rejected_rate" => Figure::RejectedRate,
            "overflow_rate" => Figure::OverflowRate,
            _ => return None,
        })
    }

    /// Latencies are compared in milliseconds.
    pub fn is_latency(self) -> bool {
        matches!(
            self,
            Figure::AckP50
                | Figure::AckP90
                | Figure::AckP99
                | Figure::AckMax
                | Figure::VisibilityP50
                | Figure::VisibilityP99
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
        }
    }
}

/// `ack_p99<25ms`, `rows_per_s>100000`, `error_rate<0.01`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Threshold {
    pub expression: String,
    pub figure: Figure,
    pub op: Op,
    /// Milliseconds for latencies; the plain number otherwise.
    pub limit: f64,
}

impl std::str::FromStr for Threshold {
    type Err = LoadgenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            LoadgenError::Spec(format!(
                "threshold {s:?}: {why} (e.g. 'ack_p99<25ms', 'rows_per_s>100000', 'error_rate<0.01'; figures: \
                 ack_p50, ack_p90, ack_p99, ack_max, visibility_p50, visibility_p99, rows_per_s, error_rate, \
                 rejected_rate, overflow_rate)"
            ))
        };
        let expr: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let at = expr.find(['<', '>']).ok_or_else(|| bad("no comparison"))?;
        let (name, rest) = expr.split_at(at);
        let (op, value) = if let Some(v) = rest.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = rest.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = rest.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            (Op::Gt, &rest[1..])
        };
        let figure = Figure::parse(name).ok_or_else(|| bad(&format!("unknown figure {name:?}")))?;
        let limit = if figure.is_latency() {
            let has_unit = value.ends_with(|c: char| c.is_ascii_alphabetic());
            let d = if has_unit { parse_duration(value) } else { parse_duration(&format!("{value}ms")) }
                .map_err(|_| bad(&format!("{value:?} is not a latency")))?;
            d.as_secs_f64() * 1e3
        } else {
            value.parse::<f64>().map_err(|_| bad(&format!("{value:?} is not a number")))?
        };
        Ok(Threshold { expression: expr, figure, op, limit })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 days").is_err());
    }

    #[test]
    fn stages_ramp_linearly_and_arrivals_follow_the_rate() {
        let p = parse_stages("10s:100,10s:300", None).unwrap();
        assert_eq!(p.duration(), Duration::from_secs(20));
        assert_eq!(p.level_at(5.0), 100.0);
        assert_eq!(p.level_at(15.0), 200.0);
        // 1000 in the first stage, (100+300)/2*10 = 2000 in the second.
        assert!((p.total_arrivals() - 3000.0).abs() < 1e-9);
        assert!((p.arrival_time(500).unwrap() - 5.0).abs() < 1e-9);
        // Arrival 2000 is 1000 into the ramp: 100 t + 10 t² = 1000.
        let t = (-10.0 + 500f64.sqrt()) / 2.0;
        assert!((p.arrival_time(2000).unwrap() - (10.0 + t)).abs() < 1e-9);
        assert!(p.arrival_time(3000).is_none());
        assert!(parse_stages("10s", None).is_err());
        assert!(parse_stages("10s:-1", None).is_err());
    }

    #[test]
    fn scenarios_have_their_shapes() {
        let d = Duration::from_secs(80);
        let stress = Scenario::Stress.profile(400.0, d, 5.0);
        assert_eq!(stress.duration(), d);
        assert_eq!(stress.level_at(15.0), 100.0);
        assert_eq!(stress.level_at(79.0), 400.0);
        assert_eq!(stress.max_level(), 400.0);
        let spike = Scenario::Spike.profile(100.0, d, 5.0);
        assert_eq!(spike.duration(), d);
        assert_eq!(spike.level_at(10.0), 100.0);
        assert_eq!(spike.level_at(40.0), 500.0);
        assert_eq!(spike.level_at(60.0), 100.0);
        assert!((spike.total_arrivals() - (72.0 * 100.0 + 8.0 * 500.0)).abs() < 1e-6);
        let base = Scenario::Baseline.profile(10.0, Duration::from_secs(3), 5.0);
        let arrivals: Vec<f64> = (0..30).map(|k| base.arrival_time(k).unwrap()).collect();
        assert!((arrivals[29] - 2.9).abs() < 1e-9);
        assert!(base.arrival_time(30).is_none());
    }

    #[test]
    fn thresholds_parse_latencies_in_ms_and_plain_numbers() {
        let t: Threshold = "ack_p99<25ms".parse().unwrap();
        assert_eq!((t.figure, t.op, t.limit), (Figure::AckP99, Op::Lt, 25.0));
        let t: Threshold = "ack_p99 < 0.001ms".parse().unwrap();
        assert!((t.limit - 0.001).abs() < 1e-12);
        let t: Threshold = "visibility_p99<=2s".parse().unwrap();
        assert_eq!((t.op, t.limit), (Op::Le, 2000.0));
        let t: Threshold = "rows_per_s>100000".parse().unwrap();
        assert_eq!((t.figure, t.op, t.limit), (Figure::RowsPerS, Op::Gt, 100000.0));
        let t: Threshold = "error_rate<0.01".parse().unwrap();
        assert_eq!(t.limit, 0.01);
        assert!("ack_p98<1ms".parse::<Threshold>().is_err());
        assert!("rows_per_s".parse::<Threshold>().is_err());
        assert!("rows_per_s>lots".parse::<Threshold>().is_err());
    }
}
