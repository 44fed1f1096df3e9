//! Segment file encoding: the header, records with checksums, and reading them back (strictly
//! for delivery, leniently for recovery of a torn tail). The layout is in the crate docs.

use crate::SpoolError;
use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::FileDecoder;
use arrow_ipc::writer::StreamWriter;
use arrow_ipc::{Block, MessageHeader};
use std::path::Path;

pub(crate) const MAGIC: &[u8; 8] = b"CHUTESEG";
/// Version 2 headers carry the segment number, and every record's checksum is stamped with it
/// (see [`stamp`]); version 1 (no number, plain checksums) is still read.
pub(crate) const VERSION: u32 = 2;
const KIND_BATCH: u8 = 1;
/// Zeros before a batch record, so that its Arrow IPC stream starts 8-byte aligned in the file
/// ([`padding_before`]). Readers skip records of any kind but a batch, so older versions read
/// segments that have them.
const KIND_PAD: u8 = 2;
const RECORD_HEADER: usize = 9;
/// No record is larger than this (a sanity bound that stops a corrupt length from allocating).
const MAX_RECORD: u32 = 1 << 30;

/// One batch read back from a segment.
#[derive(Debug, Clone)]
pub struct SpoolRecord {
    pub source: String,
    pub batch: RecordBatch,
}

pub(crate) fn header(table: &str, seq: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(26 + table.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&(table.len() as u16).to_le_bytes());
    h.extend_from_slice(table.as_bytes());
    h.extend_from_slice(&seq.to_le_bytes());
    let crc = crc32c::crc32c(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// What a record's stored checksum is XORed with in segment `seq`: a record left in a reused
/// file by an earlier segment (another number) fails the checksum of the segment now in it.
/// Distinct for any two numbers less than 2^32 apart.
fn seq_mix(seq: u64) -> u32 {
    (seq as u32) ^ ((seq >> 32) as u32)
}

/// Stamps one encoded record (from [`encode_batch`]) with the number of the segment it is
/// written to.
pub(crate) fn stamp(record: &mut [u8], seq: u64) {
    if let Some(crc) = record.get_mut(4..8) {
        let stamped = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) ^ seq_mix(seq);
        crc.copy_from_slice(&stamped.to_le_bytes());
    }
}

/// A padding record to write at offset `at` of a segment numbered `seq`, so that the batch
/// record written after it has its Arrow IPC stream at a multiple of 8 bytes into the file; None
/// when the record is aligned at `at` already. Segments are read through a memory map, whose
/// start is page-aligned: an aligned stream's buffers are used where they are, while misaligned
/// ones (offsets, dictionary keys, timestamps) were copied by the reader, ~1% of the CPU of an
/// OTLP logs load.
pub(crate) fn padding_before(at: u64, record: &[u8], seq: u64) -> Option<Vec<u8>> {
    let slen = record.get(RECORD_HEADER..RECORD_HEADER + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))?;
    // The stream follows the record header, the source's length and bytes, and the row count.
    let stream = (RECORD_HEADER + 2 + slen as usize + 4) as u64;
    if (at + stream).is_multiple_of(8) {
        return None;
    }
    let zeros = ((8 - (at + RECORD_HEADER as u64 + stream) % 8) % 8) as usize;
    let mut pad = vec![0u8; RECORD_HEADER + zeros];
    fill_header(&mut pad, zeros as u32, KIND_PAD);
    stamp(&mut pad, seq);
    Some(pad)
}

