//! Number syntax of line protocol: integers (`-?[0-9]+`) and floats
//! (`-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?`, finite only), parsed from bytes.

/// Why an integer did not parse.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IntError {
    /// Not of the form `-?[0-9]+`.
    Invalid,
    /// Well-formed but does not fit the type.
    OutOfRange,
}

/// Parses `-?[0-9]+` into an i64 (no `+`, no whitespace).
pub(crate) fn parse_i64(s: &[u8]) -> Result<i64, IntError> {
    match s {
        [b'-', digits @ ..] => 0i64.checked_sub_unsigned(parse_digits(digits)?).ok_or(IntError::OutOfRange),
        _ => i64::try_from(parse_digits(s)?).map_err(|_| IntError::OutOfRange),
    }
}

/// Parses `[0-9]+` into a u64 (no sign, no whitespace).
pub(crate) fn parse_u64(s: &[u8]) -> Result<u64, IntError> {
    parse_digits(s)
}

/// Parses `[0-9]+`. Every byte is checked, so a malformed overlong number is `Invalid`.
#[inline]
fn parse_digits(digits: &[u8]) -> Result<u64, IntError> {
    if digits.is_empty() {
        return Err(IntError::Invalid);
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    // Eight digits at a time while at most 16 are taken (timestamps have 19).
    let mut rest = digits;
    let mut taken = 0;
    while taken < 16 {
        let Some((chunk, tail)) = rest.split_first_chunk::<8>() else {
            break;
        };
        let Some(eight) = eight_digits(u64::from_le_bytes(*chunk)) else {
            break; // the loop below reports the bad byte
        };
        v = v * 100_000_000 + eight;
        rest = tail;
        taken += 8;
    }
    for (n, &c) in rest.iter().enumerate() {
        let n = n + taken;
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return Err(IntError::Invalid);
        }
        if n < 19 {
            // Cannot overflow: 19 digits are at most 10^19 - 1 < u64::MAX.
            v = v * 10 + u64::from(d);
        } else {
            match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(d))) {
                Some(next) => v = next,
                None => overflow = true,
            }
        }
    }
    if overflow { Err(IntError::OutOfRange) } else { Ok(v) }
}

