//! OTLP log requests read straight from their protobuf bytes into the `otel_logs` columns.
//! Strings are borrowed from the body (checked to be UTF-8, as prost checks them) and copied once,
//! into the column builders, instead of first into owned messages.
//!
//! The reader takes the requests SDKs and collectors send. It hands any other request back
//! (`None`), and prost and `convert::logs` decode it, so results and errors are exactly theirs:
//! - anything malformed: a truncated field, a known field of the wrong wire type, text that is
//!   not UTF-8;
//! - a message field given twice (prost merges the two);
//! - an attribute map over `Limits::max_attributes`;
//! - an array or map value, whose text is the JSON that `value::format_value` writes.
//!
//! Otherwise it follows prost's rules: fields in any order, the last value of a scalar wins,
//! unknown fields of every wire type are skipped.

use crate::convert::{Ctx, hex_or_empty, id_ok, id_problem, ns};
use crate::value::{format_double, prefix_within};
use crate::{Decoded, Limits};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chute_protowire::{FIXED32, FIXED64, LEN, RECURSION_LIMIT, VARINT, fixed, key, len_delimited, skip, utf8, varint};
use chute_tables::otel::{LOGS, LogRow, LogsBuilder};
use std::fmt::Write;

/// The request is left to prost and `convert`.
struct Handover;

type Read<T> = Result<T, Handover>;

impl From<String> for Handover {
    fn from(_: String) -> Self {
        Handover
    }
}

/// Decodes an `ExportLogsServiceRequest`, or `None` when the general path must (see the module
/// documentation).
pub(crate) fn logs(body: &[u8], limits: &Limits) -> Option<Decoded> {
    let mut w = Writer {
        cx: Ctx::new(limits),
        b: LogsBuilder::new(),
        scopes: Vec::new(),
        records: Vec::new(),
        attrs: Vec::new(),
        service: String::new(),
    };
    request(body, &mut w).ok()?;
    let batches = if w.b.is_empty() { Vec::new() } else { vec![(LOGS.name, w.b.finish())] };
    Some(w.cx.finish("log records", batches))
}

/// What one decode writes into, and the field lists it reuses (each the bytes of a message).
struct Writer<'l, 'a> {
    cx: Ctx<'l>,
    b: LogsBuilder,
    scopes: Vec<&'a [u8]>,
    records: Vec<&'a [u8]>,
    attrs: Vec<&'a [u8]>,
    /// `service.name` of the current resource.
    service: String,
}

/// The columns a log record takes from its resource and scope.
#[derive(Default)]
struct Origin<'a> {
    resource_schema_url: &'a str,
    scope_schema_url: &'a str,
    scope_name: &'a str,
    scope_version: &'a str,
}

#[inline]
fn want(wire: u8, expected: u8) -> Read<()> {
    if wire == expected { Ok(()) } else { Err(Handover) }
}

#[inline]
fn text<'a>(buf: &mut &'a [u8]) -> Read<&'a str> {
    utf8(len_delimited(buf)?).map_err(|_| Handover)
}

/// An `AnyValue` that is not an array or a map.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Empty,
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
}

impl<'a> Scalar<'a> {
    /// The value's text as `value::format_value` writes it: a string borrowed, anything else
    /// written into `buf`.
    fn text<'s>(self, buf: &'s mut String) -> &'s str
    where
        'a: 's,
    {
        buf.clear();
        match self {
            Scalar::Str(s) => return s,
            Scalar::Empty => {}
            Scalar::Bool(b) => buf.push_str(if b { "true" } else { "false" }),
            Scalar::Int(i) => {
                let _ = write!(buf, "{i}");
            }
            Scalar::Double(d) => format_double(d, buf),
            Scalar::Bytes(b) => STANDARD.encode_string(b, buf),
        }
        buf
    }
}

fn any_value(mut buf: &[u8], depth: u32) -> Read<Scalar<'_>> {
    let mut v = Scalar::Empty;
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        v = match field {
            1 => {
                want(wire, LEN)?;
                Scalar::Str(text(&mut buf)?)
            }
            2 => {
                want(wire, VARINT)?;
                Scalar::Bool(varint(&mut buf)? != 0)
            }
            3 => {
                want(wire, VARINT)?;
                Scalar::Int(varint(&mut buf)? as i64)
            }
            4 => {
                want(wire, FIXED64)?;
                Scalar::Double(f64::from_le_bytes(fixed::<8>(&mut buf)?))
            }
            7 => {
                want(wire, LEN)?;
                Scalar::Bytes(len_delimited(&mut buf)?)
            }
            // Arrays and maps.
            5 | 6 => return Err(Handover),
            _ => {
                skip(&mut buf, field, wire, depth)?;
                continue;
            }
        };
    }
    Ok(v)
}