/// Encodes one batch record (header and payload) into `out`, its checksum not yet stamped with
/// a segment number ([`stamp`]). Returns the row count.
pub(crate) fn encode_batch(out: &mut Vec<u8>, source: &str, batch: &RecordBatch) -> Result<u32, SpoolError> {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER]);
    let source = &source.as_bytes()[..source.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(source.len() as u16).to_le_bytes());
    out.extend_from_slice(source);
    let rows = u32::try_from(batch.num_rows()).map_err(|_| SpoolError::Encode("batch has too many rows".into()))?;
    out.extend_from_slice(&rows.to_le_bytes());
    {
        let mut w = StreamWriter::try_new(&mut *out, &batch.schema()).map_err(|e| SpoolError::Encode(e.to_string()))?;
        w.write(batch).map_err(|e| SpoolError::Encode(e.to_string()))?;
        w.finish().map_err(|e| SpoolError::Encode(e.to_string()))?;
    }
    let payload_len = out.len() - start - RECORD_HEADER;
    let len = u32::try_from(payload_len).ok().filter(|l| *l <= MAX_RECORD).ok_or_else(|| {
        SpoolError::Encode(format!("batch of {payload_len} bytes is larger than a spool record may be"))
    })?;
    fill_header(&mut out[start..], len, KIND_BATCH);
    Ok(rows)
}

/// Writes the header of `record` (its first [`RECORD_HEADER`] bytes, the payload of `len` bytes
/// after them): length, kind, and the checksum of both kind and payload, not yet stamped.
fn fill_header(record: &mut [u8], len: u32, kind: u8) {
    record[8] = kind;
    let crc = crc32c::crc32c(&record[8..]);
    record[..4].copy_from_slice(&len.to_le_bytes());
    record[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// What a segment's header says.
struct Header {
    /// Where the first record starts.
    start: usize,
    /// The segment number (version 2; None for version 1).
    seq: Option<u64>,
}

impl Header {
    /// What the records' checksums are stamped with.
    fn mix(&self) -> u32 {
        self.seq.map_or(0, seq_mix)
    }
}

fn read_header(data: &[u8], path: &Path) -> Result<Header, SpoolError> {
    let corrupt = |r: &str| SpoolError::Corrupt { path: path.display().to_string(), reason: r.into() };
    if data.len() < 14 || &data[..8] != MAGIC {
        return Err(corrupt("missing segment header"));
    }
    let version = u32::from_le_bytes([data[8], data[9], data[10], data[11]]);
    if version != 1 && version != VERSION {
        return Err(corrupt(&format!("unknown segment format version {version}")));
    }
    let tlen = u16::from_le_bytes([data[12], data[13]]) as usize;
    let end = 14 + tlen + if version == 1 { 0 } else { 8 };
    if data.len() < end + 4 {
        return Err(corrupt("truncated segment header"));
    }
    let crc = u32::from_le_bytes([data[end], data[end + 1], data[end + 2], data[end + 3]]);
    if crc32c::crc32c(&data[..end]) != crc {
        return Err(corrupt("segment header checksum mismatch"));
    }
    let seq = (version != 1).then(|| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&data[end - 8..end]);
        u64::from_le_bytes(b)
    });
    Ok(Header { start: end + 4, seq })
}

enum Step<'a> {
    Record { kind: u8, payload: &'a [u8], next: usize },
    End,
    Bad(String),
}

/// Reads the record at `pos` of a segment whose checksums are stamped with `mix`.
fn step(data: &[u8], pos: usize, mix: u32) -> Step<'_> {
    if pos >= data.len() {
        return Step::End;
    }
    if data.len() - pos < RECORD_HEADER {
        return Step::Bad("incomplete record header".into());
    }
    let len = u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]);
    let crc = u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
    if len > MAX_RECORD {
        return Step::Bad(format!("record length {len} out of range"));
    }
    let end = pos + RECORD_HEADER + len as usize;
    if end > data.len() {
        return Step::Bad("incomplete record".into());
    }
    if crc32c::crc32c(&data[pos + 8..end]) ^ mix != crc {
        return Step::Bad("record checksum mismatch".into());
    }
    Step::Record { kind: data[pos + 8], payload: &data[pos + RECORD_HEADER..end], next: end }
}

/// Walks the records of a file image from `start`, calling `f` with each batch payload.
/// Returns the offset after the last good record and, if it stopped early, why.
fn walk<'a>(data: &'a [u8], header: &Header, mut f: impl FnMut(&'a [u8])) -> (usize, Option<String>) {
    let (mut pos, mix) = (header.start, header.mix());
    loop {
        match step(data, pos, mix) {
            Step::Record { kind, payload, next } => {
                if kind == KIND_BATCH {
                    f(payload);
                }
                pos = next;
            }
            Step::End => return (pos, None),
            Step::Bad(reason) => return (pos, Some(reason)),
        }
    }
}

