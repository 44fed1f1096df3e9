//! AnyValue → string, exactly as the collector's `pcommon.Value.AsString()` (which the ClickHouse
//! exporter uses for attributes and log bodies): strings as they are, integers and booleans as
//! text, doubles as Go's `encoding/json` prints them, bytes as standard base64, arrays and maps
//! as Go's `json.Marshal` of their raw values (map keys sorted, HTML characters escaped).

use crate::proto::any_value::Value;
use crate::proto::{AnyValue, KeyValue};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::fmt::Write;

/// Appends the text of `v` (None: an empty value) to `out`.
pub fn format_value(v: Option<&AnyValue>, out: &mut String) {
    let scalar = match v.and_then(|v| v.value.as_ref()) {
        None => Scalar::Empty,
        Some(Value::StringValue(s)) => Scalar::Str(s),
        Some(Value::BoolValue(b)) => Scalar::Bool(*b),
        Some(Value::IntValue(i)) => Scalar::Int(*i),
        Some(Value::DoubleValue(d)) => Scalar::Double(*d),
        Some(Value::BytesValue(b)) => Scalar::Bytes(b),
        Some(Value::ArrayValue(a)) => {
            let start = out.len();
            if !json_array(&a.values, out) {
                // json.Marshal fails on NaN or infinities: AsString gives "".
                out.truncate(start);
            }
            return;
        }
        Some(Value::KvlistValue(m)) => {
            let start = out.len();
            if !json_map(&m.values, out) {
                out.truncate(start);
            }
            return;
        }
    };
    scalar.write_to(out);
}

/// An `AnyValue` that is not an array or a map, borrowed (from prost's message or, in the wire
/// reader, from the request's bytes).
#[derive(Clone, Copy)]
pub(crate) enum Scalar<'a> {
    Empty,
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
}

impl<'a> Scalar<'a> {
    /// Appends the value's text to `out`.
    pub(crate) fn write_to(self, out: &mut String) {
        match self {
            Scalar::Empty => {}
            Scalar::Str(s) => out.push_str(s),
            Scalar::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Scalar::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Scalar::Double(d) => format_double(d, out),
            Scalar::Bytes(b) => STANDARD.encode_string(b, out),
        }
    }

    /// The value's text: a string borrowed, anything else written into `buf` (cleared first).
    pub(crate) fn text<'s>(self, buf: &'s mut String) -> &'s str
    where
        'a: 's,
    {
        buf.clear();
        if let Scalar::Str(s) = self {
            return s;
        }
        self.write_to(buf);
        buf
    }
}

/// The text of a double value: Go's `encoding/json` form when finite, and what pcommon prints
/// (`json.Marshal`'s error) when not.
fn format_double(d: f64, out: &mut String) {
    if d.is_finite() {
        go_float(d, out);
    } else {
        out.push_str("json: unsupported value: ");
        out.push_str(if d.is_nan() {
            "NaN"
        } else if d > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        });
    }
}

/// A finite double as Go's `encoding/json` (and `pcommon`'s `float64AsString`) prints it: the
/// shortest representation that round-trips, in plain notation unless the magnitude is below
/// 1e-6 or at least 1e21, then as `1e-7` / `1.5e+21`.
pub fn go_float(f: f64, out: &mut String) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let start = out.len();
        let _ = write!(out, "{f:e}");
        // Rust prints "1.5e21" and "1e-7"; Go prints "1.5e+21" and "1e-7".
        if let Some(e) = out[start..].find('e') {
            let at = start + e + 1;
            if out.as_bytes().get(at) != Some(&b'-') {
                out.insert(at, '+');
            }
        }
    } else {
        let _ = write!(out, "{f}");
    }
}

/// JSON of an AnyValue as Go marshals `Value.AsRaw()`. False when a double is not finite
/// (json.Marshal refuses those).
fn json_value(v: Option<&AnyValue>, out: &mut String) -> bool {
    match v.and_then(|v| v.value.as_ref()) {
        None => out.push_str("null"),
        Some(Value::StringValue(s)) => json_string(s, out),
        Some(Value::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Value::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Value::DoubleValue(d)) => {
            if !d.is_finite() {
                return false;
            }
            go_float(*d, out);
        }
        Some(Value::BytesValue(b)) => {
            out.push('"');
            STANDARD.encode_string(b, out);
            out.push('"');
        }
        Some(Value::ArrayValue(a)) => return json_array(&a.values, out),
        Some(Value::KvlistValue(m)) => return json_map(&m.values, out),
    }
    true
}

fn json_array(values: &[AnyValue], out: &mut String) -> bool {
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if !json_value(Some(v), out) {
            return false;
        }
    }
    out.push(']');
    true
}

