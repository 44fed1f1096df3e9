//! Parsing one line of line protocol into a [`Point`]: the byte-level scanner for
//! measurement, tags, fields and timestamp.
//!
//! The scanner works on bytes of an already UTF-8-validated line. Every delimiter it stops at
//! is ASCII, so every slice it takes is on a character boundary.

use std::borrow::Cow;

use crate::number;
use crate::point::{FieldValue, Point};
use crate::precision::Precision;

/// Where (0-based byte offset in the line) and why a line failed to parse.
#[derive(Debug)]
pub(crate) struct LineError {
    pub offset: usize,
    pub reason: String,
}

type LineResult<T> = Result<T, LineError>;

fn err<T>(offset: usize, reason: String) -> LineResult<T> {
    Err(LineError { offset, reason })
}

/// Capacity guesses carried from one line to the next: the most tags and fields seen so far
/// in the body, so the vectors are allocated once and never grow.
#[derive(Default)]
pub(crate) struct Hints {
    tags: usize,
    fields: usize,
}

/// Byte classes, one bit each, so scanners can stop on any set of them.
const COMMA: u8 = 1; // ','
const SPACE: u8 = 2; // ' '
const EQUALS: u8 = 4; // '='
const BACKSLASH: u8 = 8; // '\\'
const QUOTE: u8 = 16; // '"'

const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b',' as usize] = COMMA;
    t[b' ' as usize] = SPACE;
    t[b'=' as usize] = EQUALS;
    t[b'\\' as usize] = BACKSLASH;
    t[b'"' as usize] = QUOTE;
    t
};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that equals `byte`, exact up to and including the
/// lowest match (bits above the lowest match may be false positives).
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (LO * u64::from(byte));
    x.wrapping_sub(LO) & !x & HI
}

/// Marks (as above) the bytes of `word` whose class is in `classes`.
#[inline(always)]
fn class_bits(word: u64, classes: u8) -> u64 {
    let mut m = 0;
    if classes & COMMA != 0 {
        m |= bytes_equal(word, b',');
    }
    if classes & SPACE != 0 {
        m |= bytes_equal(word, b' ');
    }
    if classes & EQUALS != 0 {
        m |= bytes_equal(word, b'=');
    }
    if classes & BACKSLASH != 0 {
        m |= bytes_equal(word, b'\\');
    }
    if classes & QUOTE != 0 {
        m |= bytes_equal(word, b'"');
    }
    m
}

/// The offset of the first byte at or after `i` whose class is in `classes`, or a value
/// `>= b.len()` if there is none. Eight bytes at a time, then byte by byte.
#[inline(always)]
fn find_class(b: &[u8], mut i: usize, classes: u8) -> usize {
    while let Some(chunk) = b.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        let m = class_bits(u64::from_le_bytes(*chunk), classes);
        if m != 0 {
            // The lowest mark is exact, so this byte really is in `classes`.
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if CLASSES[c as usize] & classes != 0 {
            break;
        }
        i += 1;
    }
    i
}

/// Scans from `i` to the first byte whose class is in `stop` and that is not escaped by a
/// backslash. Returns the end (at most `b.len()`) and whether a backslash was seen.
#[inline(always)]
fn scan(b: &[u8], mut i: usize, stop: u8) -> (usize, bool) {
    let mut escaped = false;
    loop {
        i = find_class(b, i, stop | BACKSLASH);
        match b.get(i) {
            // A backslash always pairs with the next byte, whatever it is.
            Some(b'\\') => {
                escaped = true;
                i += 2;
            }
            Some(_) => return (i, escaped),
            None => return (b.len(), escaped),
        }
    }
}

/// Removes the backslash of `\c` for every `c` in `special`; `\` before anything else stays
/// (together with the character after it), as InfluxDB does. Borrows when nothing was escaped.
#[inline(always)]
fn unescape<'a>(s: &'a str, escaped: bool, special: &[u8]) -> Cow<'a, str> {
    if escaped { Cow::Owned(unescape_owned(s, special)) } else { Cow::Borrowed(s) }
}

