//! What the file importers (`json`, `csv`) share: options and summary, format sniffing, gzip
//! detection by magic bytes, hashing the content while it streams, bounded line reading, and
//! the run id rule for samples without testid.

use crate::K6Error;
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, RecordBatch, StringArray};
use chute_tables::k6::MetricRow;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, BufRead, BufReader, Read};
use std::sync::Arc;

/// gzip's magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Lines longer than this are refused (k6 lines are a few hundred bytes); it keeps a binary
/// file without newlines from being read into memory whole.
pub(crate) const MAX_LINE: usize = 1 << 20;
/// Read buffer size.
const BUF: usize = 256 * 1024;

/// A k6 output file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// `k6 run --out json=file` (NDJSON).
    Json,
    /// `k6 run --out csv=file`.
    Csv,
}

impl ImportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::Json => "json",
            ImportFormat::Csv => "csv",
        }
    }
}

/// Guesses the format from the first bytes of a file (a few KB is plenty). A gzip stream is
/// looked into: as much of it as `first_bytes` holds is decompressed. None: neither.
pub fn sniff_format(first_bytes: &[u8]) -> Option<ImportFormat> {
    if first_bytes.starts_with(&GZIP_MAGIC) {
        let mut inner = Vec::new();
        let mut gz = flate2::read::MultiGzDecoder::new(first_bytes).take(64 * 1024);
        // A prefix of a gzip stream ends in an "unexpected end of file": keep what came out.
        let mut chunk = [0u8; 4096];
        loop {
            match gz.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => inner.extend_from_slice(&chunk[..n]),
            }
        }
        return sniff_plain(&inner);
    }
    sniff_plain(first_bytes)
}

fn sniff_plain(b: &[u8]) -> Option<ImportFormat> {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let start = b.iter().position(|c| !c.is_ascii_whitespace())?;
    let b = &b[start..];
    let line = &b[..b.iter().position(|&c| c == b'\n').unwrap_or(b.len())];
    if line.starts_with(b"{") && (contains(line, b"\"Metric\"") || contains(line, b"\"Point\"")) {
        return Some(ImportFormat::Json);
    }
    if line.starts_with(b"metric_name,timestamp,metric_value") {
        return Some(ImportFormat::Csv);
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Wraps `reader` so that it yields decompressed bytes when the stream starts with gzip's
/// magic bytes (1f 8b), and the bytes as they are otherwise. The file name plays no part.
pub fn decompressing_reader<'a, R: Read + 'a>(mut reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = io::Cursor::new(head[..n].to_vec()).chain(reader);
    if n == 2 && head == GZIP_MAGIC {
        Ok(Box::new(GzipErrors(flate2::read::MultiGzDecoder::new(whole))))
    } else {
        Ok(Box::new(whole))
    }
}

/// Says that a decompression error is about the gzip data.
struct GzipErrors<R>(R);

impl<R: Read> Read for GzipErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::Interrupted => e,
            kind => io::Error::new(kind, format!("truncated or corrupt gzip data ({e})")),
        })
    }
}

/// The sha256 (hex) of a file's content after decompression: what [`ImportOptions::content_sha256`]
/// expects, and what the import ledger is keyed by.
pub fn content_sha256<R: Read + Send>(reader: R) -> io::Result<String> {
    Ok(file_digests(reader)?.content_sha256)
}

/// A file's two digests (lowercase hex sha256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigests {
    /// Of the content after decompression (the import ledger's key).
    pub content_sha256: String,
    /// Of the bytes as stored (the same as the content's when the file is not compressed).
    pub file_sha256: String,
}

/// Both digests of a file, in one read. The content is hashed on a second thread while this
/// one decompresses, so the pass costs about the larger of the two, not their sum.
pub fn file_digests<R: Read + Send>(mut reader: R) -> io::Result<FileDigests> {
    let mut head = [0u8; 2];
    let mut n = 0;
    while n < head.len() {
        match reader.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let gzip = n == 2 && head == GZIP_MAGIC;
    let whole = io::Cursor::new(head[..n].to_vec()).chain(reader);
    // A plain file's stored bytes are its content: hashed once.
    let mut raw = if gzip { HashingReader::new(whole) } else { HashingReader::counting(whole) };
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let (content, read) = std::thread::scope(|scope| {
        let hasher = scope.spawn(move || {
            let mut hash = Sha256::new();
            for buf in full_rx {
                hash.update(&buf);
                // The reader may be gone already (it failed); the buffer is then dropped.
                let _ = empty_tx.send(buf);
            }
            hex(&hash.finalize())
        });
        let read = (|| -> io::Result<()> {
            let mut content = decompressing_reader(&mut raw)?;
            loop {
                let mut buf = empty_rx.try_recv().unwrap_or_default();
                buf.resize(BUF, 0);
                let n = loop {
                    match content.read(&mut buf) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        r => break r?,
                    }
                };
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                if full_tx.send(buf).is_err() {
                    return Err(io::Error::other("the content hashing thread stopped"));
                }
            }
        })();
        drop(full_tx);
        let content = hasher.join().map_err(|_| io::Error::other("the content hashing thread panicked"));
        (content, read)
    });
    read?;
    let content_sha256 = content?;
    let file_sha256 = if gzip { raw.finish().0 } else { content_sha256.clone() };
    Ok(FileDigests { content_sha256, file_sha256 })
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
        out.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
    }
    out
}

