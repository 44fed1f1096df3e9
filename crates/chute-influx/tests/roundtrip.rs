//! Round trip: random points with awkward names and strings, written with InfluxDB's
//! escaping rules, parse back to the same points.

use std::borrow::Cow;
use std::fmt::Write;

use chute_influx::{FieldValue, Point, Precision, parse};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A non-empty string of awkward characters (no newline, no tab, no backslash unless
    /// `backslash`: a name ending in a backslash cannot be written in line protocol).
    fn text(&mut self, backslash: bool) -> String {
        let alphabet: &[char] =
            &['a', 'b', 'z', '0', '9', '_', '-', ',', '=', ' ', '"', '#', '.', ':', '/', 'é', '😀', '\\'];
        let usable = if backslash { alphabet.len() } else { alphabet.len() - 1 };
        let len = 1 + self.below(12);
        (0..len).map(|_| alphabet[self.below(usable)]).collect()
    }
}

fn escape(s: &str, special: &[char]) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn write_point(p: &Point<'_>, out: &mut String) {
    out.push_str(&escape(&p.measurement, &[',', ' ']));
    for (k, v) in &p.tags {
        write!(out, ",{}={}", escape(k, &[',', '=', ' ']), escape(v, &[',', '=', ' '])).unwrap();
    }
    for (i, (k, v)) in p.fields.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(&escape(k, &[',', '=', ' ']));
        out.push('=');
        match v {
            FieldValue::Float(f) => write!(out, "{f:?}").unwrap(),
            FieldValue::Integer(n) => write!(out, "{n}i").unwrap(),
            FieldValue::UInteger(n) => write!(out, "{n}u").unwrap(),
            FieldValue::String(s) => write!(out, "\"{}\"", escape(s, &['"', '\\'])).unwrap(),
            FieldValue::Boolean(b) => write!(out, "{b}").unwrap(),
        }
    }
    if let Some(ts) = p.timestamp_ns {
        write!(out, " {ts}").unwrap();
    }
}

fn random_point(rng: &mut Rng) -> Point<'static> {
    // A measurement must not start with '#' (a comment) or a space (skipped as indentation).
    let mut measurement = rng.text(false);
    if measurement.starts_with(['#', ' ']) {
        measurement.insert(0, 'm');
    }
    let tags = (0..rng.below(5)).map(|_| (Cow::Owned(rng.text(false)), Cow::Owned(rng.text(false)))).collect();
    let fields = (0..1 + rng.below(4))
        .map(|_| {
            let value = match rng.below(5) {
                0 => {
                    let f = f64::from_bits(rng.next());
                    FieldValue::Float(if f.is_finite() { f } else { 0.25 })
                }
                1 => FieldValue::Integer(rng.next() as i64),
                2 => FieldValue::UInteger(rng.next()),
                3 => FieldValue::String(Cow::Owned(if rng.below(4) == 0 { String::new() } else { rng.text(true) })),
                _ => FieldValue::Boolean(rng.below(2) == 0),
            };
            (Cow::Owned(rng.text(false)), value)
        })
        .collect();
    let timestamp_ns = (rng.below(4) != 0).then(|| rng.next() as i64);
    Point { measurement: Cow::Owned(measurement), tags, fields, timestamp_ns }
}

#[test]
fn random_points_round_trip() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    for _ in 0..200 {
        let points: Vec<Point<'static>> = (0..50).map(|_| random_point(&mut rng)).collect();
        let mut body = String::new();
        for p in &points {
            write_point(p, &mut body);
            body.push_str(if rng.below(2) == 0 { "\n" } else { "\r\n" });
        }
        let parsed = parse(body.as_bytes(), Precision::Nanoseconds).unwrap_or_else(|e| panic!("{e}\n{body}"));
        assert_eq!(parsed, points, "{body}");
    }
}