#[inline(never)]
fn unescape_owned(s: &str, special: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let mut chars = after.chars();
        match chars.next() {
            Some(c) if c.is_ascii() && special.contains(&(c as u8)) => out.push(c),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
    out
}

const MEASUREMENT_ESCAPES: &[u8] = b", ";
const KEY_ESCAPES: &[u8] = b",= ";
const STRING_ESCAPES: &[u8] = b"\"\\";

/// Skips spaces and tabs.
#[inline(always)]
fn skip_whitespace(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// Shortens a token quoted in an error message.
fn shown(s: &str) -> Cow<'_, str> {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => Cow::Owned(format!("{}...", &s[..cut])),
        None => Cow::Borrowed(s),
    }
}

/// Parses one non-blank, non-comment line (without its line ending); `start` is the offset of
/// the first non-whitespace byte.
pub(crate) fn parse_line<'a>(
    line: &'a str,
    start: usize,
    precision: Precision,
    hints: &mut Hints,
) -> LineResult<Point<'a>> {
    let b = line.as_bytes();

    // Measurement: up to the first unescaped ',' or ' '.
    let (end, escaped) = scan(b, start, COMMA | SPACE);
    if end == start {
        return err(start, "missing measurement".to_owned());
    }
    let measurement = unescape(&line[start..end], escaped, MEASUREMENT_ESCAPES);
    let mut i = end;

    // Tags: ",key=value" repeated.
    let mut tags = Vec::new();
    if b.get(i) == Some(&b',') {
        tags.reserve_exact(hints.tags.max(1));
        loop {
            let key_start = i + 1;
            let (key_end, key_escaped) = scan(b, key_start, COMMA | SPACE | EQUALS);
            let key = &line[key_start..key_end];
            if key.is_empty() {
                return err(key_start, "missing tag key".to_owned());
            }
            if b.get(key_end) != Some(&b'=') {
                return err(key_end, format!("missing \"=\" after tag key \"{}\"", shown(key)));
            }
            let value_start = key_end + 1;
            let (value_end, value_escaped) = scan(b, value_start, COMMA | SPACE | EQUALS);
            if value_end == value_start {
                return err(value_start, format!("missing value for tag \"{}\"", shown(key)));
            }
            if b.get(value_end) == Some(&b'=') {
                return err(value_end, format!("unescaped \"=\" in value of tag \"{}\"", shown(key)));
            }
            let value = &line[value_start..value_end];
            if key_escaped || value_escaped {
                tags.push((unescape(key, key_escaped, KEY_ESCAPES), unescape(value, value_escaped, KEY_ESCAPES)));
            } else {
                tags.push((Cow::Borrowed(key), Cow::Borrowed(value)));
            }
            i = value_end;
            if b.get(i) != Some(&b',') {
                break;
            }
        }
        hints.tags = hints.tags.max(tags.len());
    }

    // Fields: at least one "key=value", comma-separated, after whitespace.
    i = skip_whitespace(b, i);
    if i >= b.len() {
        return err(i, "missing fields".to_owned());
    }
    let mut fields = Vec::with_capacity(hints.fields.max(1));
    loop {
        let key_start = i;
        let (key_end, key_escaped) = scan(b, key_start, COMMA | SPACE | EQUALS);
        let key = &line[key_start..key_end];
        if key.is_empty() {
            return err(key_start, "missing field key".to_owned());
        }
        if b.get(key_end) != Some(&b'=') {
            return err(key_end, format!("missing \"=\" after field key \"{}\"", shown(key)));
        }
        let (value, value_end) = parse_field_value(line, key_end + 1, key)?;
        fields.push((unescape(key, key_escaped, KEY_ESCAPES), value));
        i = value_end;
        if b.get(i) == Some(&b',') {
            i += 1;
        } else {
            break;
        }
    }
    hints.fields = hints.fields.max(fields.len());

    // Timestamp: optional, after whitespace; only whitespace may follow it.
    i = skip_whitespace(b, i);
    let timestamp_ns = if i >= b.len() {
        None
    } else {
        let ts_start = i;
        while let Some(&c) = b.get(i) {
            if c == b' ' || c == b'\t' {
                break;
            }
            i += 1;
        }
        let text = &line[ts_start..i];
        let ts = match number::parse_i64(text.as_bytes()) {
            Ok(ts) => ts,
            Err(number::IntError::Invalid) => {
                return err(ts_start, format!("invalid timestamp \"{}\"", shown(text)));
            }
            Err(number::IntError::OutOfRange) => {
                return err(ts_start, format!("timestamp \"{}\" is out of range", shown(text)));
            }
        };
        let Some(ns) = precision.to_nanos(ts) else {
            return err(
                ts_start,
                format!("timestamp \"{text}\" in precision {precision} overflows nanoseconds since the epoch"),
            );
        };
        i = skip_whitespace(b, i);
        if i < b.len() {
            return err(i, "unexpected text after the timestamp".to_owned());
        }
        Some(ns)
    };

    Ok(Point { measurement, tags, fields, timestamp_ns })
}

