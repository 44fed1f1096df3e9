//! SQL text helpers: string literals, identifiers and bound parameters. User input never reaches
//! SQL text except through [`quote`] (for `SET` values, which the engine then binds to
//! `{name:Type}`, and for [`bind`], which puts them in place as typed literals) or after
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

/// `sql` with each `{name:Type}` placeholder whose name is in `params` replaced by
/// `CAST(<value as a string literal> AS Type)`: what the engine does itself with `param_<name>`
/// settings (the value is read as a `Type` from its text), without a `SET` statement per
/// parameter before the query. Placeholders inside string literals, quoted identifiers and
/// comments are left alone, and so are placeholders without a value (the engine then reports the
/// missing parameter). A parameter's type is what the SQL says; a value it cannot read as that
/// type fails the query, as with `SET`.
pub fn bind(sql: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return sql.to_string();
    }
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + params.iter().map(|(_, v)| v.len() + 24).sum::<usize>());
    // Start of the text not yet copied to `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => i = quoted_end(b, i + 1, q),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..].iter().position(|c| *c == b'\n').map_or(b.len(), |n| i + n)
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
            }
            b'{' => {
                let found = placeholder(&sql[i + 1..]).and_then(|(name, ty, len)| {
                    let value = params.iter().find(|(n, _)| *n == name)?.1;
                    Some((ty, value, len))
                });
                match found {
                    Some((ty, value, len)) => {
                        out.push_str(&sql[copied..i]);
                        out.push_str("CAST(");
                        out.push_str(&quote(value));
                        out.push_str(" AS ");
                        out.push_str(ty);
                        out.push(')');
                        i += 1 + len;
                        copied = i;
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    out
}

/// The index just past the quote that closes a literal or quoted identifier opened before
/// `from` (backslash escapes and doubled quotes inside), or the end of the text.
fn quoted_end(b: &[u8], mut from: usize, q: u8) -> usize {
    while from < b.len() {
        if b[from] == b'\\' {
            from += 2;
        } else if b[from] == q {
            if b.get(from + 1) == Some(&q) {
                from += 2;
            } else {
                return from + 1;
            }
        } else {
            from += 1;
        }
    }
    b.len()
}

/// `name:Type}` at the start of `s`: the name, the type and the length through the `}`. The type
/// is the SQL's own text (`UInt64`, `DateTime64(3, 'UTC')`), never a value.
fn placeholder(s: &str) -> Option<(&str, &str, usize)> {
    let close = s.find(['}', '{', '\n'])?;
    if s.as_bytes()[close] != b'}' {
        return None;
    }
    let (name, ty) = s[..close].split_once(':')?;
    let (name, ty) = (name.trim(), ty.trim());
    (is_identifier(name) && !ty.is_empty()).then_some((name, ty, close + 1))
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

    #[test]
    fn bound_parameters_become_typed_literals_and_nothing_else_changes() {
        let sql = "SELECT '{run:String}' AS s, `{run:String}` AS i, {run:String} AS r -- {run:String}\n\
                   /* {n:UInt64} */ FROM t WHERE n < { n : UInt64 } AND x = {x:String} LIMIT {n:UInt64}";
        assert_eq!(
            bind(sql, &[("run", "it's"), ("n", "5")]),
            "SELECT '{run:String}' AS s, `{run:String}` AS i, CAST('it\\'s' AS String) AS r -- {run:String}\n\
             /* {n:UInt64} */ FROM t WHERE n < CAST('5' AS UInt64) AND x = {x:String} LIMIT CAST('5' AS UInt64)"
        );
        // A value that looks like a placeholder stays a value.
        assert_eq!(
            bind("{a:String}{b:String}", &[("a", "{b:String}"), ("b", "x")]),
            "CAST('{b:String}' AS String)CAST('x' AS String)"
        );
        assert_eq!(bind("{d:DateTime64(3, 'UTC')}", &[("d", "1")]), "CAST('1' AS DateTime64(3, 'UTC'))");
        assert_eq!(bind("{a:String", &[("a", "x")]), "{a:String");
        assert_eq!(bind("{d:DateTime64(3)}", &[("d", "1")]), "CAST('1' AS DateTime64(3))");
        assert_eq!(bind("SELECT 'it''s {a:String}'", &[("a", "x")]), "SELECT 'it''s {a:String}'");
        assert_eq!(bind("SELECT {a:String}", &[]), "SELECT {a:String}");
    }
}