/// Counts what passes through, and hashes it unless made with [`HashingReader::counting`].
pub(crate) struct HashingReader<R> {
    inner: R,
    hash: Option<Sha256>,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader { inner, hash: Some(Sha256::new()), bytes: 0 }
    }

    pub(crate) fn counting(inner: R) -> Self {
        HashingReader { inner, hash: None, bytes: 0 }
    }

    /// (sha256 as lowercase hex, or empty when not hashing; bytes read).
    pub(crate) fn finish(self) -> (String, u64) {
        let Some(hash) = self.hash else { return (String::new(), self.bytes) };
        (hex(&hash.finalize()), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hash {
            h.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Hashes the stored bytes of a file for [`Input`], which keeps a handle to read the digest
/// once the decompressor (which owns the reader) is done.
struct SharedHashingReader<R> {
    inner: R,
    hash: std::rc::Rc<std::cell::RefCell<Sha256>>,
}

impl<R: Read> Read for SharedHashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

/// The decompressed input of an import, read line by line, with its digest: of the content,
/// or of the stored bytes when the caller gave both digests (a gzip file's stored bytes are
/// many times fewer than its content's, and the same bytes make the same content).
pub(crate) struct Input<'a> {
    pub(crate) reader: BufReader<HashingReader<Box<dyn Read + 'a>>>,
    file_hash: Option<std::rc::Rc<std::cell::RefCell<Sha256>>>,
}

/// What an input's digests say when it ended.
pub(crate) struct InputEnd {
    /// Of the content; None when the stored bytes were hashed instead.
    pub(crate) content_sha256: Option<String>,
    /// Of the stored bytes, when they were hashed.
    pub(crate) file_sha256: Option<String>,
    /// Bytes read after decompression.
    pub(crate) bytes: u64,
}

impl InputEnd {
    /// The content's sha256, checked against what the caller said it would be: an import
    /// whose file changed between the caller's hashing and this read fails.
    pub(crate) fn verified_sha256(
        self,
        opts: &ImportOptions,
        format: &'static str,
        line: u64,
    ) -> Result<String, K6Error> {
        let changed = |what: &str, actual: &str, expected: &str| K6Error::Read {
            format,
            line,
            source: io::Error::other(format!(
                "the {what} sha256 is {actual}, not {expected} as given: the file changed while it was imported"
            )),
        };
        if let (Some(actual), Some(expected)) = (&self.file_sha256, &opts.file_sha256)
            && !expected.eq_ignore_ascii_case(actual)
        {
            return Err(changed("file's", actual, expected));
        }
        match (self.content_sha256, &opts.content_sha256) {
            (Some(actual), Some(expected)) if !expected.eq_ignore_ascii_case(&actual) => {
                Err(changed("content's", &actual, expected))
            }
            (Some(actual), _) => Ok(actual),
            // The stored bytes were hashed (and matched) because the content's digest was given.
            (None, Some(expected)) => Ok(expected.to_ascii_lowercase()),
            // Not reached: the content is hashed unless its digest was given.
            (None, None) => Err(K6Error::Read {
                format,
                line,
                source: io::Error::other("the content was not hashed and no sha256 was given for it"),
            }),
        }
    }
}

/// Why line iteration stopped early.
pub(crate) enum LinesError {
    /// Reading failed after this many lines.
    Io(u64, io::Error),
    /// This line is longer than [`MAX_LINE`].
    TooLong(u64),
    /// The callback's error.
    Stop(K6Error),
}

impl<'a> Input<'a> {
    pub(crate) fn open<R: Read + 'a>(reader: R, opts: &ImportOptions) -> io::Result<Self> {
        if opts.content_sha256.is_some() && opts.file_sha256.is_some() {
            let hash = std::rc::Rc::new(std::cell::RefCell::new(Sha256::new()));
            let inner = decompressing_reader(SharedHashingReader { inner: reader, hash: hash.clone() })?;
            return Ok(Input {
                reader: BufReader::with_capacity(BUF, HashingReader::counting(inner)),
                file_hash: Some(hash),
            });
        }
        let inner = decompressing_reader(reader)?;
        Ok(Input { reader: BufReader::with_capacity(BUF, HashingReader::new(inner)), file_hash: None })
    }

    /// Calls `f(line_number, line)` for every line (1-based; without `\n` or `\r\n`). Lines
    /// are handed out of the read buffer without copying unless they straddle two reads.
    /// Returns the number of lines.
    pub(crate) fn for_each_line(
        &mut self,
        mut f: impl FnMut(u64, &[u8]) -> Result<(), K6Error>,
    ) -> Result<u64, LinesError> {
        let mut carry: Vec<u8> = Vec::new();
        let mut line_no = 0u64;
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LinesError::Io(line_no, e)),
            };
            if avail.is_empty() {
                if !carry.is_empty() {
                    line_no += 1;
                    f(line_no, strip_cr(&carry)).map_err(LinesError::Stop)?;
                }
                return Ok(line_no);
            }
            let mut used = 0;
            while let Some(pos) = memchr::memchr(b'\n', &avail[used..]) {
                line_no += 1;
                let line = &avail[used..used + pos];
                used += pos + 1;
                if carry.is_empty() {
                    if line.len() > MAX_LINE {
                        return Err(LinesError::TooLong(line_no));
                    }
                    f(line_no, strip_cr(line)).map_err(LinesError::Stop)?;
                } else {
                    carry.extend_from_slice(line);
                    if carry.len() > MAX_LINE {
                        return Err(LinesError::TooLong(line_no));
                    }
                    f(line_no, strip_cr(&carry)).map_err(LinesError::Stop)?;
                    carry.clear();
                }
            }
            carry.extend_from_slice(&avail[used..]);
            let n = avail.len();
            self.reader.consume(n);
            if carry.len() > MAX_LINE {
                return Err(LinesError::TooLong(line_no + 1));
            }
        }
    }

    /// The digests of everything read; call after the input ended.
    pub(crate) fn finish(self) -> InputEnd {
        let (content, bytes) = self.reader.into_inner().finish();
        let file_sha256 = self.file_hash.map(|h| hex(&h.replace(Sha256::new()).finalize()));
        InputEnd { content_sha256: (!content.is_empty()).then_some(content), file_sha256, bytes }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// How to import a file.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The `source` column of the samples; None: the format's name (`json`, `csv`).
    pub source: Option<String>,
    /// The most samples in one emitted batch (at least 1).
    pub max_rows: usize,
    /// Puts every sample in this run, whatever its testid tag says.
    pub run_id_override: Option<String>,
    /// The file's [`content_sha256`], when the caller already knows it (it does when it checks
    /// the import ledger first). Samples without testid then go to run `import-<hash prefix>`
    /// as they stream. Without it, such samples are held in memory until the end of the input,
    /// where the hash is known: give it for large files without testid.
    pub content_sha256: Option<String>,
    /// The file's [`FileDigests::file_sha256`] (of its bytes as stored), given with
    /// `content_sha256`: the import then checks that the file did not change since it was
    /// hashed on the stored bytes (for gzip, many times fewer than the content's).
    pub file_sha256: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { source: None, max_rows: 65_536, run_id_override: None, content_sha256: None, file_sha256: None }
    }
}