/// Parses the field value starting at `start`; returns it and the offset just after it
/// (at a ',', a ' ' or the end of the line).
#[inline]
fn parse_field_value<'a>(line: &'a str, start: usize, key: &str) -> LineResult<(FieldValue<'a>, usize)> {
    let b = line.as_bytes();
    if b.get(start) == Some(&b'"') {
        return parse_string_value(line, start, key);
    }
    let end = find_class(b, start, COMMA | SPACE).min(b.len());
    let text = &b[start..end];
    let invalid = |kind: &str, detail: &str| {
        err(
            start,
            format!("invalid {kind}field value \"{}\" for field \"{}\"{detail}", shown(&line[start..end]), shown(key)),
        )
    };
    let value = match text {
        [] => return err(start, format!("missing value for field \"{}\"", shown(key))),
        b"t" | b"T" | b"true" | b"True" | b"TRUE" => FieldValue::Boolean(true),
        b"f" | b"F" | b"false" | b"False" | b"FALSE" => FieldValue::Boolean(false),
        [b't' | b'T' | b'f' | b'F', ..] => return invalid("boolean ", ""),
        [digits @ .., b'i'] => match number::parse_i64(digits) {
            Ok(v) => FieldValue::Integer(v),
            Err(number::IntError::Invalid) => return invalid("integer ", ""),
            Err(number::IntError::OutOfRange) => return invalid("integer ", " (out of range)"),
        },
        [digits @ .., b'u'] => match number::parse_u64(digits) {
            Ok(v) => FieldValue::UInteger(v),
            Err(number::IntError::Invalid) => return invalid("unsigned integer ", ""),
            Err(number::IntError::OutOfRange) => {
                return invalid("unsigned integer ", " (out of range)");
            }
        },
        _ => match number::parse_f64(text) {
            Some(v) => FieldValue::Float(v),
            None => return invalid("float ", ""),
        },
    };
    Ok((value, end))
}

/// Parses a double-quoted string value whose opening quote is at `start`.
fn parse_string_value<'a>(line: &'a str, start: usize, key: &str) -> LineResult<(FieldValue<'a>, usize)> {
    let b = line.as_bytes();
    let content_start = start + 1;
    let (i, escaped) = scan(b, content_start, QUOTE);
    if i >= b.len() {
        return err(start, format!("unterminated string value for field \"{}\"", shown(key)));
    }
    let value = unescape(&line[content_start..i], escaped, STRING_ESCAPES);
    let end = i + 1;
    match b.get(end) {
        None | Some(b',' | b' ') => Ok((FieldValue::String(value), end)),
        Some(_) => err(end, format!("unexpected character after the string value of field \"{}\"", shown(key))),
    }
}
