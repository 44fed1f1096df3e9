//! Store errors and their classification: what may be retried, what is the data's fault, what
//! means "run migrations". The codes are ClickHouse's (`Code: N.` in every engine message).
//!
//! Why each class: ClickHouse documents data and schema errors as deterministic (the same insert
//! fails the same way), so retrying them only blocks the queue; a missing table means migrations
//! have not run, which is never a reason to drop data; everything else (network, overload, too
//! many parts, memory) passes with time.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Some rows are wrong for the table (parse, type, constraint): bisect, dead-letter the bad rows.
    Data,
    /// The statement or batch does not fit the table at all (columns, syntax): no retry.
    Schema,
    /// The table or database does not exist: run migrations, then retry.
    MissingTable,
    /// Passes with time (network, overload, too many parts, memory): retry with backoff.
    Transient,
    /// The engine cannot be used at all (not found, cannot load, data directory in use).
    Unavailable,
    /// Authentication or permission refused.
    Auth,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError {
    pub kind: ErrorKind,
    /// ClickHouse's error code, when the error came from ClickHouse.
    pub code: Option<i32>,
    pub message: String,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError { kind, code: None, message: message.into() }
    }

    /// Classifies an engine message by the `Code: N.` it carries.
    pub fn from_engine_message(message: impl Into<String>) -> Self {
        let message: String = message.into();
        let message = message.strip_prefix("[chdb] ").map(str::to_string).unwrap_or(message);
        let code = parse_code(&message);
        let kind = code.map(classify).unwrap_or(ErrorKind::Transient);
        StoreError { kind, code, message }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient | ErrorKind::MissingTable)
    }

    /// How long to back off at least after this error (too many parts wants a longer pause).
    pub fn min_backoff(&self) -> std::time::Duration {
        match self.code {
            Some(252) => std::time::Duration::from_secs(1),
            _ => std::time::Duration::ZERO,
        }
    }
}

/// Finds `Code: N` in an engine or server message.
pub fn parse_code(message: &str) -> Option<i32> {
    let i = message.find("Code: ")?;
    let rest = &message[i + 6..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// ClickHouse error code → what to do about it.
pub fn classify(code: i32) -> ErrorKind {
    match code {
        // Wrong values in some rows.
        6 | 27 | 32 | 33 | 38 | 41 | 53 | 69 | 70 | 72 | 117 | 131 | 190 | 321 | 377 | 469 | 1001 => ErrorKind::Data,
        // The batch or statement does not fit the table.
        8 | 10 | 16 | 20 | 44 | 47 | 62 | 179 => ErrorKind::Schema,
        60 | 81 => ErrorKind::MissingTable,
        192 | 193 | 194 | 516 | 497 => ErrorKind::Auth,
        // Everything else, including 202 too many queries, 252 too many parts, 159 timeout,
        // 241 memory limit, 209/210 network, 242 read-only replica, 999 keeper.
        _ => ErrorKind::Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_messages_are_classified_by_code() {
        let e = StoreError::from_engine_message(
            "[chdb] Code: 60. DB::Exception: Unknown table expression identifier 'nosuch'. (UNKNOWN_TABLE)",
        );
        assert_eq!((e.kind, e.code), (ErrorKind::MissingTable, Some(60)));
        assert!(!e.message.starts_with("[chdb]"));
        assert_eq!(StoreError::from_engine_message("Code: 62. DB::Exception: Syntax error").kind, ErrorKind::Schema);
        assert_eq!(StoreError::from_engine_message("Code: 117. DB::Exception: bad data").kind, ErrorKind::Data);
        let e = StoreError::from_engine_message("Code: 252. Too many parts");
        assert!(e.is_retryable() && e.min_backoff() >= std::time::Duration::from_secs(1));
        assert_eq!(StoreError::from_engine_message("connection reset").kind, ErrorKind::Transient);
    }
}