/// What an import saw.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ImportSummary {
    pub format: ImportFormat,
    /// Samples decoded (and emitted).
    pub samples: u64,
    /// Metric declarations (JSON `Metric` lines), one per (run, metric): insert them into
    /// `k6_metrics` with `chute_tables::k6::metrics_batch`. Empty for CSV, which has none.
    #[serde(serialize_with = "serialize_metric_rows")]
    pub metrics: Vec<MetricRow>,
    /// The runs the samples went to.
    pub run_ids: BTreeSet<String>,
    /// Samples per run.
    pub samples_per_run: BTreeMap<String, u64>,
    /// Lines read, including blank lines (and the CSV header).
    pub lines: u64,
    /// Bytes read after decompression.
    pub bytes: u64,
    /// The sha256 (lowercase hex) of the content after decompression.
    pub sha256: String,
}

fn serialize_metric_rows<S: serde::Serializer>(rows: &[MetricRow], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    #[derive(serde::Serialize)]
    struct Row<'a> {
        run_id: &'a str,
        name: &'a str,
        #[serde(rename = "type")]
        metric_type: &'a str,
        contains: &'a str,
        thresholds: &'a [String],
        submetrics: &'a [String],
    }
    let mut seq = s.serialize_seq(Some(rows.len()))?;
    for r in rows {
        seq.serialize_element(&Row {
            run_id: &r.run_id,
            name: &r.name,
            metric_type: &r.metric_type,
            contains: &r.contains,
            thresholds: &r.thresholds,
            submetrics: &r.submetrics,
        })?;
    }
    seq.end()
}