/// The value of eight ASCII digits loaded little-endian (first digit in the lowest byte), or
/// None if any byte is not a digit.
#[inline(always)]
fn eight_digits(word: u64) -> Option<u64> {
    const NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    // Every byte must be 0x3_ and stay 0x3_ after adding 6 (that is, at most '9').
    let high = word & NIBBLES;
    let high_plus_six = (word.wrapping_add(0x0606_0606_0606_0606) & NIBBLES) >> 4;
    if high | high_plus_six != 0x3333_3333_3333_3333 {
        return None;
    }
    let x = word - 0x3030_3030_3030_3030;
    // Combine neighbouring digits into pairs, then pairs into fours, then the halves.
    let x = x.wrapping_mul(10).wrapping_add(x >> 8);
    let x = (x & 0x0000_00FF_0000_00FF)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((x >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(x)
}

/// Exact powers of ten for the fast path (10^22 is the largest exactly representable one).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Parses a float; None unless it matches the syntax above and is finite.
///
/// Short decimals without exponent (at most 15 significant digits, the common case) are
/// computed exactly as `mantissa / 10^k` (both exact, so the quotient is correctly rounded);
/// anything else goes through the standard library.
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    let mut i = 0;
    let negative = s.first() == Some(&b'-');
    if negative {
        i = 1;
    }
    let mut mantissa: u64 = 0;
    let mut digits = 0usize;
    let mut int_digits = 0usize;
    while let Some(&c) = s.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if digits < 19 {
            mantissa = mantissa * 10 + u64::from(d);
        }
        digits += 1;
        int_digits += 1;
        i += 1;
    }
    let mut frac_digits = 0usize;
    if s.get(i) == Some(&b'.') {
        i += 1;
        while let Some(&c) = s.get(i) {
            let d = c.wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if digits < 19 {
                mantissa = mantissa * 10 + u64::from(d);
            }
            digits += 1;
            frac_digits += 1;
            i += 1;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    let mut has_exponent = false;
    if let Some(b'e' | b'E') = s.get(i) {
        has_exponent = true;
        i += 1;
        if let Some(b'+' | b'-') = s.get(i) {
            i += 1;
        }
        let exp_start = i;
        while let Some(b'0'..=b'9') = s.get(i) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != s.len() {
        return None;
    }
    if !has_exponent && digits <= 15 && frac_digits < POW10.len() {
        // Exact: mantissa < 10^15 < 2^53 and 10^frac_digits is exact.
        let v = mantissa as f64 / POW10[frac_digits];
        return Some(if negative { -v } else { v });
    }
    // The syntax was checked above, so this is only ever ASCII the std parser accepts.
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"0"), Ok(0));
        assert_eq!(parse_i64(b"-0"), Ok(0));
        assert_eq!(parse_i64(b"007"), Ok(7));
        assert_eq!(parse_i64(b"9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), Err(IntError::OutOfRange));
        assert_eq!(parse_i64(b"-9223372036854775809"), Err(IntError::OutOfRange));
        assert_eq!(parse_i64(b"99999999999999999999x"), Err(IntError::Invalid));
        assert_eq!(parse_i64(b"00000000000000000000000042"), Ok(42));
        assert_eq!(parse_i64(b"-00000000000000000000000042"), Ok(-42));
        assert_eq!(parse_i64(b"1795433093125392368"), Ok(1_795_433_093_125_392_368));
        assert_eq!(parse_i64(b"99999999999999999999"), Err(IntError::OutOfRange));
        for bad in [&b""[..], b"-", b"+1", b"1.0", b" 1", b"1 ", b"--1", b"1-"] {
            assert_eq!(parse_i64(bad), Err(IntError::Invalid), "{bad:?}");
        }
        assert_eq!(parse_u64(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), Err(IntError::OutOfRange));
        assert_eq!(parse_u64(b"28446744073709551615"), Err(IntError::OutOfRange));
        assert_eq!(parse_u64(b"0018446744073709551615"), Ok(u64::MAX));
        for bad in [&b""[..], b"-1", b"-0", b"+1", b"1.0"] {
            assert_eq!(parse_u64(bad), Err(IntError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn integers_match_std() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = x >> (x % 64);
            let s = v.to_string();
            assert_eq!(parse_u64(s.as_bytes()), Ok(v), "{s}");
            let signed = v as i64;
            let s = signed.to_string();
            assert_eq!(parse_i64(s.as_bytes()), Ok(signed), "{s}");
            // A non-digit anywhere is invalid, including inside an eight-digit chunk.
            let mut bad = s.clone().into_bytes();
            let at = (x % bad.len() as u64) as usize;
            bad[at] = [b'a', b'/', b':', b' ', b'.', 0xFF][(x % 6) as usize];
            assert_eq!(parse_i64(&bad), Err(IntError::Invalid), "{bad:?}");
        }
    }

    #[test]
    fn floats_match_std() {
        let good = [
            "0",
            "-0",
            "1",
            "1.5",
            "-1.5e3",
            "1E-2",
            "1e+2",
            ".5",
            "-.5",
            "1.",
            "5.298315",
            "0.000001",
            "123456789012345",
            "1234567890123456",
            "12345678901234567890123",
            "0.1234567890123456789",
            "1.7976931348623157e308",
            "4.9e-324",
            "1e-400",
            "0.30000000000000004",
            "9007199254740993",
            "3.141592653589793",
            "1.0000000000000000000000001",
            "00000000000000000000001.5",
        ];
        for s in good {
            let ours = parse_f64(s.as_bytes());
            let std: f64 = s.parse().unwrap();
            assert_eq!(ours.map(f64::to_bits), Some(std.to_bits()), "{s}");
        }
        let bad = [
            "", "-", ".", "-.", "+1", "1e", "1e+", "e1", "1.2.3", "inf", "-inf", "nan", "NaN", "Infinity", "1e400",
            "-1e400", "0x10", "1_000", " 1", "1 ", "1f", "1..",
        ];
        for s in bad {
            assert_eq!(parse_f64(s.as_bytes()), None, "{s}");
        }
    }

    #[test]
    fn fast_path_agrees_with_std_on_many_values() {
        // Deterministic xorshift so the test is reproducible without a rand dependency.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = 1 + (x % 15) as usize;
            let mantissa = (x >> 8) % 10u64.pow(digits as u32);
            let frac = ((x >> 4) % (digits as u64 + 1)) as usize;
            let mut s = format!("{mantissa:0digits$}");
            s.insert(s.len() - frac, '.');
            let ours = parse_f64(s.as_bytes()).unwrap();
            let std: f64 = s.parse().unwrap();
            assert_eq!(ours.to_bits(), std.to_bits(), "{s}");
        }
    }
}