fn key_value(mut buf: &[u8], depth: u32) -> Read<(&str, Scalar<'_>)> {
    let (mut k, mut v, mut has_value) = ("", Scalar::Empty, false);
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                want(wire, LEN)?;
                k = text(&mut buf)?;
            }
            2 => {
                want(wire, LEN)?;
                if std::mem::replace(&mut has_value, true) {
                    return Err(Handover);
                }
                v = any_value(len_delimited(&mut buf)?, depth - 1)?;
            }
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }
    Ok((k, v))
}

/// The attributes in `fields` (each a `KeyValue`), as text within the limits, to `sink`.
fn attributes(fields: &[&[u8]], cx: &mut Ctx<'_>, depth: u32, mut sink: impl FnMut(&str, &str)) -> Read<()> {
    if fields.len() > cx.limits.max_attributes {
        return Err(Handover);
    }
    let max_len = cx.limits.max_attribute_value_len;
    for f in fields {
        let (k, v) = key_value(f, depth)?;
        let full = v.text(&mut cx.buf);
        let kept = prefix_within(full, max_len);
        if kept.len() < full.len() {
            cx.truncated += 1;
        }
        sink(k, kept);
    }
    Ok(())
}

fn request<'a>(mut buf: &'a [u8], w: &mut Writer<'_, 'a>) -> Read<()> {
    let depth = RECURSION_LIMIT;
    let mut ri = 0;
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        if field == 1 {
            want(wire, LEN)?;
            resource_logs(len_delimited(&mut buf)?, ri, w, depth - 1)?;
            ri += 1;
        } else {
            skip(&mut buf, field, wire, depth)?;
        }
    }
    Ok(())
}

fn resource_logs<'a>(mut buf: &'a [u8], ri: usize, w: &mut Writer<'_, 'a>, depth: u32) -> Read<()> {
    let mut scopes = std::mem::take(&mut w.scopes);
    scopes.clear();
    let (mut resource, mut schema_url) = (None, "");
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                want(wire, LEN)?;
                if resource.replace(len_delimited(&mut buf)?).is_some() {
                    return Err(Handover);
                }
            }
            2 => {
                want(wire, LEN)?;
                scopes.push(len_delimited(&mut buf)?);
            }
            3 => {
                want(wire, LEN)?;
                schema_url = text(&mut buf)?;
            }
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }

    w.attrs.clear();
    if let Some(mut r) = resource {
        while !r.is_empty() {
            let (field, wire) = key(&mut r)?;
            match field {
                1 => {
                    want(wire, LEN)?;
                    w.attrs.push(len_delimited(&mut r)?);
                }
                2 => {
                    want(wire, VARINT)?;
                    varint(&mut r)?;
                }
                _ => skip(&mut r, field, wire, depth - 1)?,
            }
        }
    }
    // `service.name`: the first such attribute, whole (as `convert::service_name`).
    w.service.clear();
    for f in &w.attrs {
        let (k, v) = key_value(f, depth - 2)?;
        if k == "service.name" {
            let mut buf = String::new();
            w.service.push_str(v.text(&mut buf));
            break;
        }
    }
    let mut set = std::mem::take(&mut w.cx.resource);
    set.clear();
    attributes(&w.attrs, &mut w.cx, depth - 2, |k, v| set.push(k, v))?;
    w.cx.resource = set;

    let origin = Origin { resource_schema_url: schema_url, ..Origin::default() };
    for (si, s) in scopes.iter().enumerate() {
        scope_logs(s, (ri, si), &origin, w, depth - 1)?;
    }
    w.scopes = scopes;
    Ok(())
}