/// The run of samples without testid in an imported file whose content hashes to `sha256`.
pub fn import_run_id(sha256: &str) -> String {
    format!("import-{}", sha256.get(..12).unwrap_or(sha256))
}

fn internal(e: impl std::fmt::Display) -> K6Error {
    K6Error::Internal(e.to_string())
}

/// Replaces the placeholder run id (empty) in the run id column of a `k6_samples` batch.
pub(crate) fn relabel_run(batch: &RecordBatch, run_id: &str) -> Result<RecordBatch, K6Error> {
    let col = batch.column(0);
    let Some(dict) = col.as_any().downcast_ref::<DictionaryArray<Int32Type>>() else {
        return Err(K6Error::Internal("the run id column is not dictionary-encoded".into()));
    };
    let Some(values) = dict.values().as_any().downcast_ref::<StringArray>() else {
        return Err(K6Error::Internal("the run id dictionary does not hold strings".into()));
    };
    let relabeled: StringArray = values
        .iter()
        .map(|v| {
            Some(match v {
                Some("") | None => run_id,
                Some(v) => v,
            })
        })
        .collect();
    let dict = DictionaryArray::try_new(dict.keys().clone(), Arc::new(relabeled)).map_err(internal)?;
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    if let Some(c) = cols.first_mut() {
        *c = Arc::new(dict);
    }
    RecordBatch::try_new(batch.schema(), cols).map_err(internal)
}

/// Counts samples per run without allocating for runs already seen.
pub(crate) fn count_run(per_run: &mut BTreeMap<String, u64>, run_id: &str, n: u64) {
    match per_run.get_mut(run_id) {
        Some(c) => *c += n,
        None => {
            per_run.insert(run_id.to_owned(), n);
        }
    }
}

/// Turns the emit callback's error into [`K6Error::Emit`].
pub(crate) fn emit_err<E: Into<Box<dyn std::error::Error + Send + Sync>>>(
    line: u64,
    rows: usize,
) -> impl FnOnce(E) -> K6Error {
    move |e| K6Error::Emit { line, rows, source: e.into() }
}

/// Parses the integer of a `vu` / `iter` value (k6 writes them as decimal strings).
pub(crate) fn parse_uint<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = e.write_all(data);
        e.finish().unwrap_or_default()
    }

    #[test]
    fn formats_are_recognized_plain_and_inside_gzip() {
        let json = br#"{"type":"Metric","data":{"name":"vus","type":"gauge"},"metric":"vus"}"#;
        let csv = b"metric_name,timestamp,metric_value,check,extra_tags,metadata\n";
        assert_eq!(sniff_format(json), Some(ImportFormat::Json));
        assert_eq!(sniff_format(csv), Some(ImportFormat::Csv));
        assert_eq!(sniff_format(&gz(json)), Some(ImportFormat::Json));
        let big_csv = gz(&csv.repeat(10_000));
        assert_eq!(sniff_format(&big_csv[..100]), Some(ImportFormat::Csv), "a prefix of a gzip stream is enough");
        assert_eq!(sniff_format(b"{\"hello\":1}"), None);
        assert_eq!(sniff_format(b"\x00\x01\x02"), None);
        assert_eq!(sniff_format(b""), None);
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes_and_hashed_after_decompression() {
        let data = b"hello\nworld\n";
        let mut plain = String::new();
        let _ = decompressing_reader(&gz(data)[..]).and_then(|mut r| r.read_to_string(&mut plain));
        assert_eq!(plain, "hello\nworld\n");
        let a = content_sha256(&gz(data)[..]).ok();
        let b = content_sha256(&data[..]).ok();
        assert_eq!(a, b);
        assert_eq!(a.as_deref().map(import_run_id), Some("import-4a1e67f2fe1d".to_owned()));
    }
}
