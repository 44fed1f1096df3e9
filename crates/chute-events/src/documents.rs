//! Bodies that carry several JSON events, split into one slice per event with the line it starts
//! on: NDJSON (one object per line, blank lines skipped) or one JSON document (an object, or an
//! array of objects). The slices are decoded by [`crate::Decoder`] like any other message.

use crate::EventsError;
use serde_json::value::RawValue;

/// How a body holds its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFormat {
    /// Newline-delimited JSON: one event per line (`\n` or `\r\n`); blank lines are skipped.
    Ndjson,
    /// One JSON document: an object (one event) or an array (one event per element).
    Json,
}

/// One event of a body: its bytes and the line (from 1) it starts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Document<'a> {
    pub line: usize,
    pub bytes: &'a [u8],
}

/// Splits `body` into its events. A JSON body that is not valid JSON is an error naming the line
/// and column; an NDJSON line that is not JSON is left for the decoder, which names it.
pub fn split_documents(body: &[u8], format: BodyFormat) -> Result<Vec<Document<'_>>, EventsError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match format {
        BodyFormat::Ndjson => Ok(body
            .split(|b| *b == b'\n')
            .enumerate()
            .filter_map(|(i, line)| {
                let t = line.trim_ascii();
                (!t.is_empty()).then_some(Document { line: i + 1, bytes: t })
            })
            .collect()),
        BodyFormat::Json => {
            let t = body.trim_ascii_start();
            if t.is_empty() {
                return Ok(Vec::new());
            }
            if t[0] != b'[' {
                let line = 1 + body[..body.len() - t.len()].iter().filter(|b| **b == b'\n').count();
                return Ok(vec![Document { line, bytes: t.trim_ascii_end() }]);
            }
            let elements: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| EventsError::Body {
                line: e.line(),
                message: format!("invalid JSON array (column {}): {e}", e.column()),
            })?;
            let base = body.as_ptr() as usize;
            let (mut line, mut counted) = (1, 0);
            let mut out = Vec::with_capacity(elements.len());
            for el in elements {
                let s = el.get().as_bytes();
                let at = (s.as_ptr() as usize).saturating_sub(base).min(body.len());
                line += body[counted..at].iter().filter(|b| **b == b'\n').count();
                counted = at;
                out.push(Document { line, bytes: s });
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(d: &[Document<'_>]) -> Vec<(usize, String)> {
        d.iter().map(|d| (d.line, String::from_utf8_lossy(d.bytes).into_owned())).collect()
    }

    #[test]
    fn ndjson_lines_keep_their_numbers_and_blank_lines_are_skipped() {
        let d = split_documents(b"{\"a\":1}\r\n\n  \n{\"a\":2}\nnot json\n", BodyFormat::Ndjson).unwrap();
        assert_eq!(lines(&d), vec![(1, "{\"a\":1}".into()), (4, "{\"a\":2}".into()), (5, "not json".into())]);
        assert!(split_documents(b"\n\n", BodyFormat::Ndjson).unwrap().is_empty());
    }

    #[test]
    fn a_json_array_is_one_event_per_element_with_its_line() {
        let body = b"[\n  {\"a\":1},\n  {\"a\":\n 2}, 3\n]";
        let d = split_documents(body, BodyFormat::Json).unwrap();
        assert_eq!(lines(&d), vec![(2, "{\"a\":1}".into()), (3, "{\"a\":\n 2}".into()), (4, "3".into())]);
        let d = split_documents(b"\n {\"one\": true} \n", BodyFormat::Json).unwrap();
        assert_eq!(lines(&d), vec![(2, "{\"one\": true}".into())]);
        let e = split_documents(b"[{\"a\":1},\n{\"a\":]", BodyFormat::Json).unwrap_err();
        assert!(matches!(e, EventsError::Body { line: 2, .. }), "{e}");
    }
}
