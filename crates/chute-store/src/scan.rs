//! A small SQL scanner: enough of ClickHouse's lexical rules (quotes, comments, brackets, heredocs)
//! to classify a statement, find its trailing top-level `FORMAT <name>`, and split an `INSERT`
//! into its head, its `SETTINGS` and its inline data. It does not parse SQL: the engine does, and
//! its errors are the ones clients see.
//!
//! Used by the ClickHouse-compatible HTTP interface (what to run and how), by `chute sql` and
//! `POST /api/v1/sql` (is this statement read-only?), and by [`crate::cluster`] (rewriting chute's
//! own migration DDL).

use crate::{ErrorKind, StoreError};

/// ClickHouse's code for a statement that does not parse.
pub const SYNTAX_ERROR: i32 = 62;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A bare word: keyword or identifier (`SELECT`, `k6_samples`).
    Word,
    /// `"name"` or `` `name` ``.
    QuotedIdent,
    /// `'text'` or a heredoc `$$text$$`.
    String,
    Number,
    Open,
    Close,
    Semicolon,
    /// Any other character (`,`, `=`, `.`, operators).
    Symbol,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
    /// Bracket depth the token is at (an opening bracket is at the depth outside it).
    pub depth: u32,
}

impl Token {
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        &src[self.start..self.end]
    }

    /// A word equal to `kw`, ignoring case.
    pub fn is_word(&self, src: &str, kw: &str) -> bool {
        self.kind == TokenKind::Word && self.text(src).eq_ignore_ascii_case(kw)
    }
}

fn syntax(message: impl Into<String>) -> StoreError {
    StoreError { kind: ErrorKind::Schema, code: Some(SYNTAX_ERROR), message: message.into() }
}

