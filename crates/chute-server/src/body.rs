//! Request bodies: read with a size limit that applies after decompression (gzip, deflate,
//! zstd, snappy as senders use them), so a small compressed body cannot expand past the limit.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use http_body_util::BodyExt;
use std::io::Read;

/// How the body is compressed, from `Content-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Zstd,
}

pub fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(v) = headers.get(axum::http::header::CONTENT_ENCODING) else { return Ok(Encoding::Identity) };
    let v = v.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match v.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        "deflate" => Ok(Encoding::Deflate),
        "zstd" => Ok(Encoding::Zstd),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Encoding {other:?} (use gzip, zstd, deflate or none)"
        ))),
    }
}

/// Reads the raw body, refusing more than `limit` bytes on the wire.
pub async fn read_raw(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(body, limit as usize);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                Err(ApiError::TooLarge { limit })
            } else {
                Err(ApiError::BadRequest(format!("cannot read request body: {e}")))
            }
        }
    }
}

/// Reads the body and decompresses it per `Content-Encoding`, with `limit` applying to both the
/// wire bytes and the decompressed bytes.
pub async fn read(headers: &HeaderMap, body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let enc = encoding(headers)?;
    let raw = read_raw(body, limit).await?;
    decompress(enc, raw, limit)
}

pub fn decompress(enc: Encoding, raw: Bytes, limit: u64) -> Result<Bytes, ApiError> {
    let name = match enc {
        Encoding::Identity => return Ok(raw),
        Encoding::Gzip => "gzip",
        Encoding::Deflate => "deflate",
        Encoding::Zstd => "zstd",
    };
    let reader: Box<dyn Read> = match enc {
        Encoding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&raw[..])),
        Encoding::Zstd => Box::new(
            zstd::stream::read::Decoder::new(&raw[..])
                .map_err(|e| ApiError::BadRequest(format!("invalid zstd body: {e}")))?,
        ),
        _ => Box::new(flate2::read::ZlibDecoder::new(&raw[..])),
    };
    let mut out = Vec::with_capacity((raw.len() * 4).min(limit as usize));
    let n = reader
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("invalid {name} body: {e}")))?;
    if n as u64 > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_is_decompressed_within_the_limit() {
        let body = gz(b"hello world");
        assert_eq!(&decompress(Encoding::Gzip, Bytes::from(body), 100).unwrap()[..], b"hello world");
    }

    #[test]
    fn a_small_body_that_expands_past_the_limit_is_too_large() {
        let body = gz(&vec![b'a'; 1_000_000]);
        assert!(body.len() < 10_000);
        assert!(matches!(decompress(Encoding::Gzip, Bytes::from(body), 100_000), Err(ApiError::TooLarge { .. })));
    }

    #[test]
    fn zstd_is_decompressed_within_the_limit() {
        let body = zstd::stream::encode_all(&b"hello zstd"[..], 3).unwrap();
        assert_eq!(&decompress(Encoding::Zstd, Bytes::from(body), 100).unwrap()[..], b"hello zstd");
        let big = zstd::stream::encode_all(&vec![b'z'; 1_000_000][..], 3).unwrap();
        assert!(matches!(decompress(Encoding::Zstd, Bytes::from(big), 10_000), Err(ApiError::TooLarge { .. })));
    }

    #[test]
    fn truncated_gzip_is_a_bad_request_naming_gzip() {
        let body = gz(&vec![b'a'; 100_000]);
        let cut = Bytes::from(body[..body.len() / 2].to_vec());
        let e = decompress(Encoding::Gzip, cut, 1 << 20).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(ref m) if m.starts_with("invalid gzip body")), "{e}");
    }
}