fn payload_rows(payload: &[u8]) -> Option<u64> {
    let slen = u16::from_le_bytes([*payload.first()?, *payload.get(1)?]) as usize;
    let r = payload.get(2 + slen..6 + slen)?;
    Some(u32::from_le_bytes([r[0], r[1], r[2], r[3]]) as u64)
}

/// Recovers the `.open` segment number `seq`: truncates a torn tail (or, in a reused file, the
/// records of the segment that was in it before). Returns (rows, good length, bytes cut).
pub(crate) fn recover_open(path: &Path, seq: u64) -> Result<(u64, u64, u64), SpoolError> {
    let data = std::fs::read(path)?;
    let header = match read_header(&data, path) {
        Ok(h) if h.seq.is_none_or(|s| s == seq) => h,
        // A header that never made it to disk (or, in a reused file, the previous segment's):
        // nothing in this file was acknowledged.
        _ => {
            let f = std::fs::OpenOptions::new().write(true).open(path)?;
            f.set_len(0)?;
            f.sync_all()?;
            return Ok((0, 0, data.len() as u64));
        }
    };
    let mut rows = 0u64;
    let (good, stop) = walk(&data, &header, |p| rows += payload_rows(p).unwrap_or(0));
    let cut = (data.len() - good) as u64;
    if cut > 0 {
        tracing::warn!(path = %path.display(), cut_bytes = cut, reason = stop.as_deref().unwrap_or(""), "truncating torn spool tail");
        let f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.set_len(good as u64)?;
        f.sync_all()?;
    }
    Ok((rows, good as u64, cut))
}

/// Counts rows of a sealed segment from record headers only (no checksum work beyond the
/// walk itself). Returns (rows, file length).
pub(crate) fn scan_sealed(path: &Path) -> Result<(u64, u64), SpoolError> {
    let data = std::fs::read(path)?;
    let header = read_header(&data, path)?;
    let mut rows = 0u64;
    walk(&data, &header, |p| rows += payload_rows(p).unwrap_or(0));
    Ok((rows, data.len() as u64))
}

/// Reads and verifies every record of a sealed segment. The file is memory-mapped, not read:
/// reading a segment of tens of MiB into fresh memory made the kernel zero and then fill it, and
/// the IPC stream reader copied every message once more (together ~10% of the CPU of an OTLP
/// logs load). Arrow buffers are taken from the mapping, copied only where misaligned.
///
/// Returns, beside the records, a watch on the mapping: the file must not be written again (as
/// a reused segment) while it is alive, since the records' memory is the file's.
pub(crate) fn read_all(path: &Path) -> Result<(Vec<SpoolRecord>, MappingWatch), SpoolError> {
    let (data, watch) = map_file(path)?;
    let bytes = data.as_slice();
    let header = read_header(bytes, path)?;
    let mut payloads = Vec::new();
    let (_, stop) = walk(bytes, &header, |p| payloads.push(p));
    if let Some(reason) = stop {
        return Err(SpoolError::Corrupt { path: path.display().to_string(), reason });
    }
    // Each payload as the part of the mapping it covers, sharing its memory.
    let at = |p: &[u8]| p.as_ptr() as usize - bytes.as_ptr() as usize;
    let records: Result<Vec<SpoolRecord>, SpoolError> =
        payloads.into_iter().map(|p| decode_buffer(data.slice_with_length(at(p), p.len()), path)).collect();
    Ok((records?, watch))
}