/// Tokens of `src` from byte `pos`, lazily (so a caller can stop where an INSERT's data starts).
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a [u8]) -> Self {
        Lexer { src, pos: 0, depth: 0 }
    }

    /// The byte offset the next token search starts at.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn skip_space_and_comments(&mut self) -> Result<(), StoreError> {
        let s = self.src;
        loop {
            while self.pos < s.len() && s[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
            let rest = &s[self.pos..];
            if rest.starts_with(b"--") || rest.starts_with(b"# ") || rest.starts_with(b"#!") || rest == b"#" {
                while self.pos < s.len() && s[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else if rest.starts_with(b"/*") {
                let start = self.pos;
                let mut nesting = 0u32;
                loop {
                    let r = &s[self.pos..];
                    if r.is_empty() {
                        return Err(syntax(format!("unterminated comment starting at position {start}")));
                    }
                    if r.starts_with(b"/*") {
                        nesting += 1;
                        self.pos += 2;
                    } else if r.starts_with(b"*/") {
                        nesting -= 1;
                        self.pos += 2;
                        if nesting == 0 {
                            break;
                        }
                    } else {
                        self.pos += 1;
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// The next token, None at the end of the input.
    pub fn next_token(&mut self) -> Result<Option<Token>, StoreError> {
        self.skip_space_and_comments()?;
        let s = self.src;
        let start = self.pos;
        let Some(&c) = s.get(start) else { return Ok(None) };
        let depth = self.depth;
        let kind = match c {
            b'\'' | b'"' | b'`' => {
                let mut i = start + 1;
                loop {
                    match s.get(i) {
                        None => {
                            return Err(syntax(format!(
                                "unterminated quoted {} starting at position {start}",
                                if c == b'\'' { "string" } else { "identifier" }
                            )));
                        }
                        Some(b'\\') => i += 2,
                        Some(&q) if q == c => {
                            if s.get(i + 1) == Some(&c) {
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(_) => i += 1,
                    }
                }
                self.pos = i;
                if c == b'\'' { TokenKind::String } else { TokenKind::QuotedIdent }
            }
            b'$' => {
                // A heredoc: $tag$ ... $tag$ (tag may be empty).
                let tag_end = s[start + 1..].iter().position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'));
                match tag_end.map(|n| start + 1 + n) {
                    Some(e) if s[e] == b'$' => {
                        let tag = &s[start..=e];
                        let body = e + 1;
                        let close = s[body..]
                            .windows(tag.len())
                            .position(|w| w == tag)
                            .ok_or_else(|| syntax(format!("unterminated heredoc starting at position {start}")))?;
                        self.pos = body + close + tag.len();
                        TokenKind::String
                    }
                    _ => {
                        self.pos = start + 1;
                        TokenKind::Symbol
                    }
                }
            }
            b'(' | b'[' | b'{' => {
                self.depth += 1;
                self.pos = start + 1;
                TokenKind::Open
            }
            b')' | b']' | b'}' => {
                self.depth = self.depth.saturating_sub(1);
                self.pos = start + 1;
                return Ok(Some(Token { kind: TokenKind::Close, start, end: self.pos, depth: self.depth }));
            }
            b';' => {
                self.pos = start + 1;
                TokenKind::Semicolon
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let mut i = start + 1;
                while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_' || s[i] == b'$' || s[i] >= 0x80) {
                    i += 1;
                }
                self.pos = i;
                TokenKind::Word
            }
            c if c.is_ascii_digit() => {
                let mut i = start + 1;
                while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'.' || s[i] == b'_') {
                    // 1e+5, 1e-5
                    if (s[i] == b'e' || s[i] == b'E') && matches!(s.get(i + 1), Some(b'+') | Some(b'-')) {
                        i += 1;
                    }
                    i += 1;
                }
                self.pos = i;
                TokenKind::Number
            }
            _ => {
                // One character (UTF-8 continuation bytes belong to words above).
                self.pos = start + 1;
                TokenKind::Symbol
            }
        };
        Ok(Some(Token { kind, start, end: self.pos, depth }))
    }
}

/// Every token of `src`.
pub fn tokens(src: &str) -> Result<Vec<Token>, StoreError> {
    let mut lx = Lexer::new(src.as_bytes());
    let mut out = Vec::new();
    while let Some(t) = lx.next_token()? {
        out.push(t);
    }
    Ok(out)
}

/// What a statement does, as far as running it and permissions are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `SELECT`, `WITH ... SELECT`, `(SELECT ...)`, `VALUES` ...: a query whose result can be
    /// written in any format by the engine itself.
    Select,
    /// `SHOW`, `DESCRIBE`, `EXISTS`, `EXPLAIN`, `CHECK`: a result, but not usable as a subquery.
    Show,
    Insert,
    /// `SET`: changes settings of this request only.
    Set,
    /// `USE db`.
    Use,
    /// Anything that changes the schema or data (`CREATE`, `DROP`, `ALTER`, `OPTIMIZE`, ...).
    Modify,
}

impl Kind {
    /// Reads only: allowed to read-only users (and for HTTP GET, as ClickHouse does).
    pub fn is_read_only(self) -> bool {
        matches!(self, Kind::Select | Kind::Show | Kind::Set | Kind::Use)
    }

    /// Has a result set.
    pub fn has_result(self) -> bool {
        matches!(self, Kind::Select | Kind::Show)
    }
}

/// An `INSERT` split for running it with its data read from a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsertParts {
    /// `INSERT INTO <target> [(columns)]`, as written.
    pub head: String,
    /// The text of a `SETTINGS` clause (without the keyword), when there is one.
    pub settings: Option<String>,
    /// `FORMAT <name>`: the data follows the statement (and the request body).
    pub format: Option<String>,
    /// Byte offset in the input where inline data starts (after the format name and the
    /// whitespace up to and including the first newline, as ClickHouse reads it).
    pub data_offset: usize,
}

/// One statement, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub kind: Kind,
    /// The statement without its trailing `FORMAT <name>` and `;` (for an `INSERT ... FORMAT`,
    /// the text up to the format name).
    pub sql: String,
    /// The trailing top-level `FORMAT <name>` of a query.
    pub format: Option<String>,
    /// Set for `INSERT`.
    pub insert: Option<InsertParts>,
}

const SHOW_WORDS: &[&str] = &["SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK"];
const SELECT_WORDS: &[&str] = &["SELECT", "WITH", "VALUES", "FROM"];

fn first_word_kind(word: &str) -> Kind {
    let w = word.to_ascii_uppercase();
    if SELECT_WORDS.contains(&w.as_str()) {
        Kind::Select
    } else if SHOW_WORDS.contains(&w.as_str()) {
        Kind::Show
    } else if w == "INSERT" {
        Kind::Insert
    } else if w == "SET" {
        Kind::Set
    } else if w == "USE" {
        Kind::Use
    } else {
        Kind::Modify
    }
}

/// Classifies the statement at the start of `input` (bytes: an INSERT's data may follow it and
/// need not be text). Refuses several statements, `INTO OUTFILE` and `FROM INFILE` (files of the
/// server are not the client's to name).
pub fn parse(input: &[u8]) -> Result<Statement, StoreError> {
    let mut lx = Lexer::new(input);
    let Some(first) = lx.next_token()? else {
        return Err(StoreError { kind: ErrorKind::Schema, code: Some(211), message: "Empty query".into() });
    };
    let kind = match first.kind {
        TokenKind::Open => Kind::Select,
        TokenKind::Word => first_word_kind(std::str::from_utf8(&input[first.start..first.end]).unwrap_or("")),
        _ => {
            return Err(syntax(format!(
                "Syntax error: failed at position {} ({}): expected the start of a query",
                first.start + 1,
                String::from_utf8_lossy(&input[first.start..first.end])
            )));
        }
    };
    if kind == Kind::Insert {
        return parse_insert(input, &mut lx, first);
    }
    // Everything else must be text: collect its tokens up to a top-level `;`.
    let mut toks = vec![first];
    let mut end = input.len();
    while let Some(t) = lx.next_token()? {
        if t.kind == TokenKind::Semicolon && t.depth == 0 {
            end = t.start;
            if let Some(extra) = lx.next_token()? {
                return Err(syntax(format!(
                    "Syntax error (Multi-statements are not allowed): failed at position {}: {}",
                    extra.start + 1,
                    String::from_utf8_lossy(&input[extra.start..input.len().min(extra.start + 40)])
                )));
            }
            break;
        }
        toks.push(t);
    }
    let src = std::str::from_utf8(&input[..end]).map_err(|_| syntax("the query is not valid UTF-8"))?;
    for w in toks.windows(2) {
        if w[0].depth == 0 && w[0].is_word(src, "INTO") && w[1].is_word(src, "OUTFILE") {
            return Err(StoreError {
                kind: ErrorKind::Schema,
                code: Some(358),
                message: "INTO OUTFILE is not allowed".into(),
            });
        }
    }
    let (sql, format) = match trailing_format(src, &toks) {
        Some((fmt_tok, name_tok)) => {
            let mut s = String::with_capacity(src.len());
            s.push_str(src[..fmt_tok.start].trim_end());
            let after = src[name_tok.end..].trim();
            if !after.is_empty() {
                s.push(' ');
                s.push_str(after);
            }
            (s.trim().to_string(), Some(unquote_name(name_tok.text(src))))
        }
        None => (src.trim().to_string(), None),
    };
    Ok(Statement { kind, sql, format, insert: None })
}

/// The last top-level `FORMAT <name>` followed by nothing but an optional `SETTINGS ...` clause.
fn trailing_format(src: &str, toks: &[Token]) -> Option<(Token, Token)> {
    for i in (0..toks.len().saturating_sub(1)).rev() {
        let (f, n) = (toks[i], toks[i + 1]);
        if f.depth != 0 || !f.is_word(src, "FORMAT") || !matches!(n.kind, TokenKind::Word | TokenKind::QuotedIdent) {
            continue;
        }
        let rest = &toks[i + 2..];
        let ok = match rest.first() {
            None => true,
            Some(t) => t.depth == 0 && t.is_word(src, "SETTINGS") && !rest.iter().any(|t| t.is_word(src, "FORMAT")),
        };
        if ok {
            return Some((f, n));
        }
    }
    None
}

fn unquote_name(s: &str) -> String {
    s.trim_matches(|c| c == '`' || c == '"').to_string()
}

fn parse_insert(input: &[u8], lx: &mut Lexer<'_>, first: Token) -> Result<Statement, StoreError> {
    let word = |t: &Token, kw: &str| {
        t.depth == 0 && t.kind == TokenKind::Word && input[t.start..t.end].eq_ignore_ascii_case(kw.as_bytes())
    };
    let mut settings: Option<(usize, usize)> = None;
    let mut settings_start: Option<usize> = None;
    let mut head_end = first.end;
    while let Some(t) = lx.next_token()? {
        if t.kind == TokenKind::Semicolon && t.depth == 0 {
            return Err(syntax(
                "Syntax error: an INSERT needs FORMAT <name>, VALUES or SELECT before `;` (for data in the request \
                 body, end the statement with FORMAT <name>)",
            ));
        }
        let after_settings = settings_start.is_some();
        if word(&t, "FORMAT") {
            let name = lx.next_token()?.filter(|n| matches!(n.kind, TokenKind::Word | TokenKind::QuotedIdent));
            let Some(name) = name else {
                return Err(syntax("Syntax error: expected a format name after FORMAT"));
            };
            if let Some(s) = settings_start {
                settings = Some((s, t.start));
            }
            let head = std::str::from_utf8(&input[..head_end]).map_err(|_| syntax("the INSERT is not valid UTF-8"))?;
            let name_end = name.end;
            let name = unquote_name(std::str::from_utf8(&input[name.start..name.end]).unwrap_or(""));
            // Data starts after the first newline, or after all the whitespace otherwise.
            let mut i = name_end;
            while i < input.len() && input[i].is_ascii_whitespace() {
                i += 1;
                if input[i - 1] == b'\n' {
                    break;
                }
            }
            return Ok(Statement {
                kind: Kind::Insert,
                sql: head.trim().to_string(),
                format: None,
                insert: Some(InsertParts {
                    head: head.trim().to_string(),
                    settings: settings.map(|(a, b)| String::from_utf8_lossy(&input[a..b]).trim().to_string()),
                    format: Some(name),
                    data_offset: i,
                }),
            });
        }
        if word(&t, "FROM") {
            // FROM INFILE names a file on the server.
            if let Some(n) = lx.next_token()?
                && n.kind == TokenKind::Word
                && input[n.start..n.end].eq_ignore_ascii_case(b"INFILE")
            {
                return Err(StoreError {
                    kind: ErrorKind::Schema,
                    code: Some(48),
                    message: "INSERT ... FROM INFILE is not supported over HTTP: send the data in the request body \
                              with FORMAT <name>"
                        .into(),
                });
            }
        }
        if word(&t, "VALUES")
            || word(&t, "SELECT")
            || word(&t, "WITH")
            || (t.kind == TokenKind::Open && is_query_paren(input, lx)?)
        {
            // The whole text is the statement (VALUES data is inline); it must be text.
            let text = std::str::from_utf8(input).map_err(|_| syntax("the INSERT is not valid UTF-8"))?;
            let text = text.trim().trim_end_matches(';').trim_end();
            return Ok(Statement { kind: Kind::Insert, sql: text.to_string(), format: None, insert: None });
        }
        if word(&t, "SETTINGS") {
            settings_start = Some(t.end);
        } else if !after_settings {
            head_end = t.end;
        }
    }
    Err(syntax(
        "Syntax error: an INSERT needs FORMAT <name> (with the data after it or in the request body), VALUES or SELECT",
    ))
}

/// After an opening bracket in an INSERT: does a query start inside it (`INSERT INTO t (SELECT ...)`)
/// rather than a column list?
fn is_query_paren(input: &[u8], lx: &Lexer<'_>) -> Result<bool, StoreError> {
    let mut peek = Lexer { src: input, pos: lx.pos, depth: lx.depth };
    Ok(match peek.next_token()? {
        Some(t) if t.kind == TokenKind::Word => {
            let w = &input[t.start..t.end];
            w.eq_ignore_ascii_case(b"SELECT") || w.eq_ignore_ascii_case(b"WITH")
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Statement {
        parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn queries_are_classified_and_lose_their_trailing_format() {
        let s = p("SELECT 1 FORMAT JSON");
        assert_eq!((s.kind, s.sql.as_str(), s.format.as_deref()), (Kind::Select, "SELECT 1", Some("JSON")));
        let s =
            p("  with x as (select 1 format TSV) select * from x format `CSVWithNames` SETTINGS max_threads = 1;  ");
        assert_eq!(s.format.as_deref(), Some("CSVWithNames"));
        assert_eq!(s.sql, "with x as (select 1 format TSV) select * from x SETTINGS max_threads = 1");
        let s = p("SELECT format FROM t");
        assert_eq!((s.sql.as_str(), s.format), ("SELECT format FROM t", None));
        let s = p("SELECT 'FORMAT JSON' -- FORMAT CSV\n");
        assert_eq!(s.format, None);
        assert_eq!(p("(SELECT 1) UNION ALL (SELECT 2)").kind, Kind::Select);
        assert_eq!(p("SHOW TABLES FORMAT JSONEachRow").format.as_deref(), Some("JSONEachRow"));
        assert_eq!(p("DESCRIBE TABLE t").kind, Kind::Show);
        assert_eq!(p("EXISTS t").kind, Kind::Show);
        assert_eq!(p("CREATE TABLE t (a UInt8) ENGINE = Memory").kind, Kind::Modify);
        assert_eq!(p("/* c */ DROP TABLE t").kind, Kind::Modify);
        assert_eq!(p("SET max_threads = 1").kind, Kind::Set);
        assert!(Kind::Select.is_read_only() && !Kind::Modify.is_read_only() && !Kind::Insert.is_read_only());
    }

    #[test]
    fn inserts_split_into_head_settings_format_and_data() {
        let input = b"INSERT INTO db.t (a, `b`) SETTINGS async_insert = 0 FORMAT TSV \n1\t2\n";
        let s = parse(input).unwrap();
        let i = s.insert.unwrap();
        assert_eq!(i.head, "INSERT INTO db.t (a, `b`)");
        assert_eq!(i.settings.as_deref(), Some("async_insert = 0"));
        assert_eq!(i.format.as_deref(), Some("TSV"));
        assert_eq!(&input[i.data_offset..], b"1\t2\n");
        let input = b"insert into t format JSONEachRow {\"a\":1}";
        let i = parse(input).unwrap().insert.unwrap();
        assert_eq!(&input[i.data_offset..], b"{\"a\":1}");
        // Binary data after the statement is not text, and need not be.
        let mut input = b"INSERT INTO t FORMAT RowBinary\n".to_vec();
        input.extend_from_slice(&[0xff, 0xfe, b';', 0]);
        let i = parse(&input).unwrap().insert.unwrap();
        assert_eq!(&input[i.data_offset..], &[0xff, 0xfe, b';', 0]);
        let s = parse(b"INSERT INTO t VALUES (1, 'a;b');").unwrap();
        assert_eq!((s.insert, s.sql.as_str()), (None, "INSERT INTO t VALUES (1, 'a;b')"));
        assert!(parse(b"INSERT INTO t SELECT * FROM u").unwrap().insert.is_none());
        assert!(parse(b"INSERT INTO t (SELECT * FROM u)").unwrap().insert.is_none());
    }

    #[test]
    fn what_cannot_run_is_refused_with_clickhouses_codes() {
        let code = |s: &str| parse(s.as_bytes()).unwrap_err().code;
        assert_eq!(code("SELECT 1; SELECT 2"), Some(SYNTAX_ERROR));
        assert_eq!(code("SELECT 'unterminated"), Some(SYNTAX_ERROR));
        assert_eq!(code("SELECT 1 /* open"), Some(SYNTAX_ERROR));
        assert_eq!(code(""), Some(211));
        assert_eq!(code("  -- only a comment\n"), Some(211));
        assert_eq!(code("SELECT 1 INTO OUTFILE '/etc/x'"), Some(358));
        assert_eq!(code("INSERT INTO t FROM INFILE '/etc/passwd' FORMAT CSV"), Some(48));
        assert_eq!(code("INSERT INTO t"), Some(SYNTAX_ERROR));
        assert!(p("SELECT 1;").sql == "SELECT 1" && p("SELECT 1;  -- done").sql == "SELECT 1");
    }

    #[test]
    fn lexer_knows_quotes_heredocs_and_nested_comments() {
        let src = "SELECT 'it''s', \"a\"\"b\", `c\\`d`, $$x ' y$$, /* a /* b */ c */ 1e-5, {p:String}";
        let t = tokens(src).unwrap();
        let texts: Vec<&str> = t.iter().map(|t| t.text(src)).collect();
        assert_eq!(
            texts,
            [
                "SELECT",
                "'it''s'",
                ",",
                "\"a\"\"b\"",
                ",",
                "`c\\`d`",
                ",",
                "$$x ' y$$",
                ",",
                "1e-5",
                ",",
                "{",
                "p",
                ":",
                "String",
                "}"
            ]
        );
        assert_eq!(t[12].depth, 1);
    }
}
