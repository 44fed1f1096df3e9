//! RFC 3339 timestamps (`2026-11-23T10:00:00.123456789Z`, `+02:00` offsets, a space instead of
//! `T`) as nanoseconds since the epoch, without a date-time library.

/// Nanoseconds since the epoch, or None when `s` is not an RFC 3339 date-time.
pub fn parse_rfc3339_nanos(s: &str) -> Option<i128> {
    let b = s.trim().as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hour, min, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                frac = frac * 10 + i128::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = (i - start).min(9);
        if digits == 0 {
            return None;
        }
        frac *= 10i128.pow(9 - digits as u32);
    }
    let offset_s: i64 = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(c @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            let o = h * 3600 + m * 60;
            if *c == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_s;
    Some(i128::from(secs) * 1_000_000_000 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_rfc3339_nanos as p;

    #[test]
    fn rfc3339_forms() {
        assert_eq!(p("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(p("2026-11-23T10:00:00.123Z"), Some(1_795_428_000_123_000_000));
        assert_eq!(p("2026-11-23T12:00:00.123456789+02:00"), Some(1_795_428_000_123_456_789));
        assert_eq!(p("2026-11-23 10:00:00Z"), Some(1_795_428_000_000_000_000));
        assert_eq!(p("1969-12-31T23:59:59.5Z"), Some(-500_000_000));
        assert_eq!(p("2000-02-29T00:00:00-00:30"), Some(951_784_200_000_000_000));
        assert_eq!(p("2026-11-23"), None);
        assert_eq!(p("2026-13-01T00:00:00Z"), None);
        assert_eq!(p("2026-11-23T10:00:00"), None);
    }
}
