//! Log bodies reduced to templates: the variable parts of a message (numbers, ids, durations,
//! IP addresses, quoted values, e-mail addresses, path segments with ids) become `<*>`, the rest
//! is kept, so `user 42 logged in from 10.0.0.7 in 35ms` becomes `user <*> logged in from <*> in
//! <*>`. A template's id is a 64-bit FNV-1a hash of its text: the same template has the same id
//! in every process, on every machine, after every restart.
//!
//! This is the masking stage of Drain (He et al., "Drain: An Online Log Parsing Approach with
//! Fixed Depth Tree", ICWS 2017) without its similarity-merging tree: Drain's merging makes a
//! template depend on which messages arrived before (the order, the process' history), which a
//! stable id cannot. Masking alone follows Drain's rule "a token with a digit is a variable",
//! applied to the segments of a token between delimiters (`=`, `:`, `/`, `?`, `&`, `,`, ...),
//! so `GET /users/123/orders?page=2` becomes `GET /users/<*>/orders?page=<*>`.
//!
//! [`batch`] turns an `otel_logs` record batch into `otel_log_patterns` rows at ingest;
//! [`catalog`] turns any `otel_*` batch into the attribute catalog's feed rows.
//!
//! No network, no store: bytes in, templates (and Arrow batches) out.

pub mod batch;
pub mod catalog;

/// What a variable part becomes.
pub const WILDCARD: &str = "<*>";

/// Tokens of a body kept in its template; the rest is replaced by one ` <*>…` marker so a
/// huge body costs little and its template stays bounded.
pub const MAX_TOKENS: usize = 64;

/// Bytes of a body looked at (a stack trace's tail does not change its pattern).
pub const MAX_BODY_BYTES: usize = 4096;

const TRUNCATED: &str = "<*>…";

/// The template of `body` and its id.
pub fn template(body: &str) -> (String, u64) {
    let mut out = String::with_capacity(body.len().min(256));
    let id = template_into(body, &mut out);
    (out, id)
}

/// Writes the template of `body` into `out` (cleared first) and returns its id. Reusing `out`
/// avoids an allocation per log record.
pub fn template_into(body: &str, out: &mut String) -> u64 {
    template_text_into(body, out);
    template_id(out)
}

/// Writes the template of `body` into `out` (cleared first), without its id: for callers that
/// see the same template many times and hash it once (see [`batch::log_patterns`]).
pub fn template_text_into(body: &str, out: &mut String) {
    out.clear();
    let body = cut(body, MAX_BODY_BYTES);
    let s = body.as_bytes();
    let n = s.len();
    let mut i = 0;
    let mut tokens = 0;
    while i < n {
        while i < n && s[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        if tokens == MAX_TOKENS {
            out.push_str(TRUNCATED);
            break;
        }
        // A token ends at whitespace, except inside a quoted value. Plain words (no digit, no
        // quote, no `@`) cannot change: they are copied whole.
        let start = i;
        let mut special = false;
        while i < n && !s[i].is_ascii_whitespace() {
            let b = s[i];
            special |= b.is_ascii_digit() || b == b'@';
            if matches!(b, b'"' | b'\'' | b'`') {
                special = true;
                if is_quote_at(s, i, start)
                    && let Some(close) = closing_quote(s, i)
                {
                    i = close + 1;
                    continue;
                }
            }
            i += 1;
        }
        if special {
            token(&body[start..i], out);
        } else {
            out.push_str(&body[start..i]);
        }
        tokens += 1;
    }
}

/// FNV-1a, 64 bits, of the template's UTF-8 text.
pub fn template_id(template: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in template.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[inline]
fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'=' | b':'
            | b'/'
            | b'?'
            | b'&'
            | b','
            | b';'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'<'
            | b'>'
            | b'|'
            | b'\\'
    )
}

/// A quote opens a quoted value at the start of a token or after a delimiter (so the
/// apostrophe of `don't` does not).
#[inline]
fn is_quote_at(s: &[u8], i: usize, token_start: usize) -> bool {
    matches!(s[i], b'"' | b'\'' | b'`') && (i == token_start || is_delimiter(s[i - 1]))
}

