//! Values the engine takes as text but would silently zero when malformed (`UUID`, `IPv4`,
//! `IPv6`, `Decimal`, `Int128`/`UInt128`) and dates: checked here and put in canonical form, so
//! a bad value is a rejected message naming it, never a zero row.

use std::net::{IpAddr, Ipv4Addr};

/// A UUID as `8-4-4-4-12` hex digits (or 32 digits without hyphens), lowercase with hyphens.
pub(crate) fn uuid(s: &str) -> Result<String, String> {
    let t = s.trim();
    let hex: String = if t.len() == 36 {
        let dashes = [8, 13, 18, 23];
        if !dashes.iter().all(|&i| t.as_bytes()[i] == b'-') {
            return Err(format!("{s:?} is not a UUID"));
        }
        t.chars().filter(|c| *c != '-').collect()
    } else {
        t.to_string()
    };
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{s:?} is not a UUID"));
    }
    let h = hex.to_ascii_lowercase();
    Ok(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
}

/// A dotted IPv4 address, or its number (0 to 4294967295).
pub(crate) fn ipv4_text(s: &str) -> Result<String, String> {
    s.trim().parse::<Ipv4Addr>().map(|a| a.to_string()).map_err(|_| format!("{s:?} is not an IPv4 address"))
}

pub(crate) fn ipv4_number(n: u64) -> Result<String, String> {
    u32::try_from(n).map(|n| Ipv4Addr::from(n).to_string()).map_err(|_| format!("{n} is not an IPv4 address"))
}

/// An IPv6 address; an IPv4 address becomes its IPv4-mapped form (`::ffff:a.b.c.d`), as the
/// engine stores it.
pub(crate) fn ipv6(s: &str) -> Result<String, String> {
    match s.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => Ok(a.to_string()),
        Ok(IpAddr::V4(a)) => Ok(a.to_ipv6_mapped().to_string()),
        Err(_) => Err(format!("{s:?} is not an IP address")),
    }
}

