//! Reading protobuf's wire format without decoding into owned messages: varints, field keys,
//! length-delimited fields, fixed-width values, UTF-8 strings, and skipping unknown fields of
//! every wire type (groups included). The zero-copy readers of chute-promrw (remote write) and
//! chute-otlp (OTLP logs) are built on it. Every function advances `buf` past what it read; an
//! error says what was malformed, in the words prost would use where it can. The two writers
//! ([`put_varint`], [`put_len`]) are for the few messages chute and its load generator encode
//! by hand.

/// Message nesting and group depth allowed, as prost's recursion limit.
pub const RECURSION_LIMIT: u32 = 100;

/// Wire types.
pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const START_GROUP: u8 = 3;
pub const END_GROUP: u8 = 4;
pub const FIXED32: u8 = 5;

/// A varint (at most 10 bytes, at most 64 bits).
#[inline]
pub fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let b = *buf;
    if let Some(&first) = b.first()
        && first < 0x80
    {
        *buf = &b[1..];
        return Ok(u64::from(first));
    }
    let mut value = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return Err("malformed varint (longer than 10 bytes or over 64 bits)".into());
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *buf = &b[i + 1..];
            return Ok(value);
        }
    }
    if b.len() >= 10 { Err("malformed varint (longer than 10 bytes)".into()) } else { Err("truncated varint".into()) }
}

/// A field key: (field number, wire type).
#[inline]
pub fn key(buf: &mut &[u8]) -> Result<(u32, u8), String> {
    let k = varint(buf).map_err(|e| format!("field key: {e}"))?;
    let k = u32::try_from(k).map_err(|_| format!("invalid field key {k}"))?;
    let (field, wire) = (k >> 3, (k & 7) as u8);
    if field == 0 {
        return Err("invalid field number 0".into());
    }
    if wire > FIXED32 {
        return Err(format!("invalid wire type {wire} (field {field})"));
    }
    Ok((field, wire))
}

#[inline]
pub fn len_delimited<'a>(buf: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let len = varint(buf).map_err(|e| format!("length: {e}"))?;
    if len > buf.len() as u64 {
        return Err(format!("length {len} runs past the end of the message ({} bytes left)", buf.len()));
    }
    let (head, tail) = buf.split_at(len as usize);
    *buf = tail;
    Ok(head)
}

#[inline]
pub fn fixed<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], String> {
    match buf.split_first_chunk::<N>() {
        Some((head, tail)) => {
            *buf = tail;
            Ok(*head)
        }
        None => Err(format!("truncated {}-bit fixed value ({} bytes left)", N * 8, buf.len())),
    }
}

#[inline]
pub fn double(buf: &mut &[u8]) -> Result<f64, String> {
    fixed::<8>(buf).map(f64::from_le_bytes)
}

#[inline]
pub fn string<'a>(buf: &mut &'a [u8]) -> Result<&'a str, String> {
    text(len_delimited(buf)?)
}

/// The bytes of a protobuf `string` as text.
#[inline]
pub fn text(b: &[u8]) -> Result<&str, String> {
    utf8(b).map_err(|e| format!("not valid UTF-8: {e}"))
}

/// `std::str::from_utf8` with a quicker answer for ASCII, which label names and values nearly
/// always are (the standard check is slow on strings of a few bytes).
#[inline]
pub fn utf8(b: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if b.is_ascii() {
        // SAFETY: every ASCII byte sequence is valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        std::str::from_utf8(b)
    }
}

/// Skips the value of an unknown field whose key was just read.
pub fn skip(buf: &mut &[u8], field: u32, wire: u8, depth: u32) -> Result<(), String> {
    match wire {
        VARINT => varint(buf).map(drop),
        FIXED64 => fixed::<8>(buf).map(drop),
        LEN => len_delimited(buf).map(drop),
        FIXED32 => fixed::<4>(buf).map(drop),
        START_GROUP => {
            if depth == 0 {
                return Err(format!("group {field} nested too deep"));
            }
            loop {
                if buf.is_empty() {
                    return Err(format!("group {field} is not closed"));
                }
                let (f, w) = key(buf)?;
                if w == END_GROUP {
                    if f != field {
                        return Err(format!("group {field} closed by an end-group key of field {f}"));
                    }
                    return Ok(());
                }
                skip(buf, f, w, depth - 1)?;
            }
        }
        _ => Err(format!("unexpected end-group key (field {field})")),
    }
}

/// The bytes of length-delimited field `key` at the start of `buf` when its length fits one
/// byte (under 128), and what follows them; `None` for anything else.
#[inline]
pub fn short_field(buf: &[u8], key: u8) -> Option<(&[u8], &[u8])> {
    match buf {
        [k, n, rest @ ..] if *k == key && *n < 0x80 => rest.split_at_checked(usize::from(*n)),
        _ => None,
    }
}

/// Appends `v` as a varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends length-delimited field `field`: its key, its length and `bytes`.
pub fn put_len(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    put_varint(out, u64::from(field << 3 | u32::from(LEN)));
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Checks a known field's wire type.
#[inline]
pub fn expect(wire: u8, expected: u8, what: &str) -> Result<(), String> {
    if wire == expected { Ok(()) } else { Err(format!("{what} has wire type {wire}, expected {expected}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_writers_write_the_readers_read_back() {
        let mut out = Vec::new();
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            put_varint(&mut out, v);
        }
        put_len(&mut out, 7, b"payload");
        let mut buf = &out[..];
        for v in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(varint(&mut buf), Ok(v));
        }
        assert_eq!(key(&mut buf), Ok((7, LEN)));
        assert_eq!(len_delimited(&mut buf), Ok(&b"payload"[..]));
        assert!(buf.is_empty());
    }
}