#[inline]
fn closing_quote(s: &[u8], open: usize) -> Option<usize> {
    let q = s[open];
    let mut j = open + 1;
    while j < s.len() {
        if s[j] == b'\\' {
            j += 2;
            continue;
        }
        if s[j] == q {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// One token into `out`: a whole e-mail address is a variable; otherwise each segment between
/// delimiters that holds a digit, and each quoted value, is.
fn token(tok: &str, out: &mut String) {
    let core = if tok.contains('@') { tok.trim_matches(|c: char| c.is_ascii_punctuation() && c != '@') } else { "" };
    if let Some(at) = core.find('@')
        && at > 0
        && core[at + 1..].contains('.')
        && !core.contains(['/', '=', '"'])
    {
        let lead = tok.len() - tok.trim_start_matches(|c: char| c.is_ascii_punctuation() && c != '@').len();
        let trail = tok.len() - tok.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != '@').len();
        out.push_str(&tok[..lead]);
        out.push_str(WILDCARD);
        out.push_str(&tok[tok.len() - trail..]);
        return;
    }
    let s = tok.as_bytes();
    let n = s.len();
    let mut i = 0;
    let mut seg = 0;
    while i < n {
        if is_quote_at(s, i, 0)
            && let Some(close) = closing_quote(s, i)
        {
            segment(&tok[seg..i], out);
            out.push(s[i] as char);
            out.push_str(WILDCARD);
            out.push(s[i] as char);
            i = close + 1;
            seg = i;
        } else if is_delimiter(s[i]) {
            segment(&tok[seg..i], out);
            out.push(s[i] as char);
            i += 1;
            seg = i;
        } else {
            i += 1;
        }
    }
    segment(&tok[seg..], out);
}

#[inline]
fn segment(seg: &str, out: &mut String) {
    if seg.bytes().any(|b| b.is_ascii_digit()) {
        out.push_str(WILDCARD);
    } else {
        out.push_str(seg);
    }
}

/// The severity a record is counted under: its text, or when it has none, the name of its
/// number's range (OpenTelemetry's SeverityNumber: 1–4 TRACE, 5–8 DEBUG, 9–12 INFO, 13–16 WARN,
/// 17–20 ERROR, 21–24 FATAL), or `UNSPECIFIED`.
pub fn severity_name(text: &str, number: u8) -> &str {
    if !text.is_empty() {
        return text;
    }
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => "UNSPECIFIED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(body: &str) -> String {
        template(body).0
    }

    #[test]
    fn variable_tokens_become_wildcards() {
        let cases = [
            ("user 42 logged in from 10.0.0.7 in 35ms", "user <*> logged in from <*> in <*>"),
            ("GET /users/123/orders?page=2 200", "GET /users/<*>/orders?page=<*> <*>"),
            ("order 7f3a9c2e-1b4d-4e8f-9a6b-0c1d2e3f4a5b shipped", "order <*> shipped"),
            ("trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7", "trace=<*> span=<*>"),
            ("took 1.5s (timeout 30s)", "took <*> (timeout <*>)"),
            ("connect to 10.1.2.3:5432 failed", "connect to <*>:<*> failed"),
            ("mail sent to bob.smith@example.com.", "mail sent to <*>."),
            (
                "cache miss for key \"session token abc\" in region 'eu west'",
                "cache miss for key \"<*>\" in region '<*>'",
            ),
            ("user=\"alice smith\" action=login", "user=\"<*>\" action=login"),
            ("don't panic", "don't panic"),
            ("  spaces   collapse\tand\ntabs  ", "spaces collapse and tabs"),
            ("", ""),
            ("payment declined: insufficient funds", "payment declined: insufficient funds"),
            ("at 2026-11-23T15:46:30Z: ok", "at <*>:<*>:<*>: ok"),
        ];
        for (body, want) in cases {
            assert_eq!(t(body), want, "{body:?}");
        }
    }

    #[test]
    fn the_same_template_has_the_same_id_and_others_differ() {
        let (a, ia) = template("user 1 logged in");
        let (b, ib) = template("user 99999 logged in");
        assert_eq!((a.as_str(), ia), (b.as_str(), ib));
        assert_ne!(ia, template("user 1 logged out").1);
        // FNV-1a 64 of the text: fixed forever (ids are stored and compared across restarts).
        assert_eq!(template_id(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(template_id("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn long_bodies_are_bounded() {
        let body = (0..500).map(|i| format!("w{i}x word")).collect::<Vec<_>>().join(" ");
        let tpl = t(&body);
        assert_eq!(tpl.split(' ').count(), MAX_TOKENS + 1);
        assert!(tpl.ends_with(TRUNCATED));
        let huge = "é".repeat(10_000);
        assert!(t(&huge).len() <= MAX_BODY_BYTES);
    }

    #[test]
    fn unclosed_quotes_and_odd_bytes_do_not_panic() {
        for body in ["\"open", "'", "a=\"", "\\", "x=`1", "é\"ü 1", "\"\\\"", "@", "a@b.", "@@.x"] {
            let _ = template(body);
        }
    }

    #[test]
    fn severity_falls_back_to_the_number() {
        assert_eq!(severity_name("warning", 13), "warning");
        assert_eq!(severity_name("", 17), "ERROR");
        assert_eq!(severity_name("", 0), "UNSPECIFIED");
    }
}
