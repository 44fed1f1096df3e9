//! SQL text helpers: string literals and identifiers. User input never reaches SQL text except
//! through [`quote`] (for `SET` values, which the engine then binds to `{name:Type}`) or after
//! [`is_identifier`] accepted it.

/// A ClickHouse string literal: single quotes, with `\` and `'` escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A query parameter value in ClickHouse's escaped (TabSeparated) text form, which is how the
/// engine reads `param_<name>` values: a backslash, tab or newline inside would otherwise end or
/// change the value.
pub fn escape_param(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

/// Letters, digits and `_`, not starting with a digit, at most 128 bytes.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A backquoted identifier (any text; backquotes and backslashes escaped).
pub fn quote_identifier(s: &str) -> String {
    format!("`{}`", s.replace('\\', "\\\\").replace('`', "\\`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_what_could_end_the_literal() {
        assert_eq!(quote("it's"), r"'it\'s'");
        assert_eq!(quote(r"a\'; DROP TABLE x; --"), r"'a\\\'; DROP TABLE x; --'");
        assert!(is_identifier("run_id") && !is_identifier("1x") && !is_identifier("a b") && !is_identifier(""));
        assert_eq!(quote_identifier("gro`up"), "`gro\\`up`");
        assert_eq!(escape_param("a\tb\nc\\d"), "a\\tb\\nc\\\\d");
    }
}