/// One record's payload (source, row count, Arrow IPC stream) as a batch whose buffers share
/// `payload`'s memory.
fn decode_buffer(payload: Buffer, path: &Path) -> Result<SpoolRecord, SpoolError> {
    let corrupt = |r: String| SpoolError::Corrupt { path: path.display().to_string(), reason: r };
    let p = payload.as_slice();
    let slen = match p {
        [a, b, ..] => u16::from_le_bytes([*a, *b]) as usize,
        _ => return Err(corrupt("short record".into())),
    };
    let source = std::str::from_utf8(p.get(2..2 + slen).ok_or_else(|| corrupt("short source".into()))?)
        .map_err(|e| corrupt(e.to_string()))?
        .to_string();
    if p.len() < 6 + slen {
        return Err(corrupt("short record".into()));
    }
    let ipc = payload.slice(6 + slen);
    decode_stream(&ipc)
        .map_err(|e| corrupt(format!("arrow ipc: {e}")))?
        .map_or_else(|| Err(corrupt("record holds no batch".into())), |batch| Ok(SpoolRecord { source, batch }))
}

/// The first batch of an Arrow IPC stream (its schema message, dictionary messages, then the
/// batch), its buffers sharing `ipc`'s memory; None when the stream ends before a batch.
///
/// The messages are walked here and read with a [`FileDecoder`] rather than a `StreamDecoder`,
/// because only the former skips validation of the record batch (arrow-ipc 60 passes the
/// setting on to dictionaries only). Validation (offsets within their buffers, UTF-8 text,
/// dictionary keys within their values) was ~18% of the delivery thread's CPU under OTLP logs.
fn decode_stream(ipc: &Buffer) -> Result<Option<RecordBatch>, String> {
    let bytes = ipc.as_slice();
    let mut decoder: Option<FileDecoder> = None;
    let word = |at: usize| -> Result<u32, String> {
        let b = bytes.get(at..at + 4).ok_or("truncated message prefix")?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut pos = 0usize;
    while pos < bytes.len() {
        // Each message: the continuation marker, the metadata's length, the metadata, the body.
        let (prefix, meta_len) = match word(pos)? {
            u32::MAX => (8, word(pos + 4)? as usize),
            len => (4, len as usize),
        };
        if meta_len == 0 {
            break; // end of stream
        }
        let meta = bytes.get(pos + prefix..pos + prefix + meta_len).ok_or("truncated message")?;
        let message = arrow_ipc::root_as_message(meta).map_err(|e| format!("bad message: {e}"))?;
        let body_len = usize::try_from(message.bodyLength()).map_err(|_| "negative body length")?;
        let whole = prefix + meta_len + body_len;
        if pos + whole > bytes.len() {
            return Err("truncated message body".into());
        }
        let block = Block::new(0, (prefix + meta_len) as i32, body_len as i64);
        let buf = ipc.slice_with_length(pos, whole);
        match message.header_type() {
            MessageHeader::Schema => {
                let schema = message.header_as_schema().ok_or("unreadable schema")?;
                let schema = arrow_ipc::convert::try_fb_to_schema(schema).map_err(|e| e.to_string())?;
                // SAFETY: validation is skipped. A payload is what `encode_batch` wrote from
                // arrays that were valid, and `walk` checked its CRC32C before it came here: a
                // payload that changed on disk fails that check and never reaches the decoder.
                // Segment files are chute's own (the data directory is locked to one process).
                decoder = Some(unsafe {
                    FileDecoder::new(std::sync::Arc::new(schema), message.version()).with_skip_validation(true)
                });
            }
            MessageHeader::DictionaryBatch => {
                let d = decoder.as_mut().ok_or("dictionary before the schema")?;
                d.read_dictionary(&block, &buf).map_err(|e| e.to_string())?;
            }
            MessageHeader::RecordBatch => {
                let d = decoder.as_ref().ok_or("batch before the schema")?;
                return d.read_record_batch(&block, &buf).map_err(|e| e.to_string());
            }
            other => return Err(format!("unexpected message {other:?}")),
        }
        pos += whole;
    }
    Ok(None)
}

/// A read-only mapping of a whole sealed segment, unmapped when the last buffer taken from it is
/// dropped. Sealed segments are never written again, only renamed or deleted (which leaves a
/// mapping valid), and the data directory is locked to one process: nothing truncates a mapped
/// file (which would make reading it fault).
pub(crate) struct Mapping {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

/// Alive (upgradable) while some buffer still uses a segment's mapping.
pub(crate) type MappingWatch = std::sync::Weak<Mapping>;

// SAFETY: the mapping is read-only and unmapped only in `drop`; sharing it between threads is
// sharing immutable memory.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}
impl std::panic::RefUnwindSafe for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

fn map_file(path: &Path) -> Result<(Buffer, MappingWatch), SpoolError> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path)?;
    let len = usize::try_from(file.metadata()?.len()).map_err(|_| SpoolError::Io("segment too large to map".into()))?;
    if len == 0 {
        return Ok((Buffer::from_vec(Vec::<u8>::new()), MappingWatch::new()));
    }
    // SAFETY: a new private, read-only mapping of the whole of a file we hold open; see `Mapping`
    // for why the file does not shrink under it.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0) };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: advice on the range just mapped; failing advice changes nothing.
    unsafe { libc::madvise(p, len, libc::MADV_SEQUENTIAL) };
    let ptr = std::ptr::NonNull::new(p.cast::<u8>()).ok_or_else(|| SpoolError::Io("mmap returned null".into()))?;
    let owner = std::sync::Arc::new(Mapping { ptr, len });
    let watch = std::sync::Arc::downgrade(&owner);
    // SAFETY: `ptr..ptr + len` is mapped readable and stays mapped while `owner` lives, and the
    // buffer holds `owner`.
    Ok((unsafe { Buffer::from_custom_allocation(ptr, len, owner) }, watch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{MapBuilder, StringBuilder, StringDictionaryBuilder};
    use arrow_array::types::Int32Type;
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    /// A batch with the column kinds OTLP tables have: a dictionary (LowCardinality), a map of
    /// strings, text with nulls and a number.
    fn otlp_like(rows: usize) -> RecordBatch {
        let mut dict = StringDictionaryBuilder::<Int32Type>::new();
        let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        let mut text = Vec::new();
        for i in 0..rows {
            dict.append_value(["checkout", "cart", "ad"][i % 3]);
            for k in 0..i % 4 {
                map.keys().append_value(format!("key.{k}"));
                map.values().append_value(format!("value {i} é"));
            }
            map.append(true).unwrap();
            text.push((i % 5 != 0).then(|| format!("body {i}")));
        }
        RecordBatch::try_from_iter([
            ("service", Arc::new(dict.finish()) as ArrayRef),
            ("attributes", Arc::new(map.finish()) as ArrayRef),
            ("body", Arc::new(StringArray::from(text)) as ArrayRef),
            ("n", Arc::new(Int64Array::from_iter_values(0..rows as i64)) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn a_record_reads_back_as_the_batch_that_was_encoded() {
        for rows in [0, 1, 7, 1000] {
            let batch = otlp_like(rows);
            let mut bytes = Vec::new();
            assert_eq!(encode_batch(&mut bytes, "otlp-http", &batch).unwrap(), rows as u32);
            let payload = Buffer::from_vec(bytes[RECORD_HEADER..].to_vec());
            let record = decode_buffer(payload, Path::new("t.seg")).unwrap();
            assert_eq!(record.source, "otlp-http");
            assert_eq!(record.batch, batch, "{rows} rows");
        }
    }

    #[test]
    fn a_stream_cut_short_is_an_error_not_a_batch() {
        let mut bytes = Vec::new();
        encode_batch(&mut bytes, "s", &otlp_like(50)).unwrap();
        let ipc = &bytes[RECORD_HEADER + 2 + 1 + 4..];
        for cut in [3, 12, ipc.len() / 2, ipc.len() - 9] {
            let got = decode_stream(&Buffer::from_vec(ipc[..cut].to_vec()));
            assert!(matches!(got, Err(_) | Ok(None)), "cut at {cut} gave a batch");
        }
        let whole = decode_stream(&Buffer::from_vec(ipc.to_vec())).unwrap().unwrap();
        assert_eq!(whole.num_rows(), 50);
    }
}