/// A map as Go marshals `map[string]any`: keys sorted; of repeated keys the last one wins (it
/// overwrote the others when the map was built).
fn json_map(values: &[KeyValue], out: &mut String) -> bool {
    let mut order: Vec<usize> = (0..values.len()).collect();
    // Stable sort by key, then keep the last of equal keys.
    order.sort_by(|a, b| values[*a].key.cmp(&values[*b].key));
    out.push('{');
    let mut first = true;
    for (n, &i) in order.iter().enumerate() {
        if order.get(n + 1).is_some_and(|&j| values[j].key == values[i].key) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        json_string(&values[i].key, out);
        out.push(':');
        if !json_value(values[i].value.as_ref(), out) {
            return false;
        }
    }
    out.push('}');
    true
}

/// A JSON string as Go's encoding/json writes it (HTML characters and U+2028/U+2029 escaped).
pub fn json_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let esc: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\u{2028}' => Some("\\u2028"),
            '\u{2029}' => Some("\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Cuts `s` to at most `max` bytes at a character boundary; true when it cut.
pub fn truncate_at_char(s: &mut String, max: usize) -> bool {
    let keep = prefix_within(s, max).len();
    let cut = keep < s.len();
    s.truncate(keep);
    cut
}

/// The longest prefix of `s` of at most `max` bytes that ends at a character boundary.
pub fn prefix_within(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ArrayValue, KeyValueList};

    fn v(x: Value) -> AnyValue {
        AnyValue { value: Some(x) }
    }

    fn text(x: Value) -> String {
        let mut s = String::new();
        format_value(Some(&v(x)), &mut s);
        s
    }

    fn kv(k: &str, x: Value) -> KeyValue {
        KeyValue { key: k.into(), value: Some(v(x)) }
    }

    #[test]
    fn scalars_print_as_go_prints_them() {
        assert_eq!(text(Value::StringValue("a<b".into())), "a<b", "strings are not escaped");
        assert_eq!(text(Value::BoolValue(true)), "true");
        assert_eq!(text(Value::IntValue(-42)), "-42");
        assert_eq!(text(Value::DoubleValue(1.5)), "1.5");
        assert_eq!(text(Value::DoubleValue(100.0)), "100");
        assert_eq!(text(Value::DoubleValue(0.1)), "0.1");
        assert_eq!(text(Value::DoubleValue(1e20)), "100000000000000000000");
        assert_eq!(text(Value::DoubleValue(1.5e21)), "1.5e+21");
        assert_eq!(text(Value::DoubleValue(1e-7)), "1e-7");
        assert_eq!(text(Value::DoubleValue(-2.5e-10)), "-2.5e-10");
        assert_eq!(text(Value::DoubleValue(0.000001)), "0.000001");
        assert_eq!(text(Value::DoubleValue(f64::NAN)), "json: unsupported value: NaN");
        assert_eq!(text(Value::DoubleValue(f64::NEG_INFINITY)), "json: unsupported value: -Inf");
        assert_eq!(text(Value::BytesValue(vec![1, 2, 255])), "AQL/");
        let mut s = String::new();
        format_value(None, &mut s);
        assert_eq!(s, "");
    }

    #[test]
    fn arrays_and_maps_are_go_json_with_sorted_keys() {
        let arr = Value::ArrayValue(ArrayValue {
            values: vec![
                v(Value::StringValue("x\"<>&\n\u{1}".into())),
                v(Value::IntValue(3)),
                v(Value::DoubleValue(2.0)),
                v(Value::BoolValue(false)),
                v(Value::BytesValue(vec![0])),
                AnyValue { value: None },
            ],
        });
        assert_eq!(text(arr), r#"["x\"\u003c\u003e\u0026\n\u0001",3,2,false,"AA==",null]"#);
        let map = Value::KvlistValue(KeyValueList {
            values: vec![
                kv("z", Value::IntValue(1)),
                kv("a", Value::StringValue("first".into())),
                kv("m", Value::ArrayValue(ArrayValue { values: vec![] })),
                kv("a", Value::StringValue("last".into())),
            ],
        });
        assert_eq!(text(map), r#"{"a":"last","m":[],"z":1}"#);
        let bad = Value::ArrayValue(ArrayValue { values: vec![v(Value::DoubleValue(f64::NAN))] });
        assert_eq!(text(bad), "", "json.Marshal fails, AsString gives the empty string");
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        let mut s = "aé€".to_string(); // 1 + 2 + 3 bytes
        assert!(truncate_at_char(&mut s, 4));
        assert_eq!(s, "aé");
        assert!(!truncate_at_char(&mut s, 10));
        let mut s = "€€".to_string();
        assert!(truncate_at_char(&mut s, 2));
        assert_eq!(s, "");
    }
}
