//! Time conversions the decoders and the summary need: RFC 3339 text to microseconds since the
//! epoch (floored), and microseconds to UTC text.

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (RFC 3339, as Go's RFC3339Nano writes
/// it) to microseconds since the epoch, rounding toward negative infinity.
pub(crate) fn parse_rfc3339_us(s: &str) -> Result<i64, &'static str> {
    const BAD: &str = "expected an RFC 3339 time like 2026-11-23T11:24:53.125392368Z";
    let b = s.as_bytes();
    let year = digits(b, 0, 4).ok_or(BAD)? as i64;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return Err(BAD);
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(BAD);
    }
    let month = digits(b, 5, 2).ok_or(BAD)?;
    let day = digits(b, 8, 2).ok_or(BAD)?;
    let hour = digits(b, 11, 2).ok_or(BAD)?;
    let minute = digits(b, 14, 2).ok_or(BAD)?;
    let second = digits(b, 17, 2).ok_or(BAD)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err("date out of range");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day out of range");
    }
    let mut i = 19;
    let mut micros = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if i - start < 6 {
                micros = micros * 10 + (c - b'0') as i64;
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return Err(BAD);
        }
        for _ in n..6 {
            micros *= 10;
        }
    }
    let offset_s = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let h = digits(b, i + 1, 2).ok_or(BAD)? as i64;
            let m = digits(b, i + 4, 2).ok_or(BAD)? as i64;
            if h > 23 || m > 59 {
                return Err("time zone offset out of range");
            }
            let o = h * 3600 + m * 60;
            if sign == b'+' { o } else { -o }
        }
        _ => return Err(BAD),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset_s;
    Ok(secs * 1_000_000 + micros)
}

fn split_us(us: i64) -> (i64, u32, u32, u32, u32, u32, i64) {
    let secs = us.div_euclid(1_000_000);
    let frac = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, sod / 3600, sod / 60 % 60, sod % 60, frac)
}

/// `YYYYMMDDTHHMMSSZ` in UTC (the time part of generated run ids).
pub(crate) fn compact_utc(us: i64) -> String {
    let (y, mo, d, h, mi, s, _) = split_us(us);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// RFC 3339 in UTC with microseconds, e.g. `2026-11-23T11:24:53.125392Z`.
pub(crate) fn rfc3339_utc(us: i64) -> String {
    let (y, mo, d, h, mi, s, frac) = split_us(us);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:06}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_nano_is_floored_to_microseconds() {
        assert_eq!(parse_rfc3339_us("2026-11-23T11:24:53.125392368Z"), Ok(1_795_433_093_125_392));
        assert_eq!(parse_rfc3339_us("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339_us("1969-12-31T23:59:59.9999999Z"), Ok(-1));
        assert_eq!(parse_rfc3339_us("2026-11-23T12:24:53.5+01:00"), Ok(1_795_433_093_500_000));
        assert_eq!(parse_rfc3339_us("2024-02-29T00:00:00-00:30"), Ok(1_709_166_600_000_000));
    }

    #[test]
    fn malformed_times_are_rejected() {
        for bad in [
            "",
            "2026-11-23",
            "2026-11-23T11:24:53",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-23T11:24:53.Z",
            "2026-11-23T11:24:53Zjunk",
            "1795433093",
        ] {
            assert!(parse_rfc3339_us(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn utc_text_round_trips() {
        let us = 1_795_433_093_125_392;
        assert_eq!(compact_utc(us), "20261123T112453Z");
        assert_eq!(rfc3339_utc(us), "2026-11-23T11:24:53.125392Z");
        assert_eq!(parse_rfc3339_us(&rfc3339_utc(us)), Ok(us));
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59.999999Z");
    }
}