fn scope_logs<'a>(
    mut buf: &'a [u8],
    at: (usize, usize),
    origin: &Origin<'a>,
    w: &mut Writer<'_, 'a>,
    depth: u32,
) -> Read<()> {
    let mut records = std::mem::take(&mut w.records);
    records.clear();
    let mut scope = None;
    let mut origin = Origin { resource_schema_url: origin.resource_schema_url, ..Origin::default() };
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                want(wire, LEN)?;
                if scope.replace(len_delimited(&mut buf)?).is_some() {
                    return Err(Handover);
                }
            }
            2 => {
                want(wire, LEN)?;
                records.push(len_delimited(&mut buf)?);
            }
            3 => {
                want(wire, LEN)?;
                origin.scope_schema_url = text(&mut buf)?;
            }
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }

    w.attrs.clear();
    if let Some(mut s) = scope {
        while !s.is_empty() {
            let (field, wire) = key(&mut s)?;
            match field {
                1 => {
                    want(wire, LEN)?;
                    origin.scope_name = text(&mut s)?;
                }
                2 => {
                    want(wire, LEN)?;
                    origin.scope_version = text(&mut s)?;
                }
                3 => {
                    want(wire, LEN)?;
                    w.attrs.push(len_delimited(&mut s)?);
                }
                4 => {
                    want(wire, VARINT)?;
                    varint(&mut s)?;
                }
                _ => skip(&mut s, field, wire, depth - 1)?,
            }
        }
    }
    let mut set = std::mem::take(&mut w.cx.scope);
    set.clear();
    attributes(&w.attrs, &mut w.cx, depth - 2, |k, v| set.push(k, v))?;
    w.cx.scope = set;

    for (li, r) in records.iter().enumerate() {
        log_record(r, (at.0, at.1, li), &origin, w, depth - 1)?;
    }
    w.records = records;
    Ok(())
}

