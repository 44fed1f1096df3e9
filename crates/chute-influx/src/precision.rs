//! Timestamp precision of a write (the `precision` URL parameter) and its conversion to nanoseconds.

use std::fmt;

/// Timestamp precision of a write (the `precision` URL parameter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// Nanoseconds (the default when no precision is given).
    #[default]
    Nanoseconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Minutes (InfluxDB v1 only).
    Minutes,
    /// Hours (InfluxDB v1 only).
    Hours,
}

/// A `precision` parameter that is not one of the accepted values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown precision \"{0}\" (expected one of \"\", ns, us, ms, s; the InfluxDB v1 /write endpoint also accepts n, u, µ, µs, m, h)"
)]
pub struct UnknownPrecision(pub String);

impl Precision {
    /// InfluxDB v1 `/write` values: "" (= ns), "n", "ns", "u", "us", "µ", "µs", "ms", "s", "m", "h".
    pub fn from_v1(s: &str) -> Result<Precision, UnknownPrecision> {
        match s {
            "" | "n" | "ns" => Ok(Precision::Nanoseconds),
            "u" | "us" | "µ" | "µs" => Ok(Precision::Microseconds),
            "ms" => Ok(Precision::Milliseconds),
            "s" => Ok(Precision::Seconds),
            "m" => Ok(Precision::Minutes),
            "h" => Ok(Precision::Hours),
            _ => Err(UnknownPrecision(s.to_owned())),
        }
    }

    /// InfluxDB v2 `/api/v2/write` values: "" (= ns), "ns", "us", "ms", "s".
    pub fn from_v2(s: &str) -> Result<Precision, UnknownPrecision> {
        match s {
            "" | "ns" => Ok(Precision::Nanoseconds),
            "us" => Ok(Precision::Microseconds),
            "ms" => Ok(Precision::Milliseconds),
            "s" => Ok(Precision::Seconds),
            _ => Err(UnknownPrecision(s.to_owned())),
        }
    }

    /// How many nanoseconds one unit of this precision is.
    pub const fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60 * 1_000_000_000,
            Precision::Hours => 3_600 * 1_000_000_000,
        }
    }

    /// Converts a timestamp in this precision to nanoseconds since the epoch (None on overflow).
    pub fn to_nanos(self, ts: i64) -> Option<i64> {
        ts.checked_mul(self.nanos_per_unit())
    }

    /// The canonical short name ("ns", "us", "ms", "s", "m", "h").
    pub const fn as_str(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "ns",
            Precision::Microseconds => "us",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
            Precision::Minutes => "m",
            Precision::Hours => "h",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
