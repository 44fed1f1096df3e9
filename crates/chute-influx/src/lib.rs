//! InfluxDB line protocol parser: turns a write body into [`Point`]s (no network, no k6
//! knowledge).
//!
//! Syntax, per InfluxDB's line protocol reference:
//! `measurement[,tag=value...] field=value[,field=value...] [timestamp]`, one point per line.
//!
//! - Lines end with `\n` or `\r\n`. Blank lines and lines whose first non-whitespace
//!   character is `#` are skipped; leading spaces/tabs are ignored, and sections may be
//!   separated by more than one space. Every other line must be valid UTF-8.
//! - Escapes: the measurement unescapes `\,` and `\ `; tag keys, tag values and field keys
//!   unescape `\,`, `\=` and `\ `; string field values unescape `\"` and `\\`. A backslash
//!   before any other character is kept, with that character. Tokens without escapes are
//!   borrowed from the body ([`Cow::Borrowed`](std::borrow::Cow)).
//! - Tag keys and values must not be empty, and a tag value must not contain an unescaped `=`.
//! - Field values: floats (`1`, `-1.5e3`, `.5`; no `inf`/`nan`, must be finite), integers
//!   (`123i`, i64), unsigned integers (`123u`, u64), booleans (`t T true True TRUE f F false
//!   False FALSE`) and double-quoted strings (which may hold spaces, commas and `=`, but not a
//!   newline: a newline always ends the line).
//! - The timestamp is an optional signed integer in the write's [`Precision`], converted to
//!   nanoseconds; only whitespace may follow it.
//! - Duplicate tag keys or field keys are all kept, in order; the caller decides what they mean.

mod error;
mod line;
mod number;
mod point;
mod precision;

pub use error::ParseError;
pub use point::{FieldValue, Point};
pub use precision::{Precision, UnknownPrecision};

/// Parses every line of a body. Blank lines and lines starting with '#' are skipped.
/// Calls `f` for each point in order; stops at the first error and returns it.
/// Returns the number of points parsed.
///
/// Validating a body without keeping anything is `parse_each(body, precision, |_| {})`.
pub fn parse_each<'a>(body: &'a [u8], precision: Precision, mut f: impl FnMut(Point<'a>)) -> Result<usize, ParseError> {
    let mut count = 0;
    let mut hints = line::Hints::default();
    let mut rest = body;
    let mut line_no = 0;
    while !rest.is_empty() {
        line_no += 1;
        let (raw, next) = match find_newline(rest) {
            Some(pos) => (&rest[..pos], &rest[pos + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let start = raw.iter().position(|&c| c != b' ' && c != b'\t').unwrap_or(raw.len());
        match raw.get(start) {
            None | Some(b'#') => continue,
            Some(_) => {}
        }
        let text = match std::str::from_utf8(raw) {
            Ok(text) => text,
            Err(e) => {
                return Err(ParseError::new(line_no, e.valid_up_to(), "invalid utf-8".to_owned(), raw));
            }
        };
        match line::parse_line(text, start, precision, &mut hints) {
            Ok(point) => {
                f(point);
                count += 1;
            }
            Err(e) => return Err(ParseError::new(line_no, e.offset, e.reason, raw)),
        }
    }
    Ok(count)
}

/// Convenience: collects all points.
pub fn parse(body: &[u8], precision: Precision) -> Result<Vec<Point<'_>>, ParseError> {
    let mut points = Vec::new();
    parse_each(body, precision, |p| points.push(p))?;
    Ok(points)
}

/// The offset of the first `\n`, scanning a word at a time.
#[inline]
fn find_newline(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut chunks = s.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ NL;
        // Nonzero iff some byte of x is zero; the lowest flagged byte is the first match.
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&c| c == b'\n').map(|p| offset + p)
}