fn log_record<'a>(
    mut buf: &'a [u8],
    at: (usize, usize, usize),
    origin: &Origin<'a>,
    w: &mut Writer<'_, 'a>,
    depth: u32,
) -> Read<()> {
    let (mut time, mut observed, mut severity_number, mut flags) = (0u64, 0u64, 0i32, 0u32);
    let (mut severity_text, mut event_name, mut trace_id, mut span_id): (&str, &str, &[u8], &[u8]) = ("", "", &[], &[]);
    let mut body = None;
    w.attrs.clear();
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                want(wire, FIXED64)?;
                time = u64::from_le_bytes(fixed::<8>(&mut buf)?);
            }
            11 => {
                want(wire, FIXED64)?;
                observed = u64::from_le_bytes(fixed::<8>(&mut buf)?);
            }
            2 => {
                want(wire, VARINT)?;
                severity_number = varint(&mut buf)? as i32;
            }
            3 => {
                want(wire, LEN)?;
                severity_text = text(&mut buf)?;
            }
            5 => {
                want(wire, LEN)?;
                let v = any_value(len_delimited(&mut buf)?, depth - 1)?;
                if body.replace(v).is_some() {
                    return Err(Handover);
                }
            }
            6 => {
                want(wire, LEN)?;
                w.attrs.push(len_delimited(&mut buf)?);
            }
            7 => {
                want(wire, VARINT)?;
                varint(&mut buf)?;
            }
            8 => {
                want(wire, FIXED32)?;
                flags = u32::from_le_bytes(fixed::<4>(&mut buf)?);
            }
            9 => {
                want(wire, LEN)?;
                trace_id = len_delimited(&mut buf)?;
            }
            10 => {
                want(wire, LEN)?;
                span_id = len_delimited(&mut buf)?;
            }
            12 => {
                want(wire, LEN)?;
                event_name = text(&mut buf)?;
            }
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }

    let bad = if !id_ok(trace_id, 16) {
        Some(id_problem("trace_id", trace_id, 16))
    } else if !id_ok(span_id, 8) {
        Some(id_problem("span_id", span_id, 8))
    } else {
        None
    };
    if let Some(problem) = bad {
        // Refused, but prost would still have read its attributes: they must be well-formed.
        for f in &w.attrs {
            key_value(f, depth - 1)?;
        }
        let (ri, si, li) = at;
        w.cx.reject(|| format!("resource_logs[{ri}].scope_logs[{si}].log_records[{li}]: {problem}"));
        return Ok(());
    }

    w.cx.resource.insert_into(&mut w.b.resource_attributes);
    w.cx.scope.insert_into(&mut w.b.scope_attributes);
    let log_attributes = &mut w.b.log_attributes;
    attributes(&w.attrs, &mut w.cx, depth - 1, |k, v| log_attributes.insert(k, v))?;
    let body = body.unwrap_or(Scalar::Empty).text(&mut w.cx.buf);
    let ts = if time == 0 { observed } else { time };
    let (mut tb, mut sb) = ([0u8; 32], [0u8; 32]);
    w.b.end_row(&LogRow {
        timestamp_ns: ns(ts),
        trace_id: hex_or_empty(trace_id, &mut tb),
        span_id: hex_or_empty(span_id, &mut sb),
        trace_flags: flags as u8,
        severity_text,
        severity_number: severity_number as u8,
        service_name: &w.service,
        body,
        resource_schema_url: origin.resource_schema_url,
        scope_schema_url: origin.scope_schema_url,
        scope_name: origin.scope_name,
        scope_version: origin.scope_version,
        event_name,
    });
    w.cx.accepted += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::any_value::Value;
    use crate::proto::*;
    use prost::Message;

    /// What prost and `convert::logs` make of `body`: the reference.
    fn general(body: &[u8], limits: &Limits) -> Result<Decoded, String> {
        ExportLogsServiceRequest::decode(body).map(|r| crate::convert::logs(&r, limits)).map_err(|e| e.to_string())
    }

    fn assert_same(a: &Decoded, b: &Decoded, what: &str) {
        assert_eq!(a.batches.len(), b.batches.len(), "{what}: tables");
        for ((ta, ba), (tb, bb)) in a.batches.iter().zip(&b.batches) {
            assert_eq!(ta, tb, "{what}");
            assert_eq!(ba, bb, "{what}: {ta}");
        }
        assert_eq!(
            (a.accepted, a.rejected, &a.rejection_message, a.truncated_attributes, a.dropped_attributes),
            (b.accepted, b.rejected, &b.rejection_message, b.truncated_attributes, b.dropped_attributes),
            "{what}: counters"
        );
    }

    /// The reader takes `body` and reads it as the general path does.
    fn read_same(body: &[u8], limits: &Limits, what: &str) -> Decoded {
        let ours = logs(body, limits).unwrap_or_else(|| panic!("{what}: handed over"));
        assert_same(&ours, &general(body, limits).unwrap(), what);
        ours
    }

    fn fixture(path: &str) -> Vec<u8> {
        let p = format!("{}/../../fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
    }

    #[test]
    fn the_sdk_requests_are_read_as_prost_reads_them() {
        for path in ["otel-python-sdk/http/body-003.bin", "otel-python-sdk/grpc/grpc-003.bin"] {
            let d = read_same(&fixture(path), &Limits::default(), path);
            assert_eq!(d.accepted, 40, "{path}");
        }
    }

    /// A small deterministic generator (xorshift), so that every run checks the same requests.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn text(&mut self) -> String {
            const PARTS: [&str; 8] = ["", "a", "service.name", "GET /api", "é", "€uro", "ok ", "日本"];
            (0..self.below(4)).map(|_| PARTS[self.below(8) as usize]).collect()
        }
        fn id(&mut self, len: usize) -> Vec<u8> {
            match self.below(8) {
                0 => Vec::new(),
                1 => vec![0; len],
                2 => vec![7; len - 1],
                _ => (0..len).map(|_| self.next() as u8).collect(),
            }
        }
        fn value(&mut self) -> Option<AnyValue> {
            let v = match self.below(9) {
                0 => return None,
                1 => None,
                2 => Some(Value::BoolValue(self.below(2) == 1)),
                3 => Some(Value::IntValue(self.next() as i64 >> self.below(64))),
                4 => Some(Value::DoubleValue(
                    [0.0, -1.5, 1e21, 1e-7, f64::NAN, f64::INFINITY, 0.1][self.below(7) as usize],
                )),
                5 => Some(Value::BytesValue((0..self.below(6)).map(|i| i as u8).collect())),
                _ => Some(Value::StringValue(self.text())),
            };
            Some(AnyValue { value: v })
        }
        fn attrs(&mut self) -> Vec<KeyValue> {
            (0..self.below(5)).map(|_| KeyValue { key: self.text(), value: self.value() }).collect()
        }
        fn request(&mut self) -> ExportLogsServiceRequest {
            let resource_logs = (0..self.below(3))
                .map(|_| ResourceLogs {
                    resource: (self.below(4) > 0).then(|| {
                        let mut attributes = self.attrs();
                        if self.below(2) == 1 {
                            attributes.push(KeyValue { key: "service.name".into(), value: self.value() });
                        }
                        Resource { attributes, dropped_attributes_count: self.below(3) as u32 }
                    }),
                    scope_logs: (0..self.below(3))
                        .map(|_| ScopeLogs {
                            scope: (self.below(4) > 0).then(|| InstrumentationScope {
                                name: self.text(),
                                version: self.text(),
                                attributes: self.attrs(),
                                dropped_attributes_count: 0,
                            }),
                            log_records: (0..self.below(5))
                                .map(|_| LogRecord {
                                    time_unix_nano: self.below(3) * u64::MAX / 2,
                                    observed_time_unix_nano: self.next(),
                                    severity_number: self.below(300) as i32 - 10,
                                    severity_text: self.text(),
                                    body: self.value(),
                                    attributes: self.attrs(),
                                    dropped_attributes_count: self.below(2) as u32,
                                    flags: self.next() as u32,
                                    trace_id: self.id(16),
                                    span_id: self.id(8),
                                    event_name: self.text(),
                                })
                                .collect(),
                            schema_url: self.text(),
                        })
                        .collect(),
                    schema_url: self.text(),
                })
                .collect();
            ExportLogsServiceRequest { resource_logs }
        }
    }

    #[test]
    fn generated_requests_are_read_as_prost_reads_them() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let (mut rows, mut rejected, mut truncated) = (0, 0, 0);
        for limits in [Limits::default(), Limits { max_attributes: 8, max_attribute_value_len: 3 }] {
            for i in 0..400 {
                let body = g.request().encode_to_vec();
                let d = read_same(&body, &limits, &format!("request {i}"));
                rows += d.accepted;
                rejected += d.rejected;
                truncated += d.truncated_attributes;
            }
        }
        // The generator reaches what it is meant to: rows, refused ids and cut values.
        assert!(rows > 1000 && rejected > 100 && truncated > 100, "{rows} {rejected} {truncated}");
    }

    /// Protobuf bytes by hand, for what prost never writes.
    fn varint_bytes(mut v: u64, out: &mut Vec<u8>) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(n: u32, wire: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint_bytes(u64::from(n << 3 | u32::from(wire)), &mut out);
        if wire == LEN {
            varint_bytes(payload.len() as u64, &mut out);
        }
        out.extend_from_slice(payload);
        out
    }
    fn msg(n: u32, parts: &[Vec<u8>]) -> Vec<u8> {
        field(n, LEN, &parts.concat())
    }
    fn string(n: u32, s: &str) -> Vec<u8> {
        field(n, LEN, s.as_bytes())
    }
    /// An unknown field of every wire type, a group holding a nested group included.
    fn unknowns() -> Vec<u8> {
        let mut v = field(90, VARINT, &[0x96, 0x01]);
        v.extend(field(91, FIXED64, &[1; 8]));
        v.extend(field(92, LEN, b"skipped"));
        v.extend(field(93, FIXED32, &[2; 4]));
        v.extend(field(94, 3, &[]));
        v.extend(field(95, 3, &field(1, VARINT, &[5])));
        v.extend(field(95, 4, &[]));
        v.extend(field(94, 4, &[]));
        v
    }
    fn kv(k: &str, v: &str) -> Vec<u8> {
        msg(0, &[string(1, k), msg(2, &[string(1, v)])])[2..].to_vec()
    }
    fn attr(n: u32, k: &str, v: &str) -> Vec<u8> {
        field(n, LEN, &kv(k, v))
    }
    fn record(extra: &[u8]) -> Vec<u8> {
        [
            extra.to_vec(),
            field(12, LEN, b"event"),
            attr(6, "k", "v"),
            field(1, FIXED64, &7u64.to_le_bytes()),
            msg(5, &[string(1, "body")]),
            field(2, VARINT, &[9]),
            string(3, "INFO"),
            field(9, LEN, &[1; 16]),
        ]
        .concat()
    }
    fn request(resource: &[u8], scope: &[u8], record: &[u8]) -> Vec<u8> {
        msg(
            1,
            &[
                // Records before their scope, scopes before their resource.
                msg(2, &[field(2, LEN, record), scope.to_vec(), string(3, "scope-url")]),
                resource.to_vec(),
                string(3, "resource-url"),
            ],
        )
    }

    #[test]
    fn fields_in_any_order_unknown_fields_and_repeated_scalars_are_read_as_prost_reads_them() {
        let resource = msg(1, &[attr(1, "service.name", "svc"), unknowns(), attr(1, "host", "h")]);
        let scope = msg(1, &[string(1, "lib"), unknowns(), string(2, "1.0"), attr(3, "s", "t")]);
        let body = request(&resource, &scope, &record(&unknowns()));
        let d = read_same(&body, &Limits::default(), "out of order");
        assert_eq!(d.accepted, 1);
        let mut top = unknowns();
        top.extend(&body);
        top.extend(unknowns());
        read_same(&top, &Limits::default(), "unknown top-level fields");

        // The last of a repeated scalar wins: severity text, event name, trace id, body value.
        let again = [
            string(3, "WARN"),
            string(12, "later"),
            field(9, LEN, &[]),
            field(2, VARINT, &[0xff, 0x01]),
            field(1, FIXED64, &0u64.to_le_bytes()),
        ]
        .concat();
        let twice = [record(&[]), again].concat();
        let d = read_same(&request(&resource, &scope, &twice), &Limits::default(), "repeated scalars");
        assert_eq!(d.accepted, 1);
        let oneof = msg(0, &[string(1, "text"), field(3, VARINT, &[42])])[2..].to_vec();
        read_same(&request(&resource, &scope, &field(5, LEN, &oneof)), &Limits::default(), "oneof, last wins");
    }

    #[test]
    fn what_prost_merges_or_formats_as_json_is_handed_over() {
        let resource = msg(1, &[attr(1, "a", "b")]);
        let scope = msg(1, &[string(1, "lib")]);
        let limits = Limits::default();
        let handed = |body: Vec<u8>, what: &str| {
            assert!(logs(&body, &limits).is_none(), "{what}");
            // And the general path decodes it.
            assert!(crate::decode(crate::Signal::Logs, crate::Encoding::Protobuf, &body, &limits).is_ok(), "{what}");
        };
        handed(request(&[resource.clone(), resource.clone()].concat(), &scope, &record(&[])), "resource twice");
        handed(request(&resource, &[scope.clone(), scope.clone()].concat(), &record(&[])), "scope twice");
        handed(request(&resource, &scope, &[record(&[]), msg(5, &[string(1, "b")])].concat()), "body twice");
        let array = msg(5, &[msg(5, &[msg(1, &[string(1, "x")])])]);
        handed(request(&resource, &scope, &array), "array body");
        let map = [field(6, LEN, &msg(0, &[string(1, "k"), msg(2, &[msg(6, &[])])])[2..])].concat();
        handed(request(&resource, &scope, &map), "map attribute");
        let many: Vec<u8> = (0..129).flat_map(|i| attr(6, &format!("k{i}"), "v")).collect();
        handed(request(&resource, &scope, &many), "over max_attributes");
        // A refused record's attributes over the limit are not counted: it is read here.
        let refused = [many.clone(), field(10, LEN, &[1; 3])].concat();
        let d = read_same(&request(&resource, &scope, &refused), &limits, "refused record");
        assert_eq!((d.accepted, d.rejected), (0, 1));
        assert!(d.rejection_message.unwrap().contains("log_records[0]: span_id has 3 bytes"));
    }

    #[test]
    fn malformed_requests_get_prosts_errors() {
        let good = request(&msg(1, &[attr(1, "a", "b")]), &msg(1, &[string(1, "lib")]), &record(&[]));
        let limits = Limits::default();
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        for cut in 1..good.len() {
            cases.push((format!("cut at {cut}"), good[..cut].to_vec()));
        }
        for at in 0..good.len() {
            for flip in [0x80u8, 0x07, 0xff] {
                let mut b = good.clone();
                b[at] ^= flip;
                cases.push((format!("byte {at} ^ {flip:#x}"), b));
            }
        }
        let (mut errors, mut handed) = (0, 0);
        for (what, body) in cases {
            let decoded = crate::decode(crate::Signal::Logs, crate::Encoding::Protobuf, &body, &limits);
            match (decoded, general(&body, &limits)) {
                (Ok(a), Ok(b)) => assert_same(&a, &b, &what),
                (Err(crate::OtlpError::Protobuf { detail, .. }), Err(e)) => {
                    assert!(e.ends_with(&detail), "{what}: {detail} / {e}");
                    errors += 1;
                }
                (a, b) => panic!("{what}: {a:?} / {b:?}"),
            }
            handed += usize::from(logs(&body, &limits).is_none());
        }
        assert!(errors > 100 && handed >= errors, "{errors} errors, {handed} handed over");
    }
}