/// Decimal text (`-12.345`, `1.5e3`) that fits `Decimal(precision, scale)`, as plain digits with
/// at most `scale` decimals. More decimals than the scale is an error, not a rounding.
pub(crate) fn decimal(s: &str, precision: u8, scale: u8) -> Result<String, String> {
    let bad = || format!("{s:?} is not a decimal number");
    let t = s.trim();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], t[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (t, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if exp.unsigned_abs() > 400 {
        return Err(bad());
    }
    // All digits, and where the point falls among them.
    let digits: String = format!("{int}{frac}");
    let point = int.len() as i64 + i64::from(exp);
    let (int, frac) = if point <= 0 {
        (String::new(), format!("{}{digits}", "0".repeat((-point) as usize)))
    } else if point as usize >= digits.len() {
        (format!("{digits}{}", "0".repeat(point as usize - digits.len())), String::new())
    } else {
        (digits[..point as usize].to_string(), digits[point as usize..].to_string())
    };
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if frac.len() > usize::from(scale) {
        return Err(format!("{s} has more than {scale} decimal places (Decimal({precision}, {scale}))"));
    }
    if int.len() > usize::from(precision - scale) {
        return Err(format!("{s} is out of range for Decimal({precision}, {scale})"));
    }
    let sign = if neg && (!int.is_empty() || !frac.is_empty()) { "-" } else { "" };
    let int = if int.is_empty() { "0" } else { int };
    Ok(if frac.is_empty() { format!("{sign}{int}") } else { format!("{sign}{int}.{frac}") })
}

/// A 128-bit integer's decimal text.
pub(crate) fn int128(s: &str, signed: bool) -> Result<String, String> {
    let t = s.trim();
    let parsed =
        if signed { t.parse::<i128>().map(|v| v.to_string()) } else { t.parse::<u128>().map(|v| v.to_string()) };
    parsed.map_err(|_| format!("{s:?} is not an {} integer in range", if signed { "Int128" } else { "UInt128" }))
}

/// A date (`YYYY-MM-DD`, or the UTC date of an RFC 3339 time) as days since 1970-01-01, within
/// `Date` (1970-01-01 to 2149-06-06) or `Date32` (1900-01-01 to 2299-12-31).
pub(crate) fn date_days(s: &str, wide: bool) -> Result<i64, String> {
    let t = s.trim();
    let days = if t.len() == 10 {
        let b = t.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = t.get(r)?;
            part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
        };
        match (b[4] == b'-' && b[7] == b'-', num(0..4), num(5..7), num(8..10)) {
            (true, Some(y), Some(m), Some(d)) if (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m) => {
                crate::time::days_from_civil(y, m, d)
            }
            _ => return Err(format!("{s:?} is not a date (YYYY-MM-DD)")),
        }
    } else {
        match crate::time::parse_rfc3339_nanos(t) {
            Some(n) => i64::try_from(n.div_euclid(86_400_000_000_000)).map_err(|_| format!("{s:?} is out of range"))?,
            None => return Err(format!("{s:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time")),
        }
    };
    let (lo, hi, name) = if wide {
        (
            crate::time::days_from_civil(1900, 1, 1),
            crate::time::days_from_civil(2299, 12, 31),
            "Date32 (1900-01-01 to 2299-12-31)",
        )
    } else {
        (0, 65_535, "Date (1970-01-01 to 2149-06-06)")
    };
    if days < lo || days > hi {
        return Err(format!("{s:?} is out of range for {name}"));
    }
    Ok(days)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_checked_and_made_canonical() {
        let want = "6f9619ff-8b86-d011-b42d-00cf4fc964ff";
        assert_eq!(uuid("6F9619FF-8B86-D011-B42D-00CF4FC964FF").unwrap(), want);
        assert_eq!(uuid("6f9619ff8b86d011b42d00cf4fc964ff").unwrap(), want);
        assert_eq!(uuid("not-a-uuid").unwrap_err(), "\"not-a-uuid\" is not a UUID");
        assert!(uuid("6f9619ff-8b86-d011-b42d-00cf4fc964fg").is_err());
        assert!(uuid("6f9619ff+8b86-d011-b42d-00cf4fc964ff").is_err());
    }

    #[test]
    fn ip_addresses_are_checked() {
        assert_eq!(ipv4_text(" 10.1.2.3 ").unwrap(), "10.1.2.3");
        assert_eq!(ipv4_text("300.1.1.1").unwrap_err(), "\"300.1.1.1\" is not an IPv4 address");
        assert_eq!(ipv4_number(167_838_211).unwrap(), "10.1.2.3");
        assert!(ipv4_number(1 << 32).is_err());
        assert_eq!(ipv6("2001:DB8::1").unwrap(), "2001:db8::1");
        assert_eq!(ipv6("10.1.2.3").unwrap(), "::ffff:10.1.2.3");
        assert!(ipv6("2001:db8::g").is_err());
    }

    #[test]
    fn decimals_keep_their_digits_and_refuse_what_does_not_fit() {
        assert_eq!(decimal("12.3456", 18, 4).unwrap(), "12.3456");
        assert_eq!(decimal("-0.50", 18, 4).unwrap(), "-0.5");
        assert_eq!(decimal("1.5e3", 18, 4).unwrap(), "1500");
        assert_eq!(decimal("1e-4", 18, 4).unwrap(), "0.0001");
        assert_eq!(decimal("-0", 9, 2).unwrap(), "0");
        assert_eq!(decimal(".5", 9, 2).unwrap(), "0.5");
        assert_eq!(decimal("007", 9, 2).unwrap(), "7");
        assert_eq!(decimal("12.34567", 18, 4).unwrap_err(), "12.34567 has more than 4 decimal places (Decimal(18, 4))");
        assert_eq!(decimal("1234567", 9, 3).unwrap_err(), "1234567 is out of range for Decimal(9, 3)");
        assert_eq!(decimal("1e9999", 9, 3).unwrap_err(), "\"1e9999\" is not a decimal number");
        assert!(decimal("12,5", 9, 2).is_err());
        assert!(decimal("", 9, 2).is_err());
        assert!(decimal(".", 9, 2).is_err());
    }

    #[test]
    fn int128_text_is_checked() {
        assert_eq!(int128("-170141183460469231731687303715884105728", true).unwrap(), i128::MIN.to_string());
        assert!(int128("170141183460469231731687303715884105728", true).is_err());
        assert_eq!(int128("-1", false).unwrap_err(), "\"-1\" is not an UInt128 integer in range");
    }

    #[test]
    fn dates_are_checked_against_the_calendar_and_the_type_range() {
        assert_eq!(date_days("1970-01-02", false).unwrap(), 1);
        assert_eq!(date_days("2026-11-23T23:30:00-02:00", false).unwrap(), date_days("2026-11-24", false).unwrap());
        assert_eq!(date_days("2024-02-29", false).unwrap(), 19_782);
        assert_eq!(date_days("2025-02-29", false).unwrap_err(), "\"2025-02-29\" is not a date (YYYY-MM-DD)");
        assert_eq!(
            date_days("1969-12-31", false).unwrap_err(),
            "\"1969-12-31\" is out of range for Date (1970-01-01 to 2149-06-06)"
        );
        assert_eq!(date_days("1900-01-01", true).unwrap(), -25_567);
        assert!(date_days("2300-01-01", true).is_err());
        assert!(date_days("yesterday", true).is_err());
    }
}
