//! [`ParseError`]: where a body stopped parsing (line, column) and why.

/// How many characters of the offending line an error keeps.
const EXCERPT_CHARS: usize = 120;

/// A line that is not valid line protocol.
///
/// Displays as `line 3, column 17: <reason>: <excerpt>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}: {excerpt}")]
pub struct ParseError {
    /// 1-based line number in the body (blank and comment lines count).
    pub line: usize,
    /// 1-based byte column in that line.
    pub column: usize,
    /// What is wrong, lowercase.
    pub reason: String,
    /// The offending line, truncated to about 120 characters (lossy if not UTF-8).
    pub excerpt: String,
}

impl ParseError {
    /// Builds an error for the `line`th line whose bytes are `text`; `offset` is 0-based.
    pub(crate) fn new(line: usize, offset: usize, reason: String, text: &[u8]) -> ParseError {
        ParseError { line, column: offset + 1, reason, excerpt: excerpt(text) }
    }
}

fn excerpt(text: &[u8]) -> String {
    let text = String::from_utf8_lossy(text);
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}
