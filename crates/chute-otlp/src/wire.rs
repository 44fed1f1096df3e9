//! OTLP log, trace and metric requests read straight from their protobuf bytes into the
//! `otel_logs`, `otel_traces` and `otel_metrics_*` columns. Strings are borrowed from the body
//! (checked to be UTF-8, as prost checks them) and copied once, into the column builders, instead
//! of first into owned messages.
//!
//! The reader takes the requests SDKs and collectors send. It hands any other request back
//! (`None`), and prost and `convert` decode it, so results and errors are exactly theirs:
//! - anything malformed: a truncated field, a known field of the wrong wire type, text that is
//!   not UTF-8;
//! - a message field given twice (prost merges the two);
//! - an attribute map over `Limits::max_attributes`;
//! - an array or map value, whose text is the JSON that `value::format_value` writes;
//! - an exponential histogram or a summary (rare in what SDKs send; `convert` reads them), and a
//!   metric's data given twice.
//!
//! Otherwise it follows prost's rules: fields in any order, the last value of a scalar wins,
//! unknown fields of every wire type are skipped. What prost would check in an item that is
//! refused (its attributes, events and links) is checked here too.

use crate::convert::{
    Ctx, MetricBuilders, exemplar_ids_problem, hex_fixed, hex_or_empty, id_ok, id_problem, ns, span_kind, status_code,
};
use crate::value::{Scalar, prefix_within};
use crate::{Decoded, Limits};
use chute_protowire::{FIXED32, FIXED64, LEN, RECURSION_LIMIT, VARINT, fixed, key, len_delimited, skip, utf8, varint};
use chute_tables::otel::{
    ExemplarColumns, GaugeBuilder, HistogramBuilder, HistogramRow, LOGS, LogRow, LogsBuilder, MetricColumns, MetricRow,
    SpanRow, SumBuilder, TRACES, TracesBuilder,
};

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
    let mut w = Writer::new(limits, LogsBuilder::new());
    request(body, &mut w).ok()?;
    let batches = if w.b.is_empty() { Vec::new() } else { vec![(LOGS.name, w.b.finish())] };
    Some(w.cx.finish("log records", batches))
}

/// Decodes an `ExportTraceServiceRequest`, or `None` when the general path must.
pub(crate) fn traces(body: &[u8], limits: &Limits) -> Option<Decoded> {
    let mut w = Writer::new(limits, TracesBuilder::new());
    request(body, &mut w).ok()?;
    let batches = if w.b.is_empty() { Vec::new() } else { vec![(TRACES.name, w.b.finish())] };
    Some(w.cx.finish("spans", batches))
}

/// Decodes an `ExportMetricsServiceRequest`, or `None` when the general path must.
pub(crate) fn metrics(body: &[u8], limits: &Limits) -> Option<Decoded> {
    let mut w = Writer::new(limits, MetricBuilders::default());
    request(body, &mut w).ok()?;
    let Writer { cx, b, .. } = w;
    Some(cx.finish("data points", b.finish()))
}

/// What one decode writes into, and the field lists it reuses (each the bytes of a message).
struct Writer<'l, 'a, B> {
    cx: Ctx<'l>,
    b: B,
    scopes: Vec<&'a [u8]>,
    items: Vec<&'a [u8]>,
    attrs: Vec<&'a [u8]>,
    /// A span's events and links, and the attributes of one of them (or of a data point's
    /// exemplars).
    events: Vec<&'a [u8]>,
    links: Vec<&'a [u8]>,
    inner_attrs: Vec<&'a [u8]>,
    /// A metric's data points, and one data point's exemplars, bucket counts and bounds.
    points: Vec<&'a [u8]>,
    exemplars: Vec<ExemplarFields<'a>>,
    counts: Vec<u64>,
    bounds: Vec<f64>,
    /// `service.name` of the current resource.
    service: String,
}

impl<'l, B> Writer<'l, '_, B> {
    fn new(limits: &'l Limits, b: B) -> Self {
        Writer {
            cx: Ctx::new(limits),
            b,
            scopes: Vec::new(),
            items: Vec::new(),
            attrs: Vec::new(),
            events: Vec::new(),
            links: Vec::new(),
            inner_attrs: Vec::new(),
            points: Vec::new(),
            exemplars: Vec::new(),
            counts: Vec::new(),
            bounds: Vec::new(),
            service: String::new(),
        }
    }
}

/// A signal's items (log records, spans, metrics) into its tables' builders.
trait Items: Sized {
    /// Whether the table has a column of the scope's attributes (which then count against the
    /// limits, as `convert` counts them).
    const SCOPE_ATTRIBUTES: bool;

    fn item<'a>(w: &mut Writer<'_, 'a, Self>, buf: &'a [u8], at: At, origin: &Origin<'a>, depth: u32) -> Read<()>;
}

/// Where an item is: its resource's, scope's and own index.
#[derive(Clone, Copy)]
struct At(usize, usize, usize);

/// The columns an item takes from its resource and scope.
#[derive(Default)]
struct Origin<'a> {
    resource_schema_url: &'a str,
    scope_schema_url: &'a str,
    scope_name: &'a str,
    scope_version: &'a str,
    scope_dropped_attributes: u32,
}

// Known fields' values, each read after checking the field's wire type (a mismatch is
// prost's error, so the request is handed over).

#[inline]
fn want(wire: u8, expected: u8) -> Read<()> {
    if wire == expected { Ok(()) } else { Err(Handover) }
}

#[inline]
fn field_bytes<'a>(wire: u8, buf: &mut &'a [u8]) -> Read<&'a [u8]> {
    want(wire, LEN)?;
    Ok(len_delimited(buf)?)
}

#[inline]
fn field_text<'a>(wire: u8, buf: &mut &'a [u8]) -> Read<&'a str> {
    utf8(field_bytes(wire, buf)?).map_err(|_| Handover)
}

#[inline]
fn field_varint(wire: u8, buf: &mut &[u8]) -> Read<u64> {
    want(wire, VARINT)?;
    Ok(varint(buf)?)
}

#[inline]
fn field_fixed64(wire: u8, buf: &mut &[u8]) -> Read<u64> {
    want(wire, FIXED64)?;
    Ok(u64::from_le_bytes(fixed::<8>(buf)?))
}

#[inline]
fn field_fixed32(wire: u8, buf: &mut &[u8]) -> Read<u32> {
    want(wire, FIXED32)?;
    Ok(u32::from_le_bytes(fixed::<4>(buf)?))
}

fn any_value(mut buf: &[u8], depth: u32) -> Read<Scalar<'_>> {
    let mut v = Scalar::Empty;
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        v = match field {
            1 => Scalar::Str(field_text(wire, &mut buf)?),
            2 => Scalar::Bool(field_varint(wire, &mut buf)? != 0),
            3 => Scalar::Int(field_varint(wire, &mut buf)? as i64),
            4 => Scalar::Double(f64::from_bits(field_fixed64(wire, &mut buf)?)),
            7 => Scalar::Bytes(field_bytes(wire, &mut buf)?),
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
            1 => k = field_text(wire, &mut buf)?,
            2 => {
                if std::mem::replace(&mut has_value, true) {
                    return Err(Handover);
                }
                v = any_value(field_bytes(wire, &mut buf)?, depth - 1)?;
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

/// Checks attributes that are not kept (a refused item's, a trace's scope's).
fn check(fields: &[&[u8]], depth: u32) -> Read<()> {
    for f in fields {
        key_value(f, depth)?;
    }
    Ok(())
}

fn request<'a, B: Items>(mut buf: &'a [u8], w: &mut Writer<'_, 'a, B>) -> Read<()> {
    let depth = RECURSION_LIMIT;
    let mut ri = 0;
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        if field == 1 {
            resource_items(field_bytes(wire, &mut buf)?, ri, w, depth - 1)?;
            ri += 1;
        } else {
            skip(&mut buf, field, wire, depth)?;
        }
    }
    Ok(())
}

/// The three fields `ResourceLogs` and `ResourceSpans`, and `ScopeLogs` and `ScopeSpans`,
/// share: the resource or scope (at most once), its items and the schema URL.
fn split<'a>(mut buf: &'a [u8], items: &mut Vec<&'a [u8]>, depth: u32) -> Read<(Option<&'a [u8]>, &'a str)> {
    items.clear();
    let (mut owner, mut schema_url) = (None, "");
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => {
                if owner.replace(field_bytes(wire, &mut buf)?).is_some() {
                    return Err(Handover);
                }
            }
            2 => items.push(field_bytes(wire, &mut buf)?),
            3 => schema_url = field_text(wire, &mut buf)?,
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }
    Ok((owner, schema_url))
}

fn resource_items<'a, B: Items>(buf: &'a [u8], ri: usize, w: &mut Writer<'_, 'a, B>, depth: u32) -> Read<()> {
    let mut scopes = std::mem::take(&mut w.scopes);
    let (resource, schema_url) = split(buf, &mut scopes, depth)?;

    w.attrs.clear();
    if let Some(mut r) = resource {
        while !r.is_empty() {
            let (field, wire) = key(&mut r)?;
            match field {
                1 => w.attrs.push(field_bytes(wire, &mut r)?),
                2 => _ = field_varint(wire, &mut r)?,
                _ => skip(&mut r, field, wire, depth - 1)?,
            }
        }
    }
    // `service.name`: the first such attribute, whole (as `convert::service_name`).
    w.service.clear();
    for f in &w.attrs {
        let (k, v) = key_value(f, depth - 2)?;
        if k == "service.name" {
            w.service.push_str(v.text(&mut w.cx.buf));
            break;
        }
    }
    let mut set = std::mem::take(&mut w.cx.resource);
    set.clear();
    attributes(&w.attrs, &mut w.cx, depth - 2, |k, v| set.push(k, v))?;
    w.cx.resource = set;

    for (si, s) in scopes.iter().enumerate() {
        scope_items(s, (ri, si), schema_url, w, depth - 1)?;
    }
    w.scopes = scopes;
    Ok(())
}

fn scope_items<'a, B: Items>(
    buf: &'a [u8],
    (ri, si): (usize, usize),
    resource_schema_url: &'a str,
    w: &mut Writer<'_, 'a, B>,
    depth: u32,
) -> Read<()> {
    let mut items = std::mem::take(&mut w.items);
    let (scope, scope_schema_url) = split(buf, &mut items, depth)?;
    let mut origin = Origin { resource_schema_url, scope_schema_url, ..Origin::default() };

    w.attrs.clear();
    if let Some(mut s) = scope {
        while !s.is_empty() {
            let (field, wire) = key(&mut s)?;
            match field {
                1 => origin.scope_name = field_text(wire, &mut s)?,
                2 => origin.scope_version = field_text(wire, &mut s)?,
                3 => w.attrs.push(field_bytes(wire, &mut s)?),
                4 => origin.scope_dropped_attributes = field_varint(wire, &mut s)? as u32,
                _ => skip(&mut s, field, wire, depth - 1)?,
            }
        }
    }
    if B::SCOPE_ATTRIBUTES {
        let mut set = std::mem::take(&mut w.cx.scope);
        set.clear();
        attributes(&w.attrs, &mut w.cx, depth - 2, |k, v| set.push(k, v))?;
        w.cx.scope = set;
    } else {
        check(&w.attrs, depth - 2)?;
    }

    for (i, item) in items.iter().enumerate() {
        B::item(w, item, At(ri, si, i), &origin, depth - 1)?;
    }
    w.items = items;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Log records.

impl Items for LogsBuilder {
    const SCOPE_ATTRIBUTES: bool = true;

    fn item<'a>(w: &mut Writer<'_, 'a, Self>, mut buf: &'a [u8], at: At, origin: &Origin<'a>, depth: u32) -> Read<()> {
        let (mut time, mut observed, mut severity_number, mut flags) = (0u64, 0u64, 0i32, 0u32);
        let (mut severity_text, mut event_name, mut trace_id, mut span_id): (&str, &str, &[u8], &[u8]) =
            ("", "", &[], &[]);
        let mut body = None;
        w.attrs.clear();
        while !buf.is_empty() {
            let (field, wire) = key(&mut buf)?;
            match field {
                1 => time = field_fixed64(wire, &mut buf)?,
                11 => observed = field_fixed64(wire, &mut buf)?,
                2 => severity_number = field_varint(wire, &mut buf)? as i32,
                3 => severity_text = field_text(wire, &mut buf)?,
                5 => {
                    let v = any_value(field_bytes(wire, &mut buf)?, depth - 1)?;
                    if body.replace(v).is_some() {
                        return Err(Handover);
                    }
                }
                6 => w.attrs.push(field_bytes(wire, &mut buf)?),
                7 => _ = field_varint(wire, &mut buf)?,
                8 => flags = field_fixed32(wire, &mut buf)?,
                9 => trace_id = field_bytes(wire, &mut buf)?,
                10 => span_id = field_bytes(wire, &mut buf)?,
                12 => event_name = field_text(wire, &mut buf)?,
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
            check(&w.attrs, depth - 1)?;
            let At(ri, si, li) = at;
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
}

// ---------------------------------------------------------------------------------------------
// Spans.

/// A span event's columns; its attributes go to the list given to [`event`].
fn event<'a>(mut buf: &'a [u8], attrs: &mut Vec<&'a [u8]>, depth: u32) -> Read<(u64, &'a str)> {
    attrs.clear();
    let (mut time, mut name) = (0, "");
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => time = field_fixed64(wire, &mut buf)?,
            2 => name = field_text(wire, &mut buf)?,
            3 => attrs.push(field_bytes(wire, &mut buf)?),
            4 => _ = field_varint(wire, &mut buf)?,
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }
    Ok((time, name))
}

/// A span link's columns.
#[derive(Default)]
struct Link<'a> {
    trace_id: &'a [u8],
    span_id: &'a [u8],
    trace_state: &'a str,
}

/// A span link; its attributes go to the list given.
fn link<'a>(mut buf: &'a [u8], attrs: &mut Vec<&'a [u8]>, depth: u32) -> Read<Link<'a>> {
    attrs.clear();
    let mut l = Link::default();
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            1 => l.trace_id = field_bytes(wire, &mut buf)?,
            2 => l.span_id = field_bytes(wire, &mut buf)?,
            3 => l.trace_state = field_text(wire, &mut buf)?,
            4 => attrs.push(field_bytes(wire, &mut buf)?),
            5 => _ = field_varint(wire, &mut buf)?,
            6 => _ = field_fixed32(wire, &mut buf)?,
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }
    Ok(l)
}

/// A span's `Status`: its message and code.
fn status(mut buf: &[u8], depth: u32) -> Read<(&str, i32)> {
    let (mut message, mut code) = ("", 0);
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            2 => message = field_text(wire, &mut buf)?,
            3 => code = field_varint(wire, &mut buf)? as i32,
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }
    Ok((message, code))
}

/// What of a span is refused, as `convert::span_problem` says it; its links are read for it.
fn span_problem<'a>(
    ids: [&[u8]; 3],
    links: &[&'a [u8]],
    attrs: &mut Vec<&'a [u8]>,
    depth: u32,
) -> Read<Option<String>> {
    let [trace_id, span_id, parent_span_id] = ids;
    if !id_ok(trace_id, 16) {
        return Ok(Some(id_problem("trace_id", trace_id, 16)));
    }
    if !id_ok(span_id, 8) {
        return Ok(Some(id_problem("span_id", span_id, 8)));
    }
    if !id_ok(parent_span_id, 8) {
        return Ok(Some(id_problem("parent_span_id", parent_span_id, 8)));
    }
    for (i, l) in links.iter().enumerate() {
        let l = link(l, attrs, depth)?;
        if !id_ok(l.trace_id, 16) {
            return Ok(Some(id_problem(&format!("links[{i}].trace_id"), l.trace_id, 16)));
        }
        if !id_ok(l.span_id, 8) {
            return Ok(Some(id_problem(&format!("links[{i}].span_id"), l.span_id, 8)));
        }
    }
    Ok(None)
}

impl Items for TracesBuilder {
    const SCOPE_ATTRIBUTES: bool = false;

    fn item<'a>(w: &mut Writer<'_, 'a, Self>, mut buf: &'a [u8], at: At, origin: &Origin<'a>, depth: u32) -> Read<()> {
        let (mut trace_id, mut span_id, mut parent_span_id): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
        let (mut trace_state, mut name, mut kind, mut start, mut end) = ("", "", 0i32, 0u64, 0u64);
        let mut status_field = None;
        w.attrs.clear();
        w.events.clear();
        w.links.clear();
        while !buf.is_empty() {
            let (field, wire) = key(&mut buf)?;
            match field {
                1 => trace_id = field_bytes(wire, &mut buf)?,
                2 => span_id = field_bytes(wire, &mut buf)?,
                3 => trace_state = field_text(wire, &mut buf)?,
                4 => parent_span_id = field_bytes(wire, &mut buf)?,
                5 => name = field_text(wire, &mut buf)?,
                6 => kind = field_varint(wire, &mut buf)? as i32,
                7 => start = field_fixed64(wire, &mut buf)?,
                8 => end = field_fixed64(wire, &mut buf)?,
                9 => w.attrs.push(field_bytes(wire, &mut buf)?),
                11 => w.events.push(field_bytes(wire, &mut buf)?),
                13 => w.links.push(field_bytes(wire, &mut buf)?),
                10 | 12 | 14 => _ = field_varint(wire, &mut buf)?,
                15 => {
                    if status_field.replace(field_bytes(wire, &mut buf)?).is_some() {
                        return Err(Handover);
                    }
                }
                16 => _ = field_fixed32(wire, &mut buf)?,
                _ => skip(&mut buf, field, wire, depth)?,
            }
        }
        let (status_message, status) = match status_field {
            Some(s) => status(s, depth - 1)?,
            None => ("", 0),
        };

        let problem = span_problem([trace_id, span_id, parent_span_id], &w.links, &mut w.inner_attrs, depth - 1)?;
        if let Some(problem) = problem {
            check(&w.attrs, depth - 1)?;
            for e in &w.events {
                event(e, &mut w.inner_attrs, depth - 1)?;
                check(&w.inner_attrs, depth - 2)?;
            }
            for l in &w.links {
                link(l, &mut w.inner_attrs, depth - 1)?;
                check(&w.inner_attrs, depth - 2)?;
            }
            let At(ri, si, pi) = at;
            w.cx.reject(|| format!("resource_spans[{ri}].scope_spans[{si}].spans[{pi}] ({name:?}): {problem}"));
            return Ok(());
        }

        w.cx.resource.insert_into(&mut w.b.resource_attributes);
        let span_attributes = &mut w.b.span_attributes;
        attributes(&w.attrs, &mut w.cx, depth - 1, |k, v| span_attributes.insert(k, v))?;
        for e in &w.events {
            let (time, event_name) = event(e, &mut w.inner_attrs, depth - 1)?;
            let event_attributes = &mut w.b.event_attributes;
            attributes(&w.inner_attrs, &mut w.cx, depth - 2, |k, v| event_attributes.insert(k, v))?;
            w.b.add_event(ns(time), event_name);
        }
        for l in &w.links {
            let l = link(l, &mut w.inner_attrs, depth - 1)?;
            let link_attributes = &mut w.b.link_attributes;
            attributes(&w.inner_attrs, &mut w.cx, depth - 2, |k, v| link_attributes.insert(k, v))?;
            let (mut tb, mut sb) = ([0u8; 32], [0u8; 32]);
            w.b.add_link(hex_or_empty(l.trace_id, &mut tb), hex_or_empty(l.span_id, &mut sb), l.trace_state);
        }
        let (mut tb, mut sb, mut pb) = ([0u8; 32], [0u8; 32], [0u8; 32]);
        w.b.end_row(&SpanRow {
            timestamp_ns: ns(start),
            trace_id: hex_or_empty(trace_id, &mut tb),
            span_id: hex_or_empty(span_id, &mut sb),
            parent_span_id: hex_or_empty(parent_span_id, &mut pb),
            trace_state,
            span_name: name,
            span_kind: span_kind(kind),
            service_name: &w.service,
            scope_name: origin.scope_name,
            scope_version: origin.scope_version,
            // As `convert::traces`: a negative duration is stored as 0.
            duration_ns: end.saturating_sub(start),
            status_code: status_code(status),
            status_message,
        });
        w.cx.accepted += 1;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics: gauges, sums and histograms.

/// The data kinds this reader takes.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Gauge,
    Sum,
    Histogram,
}

/// One exemplar of a data point; its filtered attributes are `Writer::inner_attrs[attrs]`.
#[derive(Default)]
struct ExemplarFields<'a> {
    attrs: std::ops::Range<usize>,
    time: u64,
    value: f64,
    span_id: &'a [u8],
    trace_id: &'a [u8],
}

/// A number or histogram data point's scalar fields. Its attributes, exemplars, bucket counts
/// and bounds are in the writer's lists.
#[derive(Default)]
struct Point {
    start: u64,
    time: u64,
    value: f64,
    flags: u32,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Items for MetricBuilders {
    const SCOPE_ATTRIBUTES: bool = true;

    fn item<'a>(w: &mut Writer<'_, 'a, Self>, mut buf: &'a [u8], at: At, origin: &Origin<'a>, depth: u32) -> Read<()> {
        let (mut name, mut description, mut unit) = ("", "", "");
        let mut data: Option<(Kind, &'a [u8])> = None;
        // The metric's metadata, which the exporter does not store.
        w.attrs.clear();
        while !buf.is_empty() {
            let (field, wire) = key(&mut buf)?;
            match field {
                1 => name = field_text(wire, &mut buf)?,
                2 => description = field_text(wire, &mut buf)?,
                3 => unit = field_text(wire, &mut buf)?,
                5 | 7 | 9 => {
                    let kind = match field {
                        5 => Kind::Gauge,
                        7 => Kind::Sum,
                        _ => Kind::Histogram,
                    };
                    if data.replace((kind, field_bytes(wire, &mut buf)?)).is_some() {
                        return Err(Handover);
                    }
                }
                // Exponential histograms and summaries.
                10 | 11 => return Err(Handover),
                12 => w.attrs.push(field_bytes(wire, &mut buf)?),
                _ => skip(&mut buf, field, wire, depth)?,
            }
        }
        check(&w.attrs, depth - 1)?;
        let At(ri, si, mi) = at;
        let Some((kind, mut data)) = data else {
            w.cx.reject(|| {
                format!(
                    "resource_metrics[{ri}].scope_metrics[{si}].metrics[{mi}] ({name:?}): no data (missing or unknown data kind)"
                )
            });
            return Ok(());
        };

        let mut points = std::mem::take(&mut w.points);
        points.clear();
        let (mut temporality, mut monotonic) = (0i32, false);
        while !data.is_empty() {
            let (field, wire) = key(&mut data)?;
            match field {
                1 => points.push(field_bytes(wire, &mut data)?),
                2 if kind != Kind::Gauge => temporality = field_varint(wire, &mut data)? as i32,
                3 if kind == Kind::Sum => monotonic = field_varint(wire, &mut data)? != 0,
                _ => skip(&mut data, field, wire, depth - 1)?,
            }
        }
        for (pi, p) in points.iter().enumerate() {
            let point = data_point(w, p, kind, depth - 2)?;
            if let Some(problem) = exemplar_problem(&w.exemplars) {
                check(&w.attrs, depth - 3)?;
                check(&w.inner_attrs, depth - 4)?;
                w.cx.reject(|| {
                    format!("resource_metrics[{ri}].scope_metrics[{si}].metrics[{mi}] ({name:?}).data_points[{pi}]: {problem}")
                });
                continue;
            }
            let row = MetricRow {
                resource_schema_url: origin.resource_schema_url,
                scope_name: origin.scope_name,
                scope_version: origin.scope_version,
                scope_dropped_attr_count: origin.scope_dropped_attributes,
                scope_schema_url: origin.scope_schema_url,
                service_name: &w.service,
                metric_name: name,
                metric_description: description,
                metric_unit: unit,
                start_time_ns: ns(point.start),
                time_ns: ns(point.time),
            };
            let lists = PointLists { attrs: &w.attrs, exemplars: &w.exemplars, exemplar_attrs: &w.inner_attrs };
            match kind {
                Kind::Gauge => {
                    let b = w.b.gauge.get_or_insert_with(GaugeBuilder::new);
                    lists.write(&mut w.cx, &mut b.common, &mut b.exemplars, depth - 3)?;
                    b.end_row(&row, point.value, point.flags);
                }
                Kind::Sum => {
                    let b = w.b.sum.get_or_insert_with(SumBuilder::new);
                    lists.write(&mut w.cx, &mut b.common, &mut b.exemplars, depth - 3)?;
                    b.end_row(&row, point.value, point.flags, temporality, monotonic);
                }
                Kind::Histogram => {
                    let b = w.b.histogram.get_or_insert_with(HistogramBuilder::new);
                    lists.write(&mut w.cx, &mut b.common, &mut b.exemplars, depth - 3)?;
                    b.end_row(
                        &row,
                        &HistogramRow {
                            count: point.count,
                            sum: point.sum,
                            bucket_counts: &w.counts,
                            explicit_bounds: &w.bounds,
                            flags: point.flags,
                            min: point.min,
                            max: point.max,
                            temporality,
                        },
                    );
                }
            }
            w.cx.accepted += 1;
        }
        w.points = points;
        Ok(())
    }
}

/// Reads a `NumberDataPoint` or a `HistogramDataPoint`: its scalars, and its attributes,
/// exemplars, bucket counts and bounds into the writer's lists.
fn data_point<'a>(w: &mut Writer<'_, 'a, MetricBuilders>, mut buf: &'a [u8], kind: Kind, depth: u32) -> Read<Point> {
    w.attrs.clear();
    w.exemplars.clear();
    w.inner_attrs.clear();
    w.counts.clear();
    w.bounds.clear();
    let mut p = Point::default();
    let histogram = kind == Kind::Histogram;
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match (histogram, field) {
            (false, 7) | (true, 9) => w.attrs.push(field_bytes(wire, &mut buf)?),
            (_, 2) => p.start = field_fixed64(wire, &mut buf)?,
            (_, 3) => p.time = field_fixed64(wire, &mut buf)?,
            // The value: a double or an sfixed64, the last one given.
            (false, 4) => p.value = f64::from_bits(field_fixed64(wire, &mut buf)?),
            (false, 6) => p.value = field_fixed64(wire, &mut buf)? as i64 as f64,
            (false, 5) | (true, 8) => {
                let e = exemplar(field_bytes(wire, &mut buf)?, &mut w.inner_attrs, depth - 1)?;
                w.exemplars.push(e);
            }
            (false, 8) | (true, 10) => p.flags = field_varint(wire, &mut buf)? as u32,
            (true, 4) => p.count = field_fixed64(wire, &mut buf)?,
            (true, 5) => p.sum = f64::from_bits(field_fixed64(wire, &mut buf)?),
            (true, 6) => repeated_fixed64(wire, &mut buf, |v| w.counts.push(v))?,
            (true, 7) => repeated_fixed64(wire, &mut buf, |v| w.bounds.push(f64::from_bits(v)))?,
            (true, 11) => p.min = f64::from_bits(field_fixed64(wire, &mut buf)?),
            (true, 12) => p.max = f64::from_bits(field_fixed64(wire, &mut buf)?),
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }
    Ok(p)
}

/// A `repeated fixed64` or `repeated double`, packed or one value per field (prost reads both).
fn repeated_fixed64(wire: u8, buf: &mut &[u8], mut push: impl FnMut(u64)) -> Read<()> {
    match wire {
        LEN => {
            let packed = len_delimited(buf)?;
            if packed.len() % 8 != 0 {
                return Err(Handover);
            }
            for c in packed.chunks_exact(8) {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                push(u64::from_le_bytes(b));
            }
        }
        FIXED64 => push(u64::from_le_bytes(fixed::<8>(buf)?)),
        _ => return Err(Handover),
    }
    Ok(())
}

fn exemplar<'a>(mut buf: &'a [u8], attrs: &mut Vec<&'a [u8]>, depth: u32) -> Read<ExemplarFields<'a>> {
    let start = attrs.len();
    let mut e = ExemplarFields::default();
    while !buf.is_empty() {
        let (field, wire) = key(&mut buf)?;
        match field {
            7 => attrs.push(field_bytes(wire, &mut buf)?),
            2 => e.time = field_fixed64(wire, &mut buf)?,
            3 => e.value = f64::from_bits(field_fixed64(wire, &mut buf)?),
            6 => e.value = field_fixed64(wire, &mut buf)? as i64 as f64,
            4 => e.span_id = field_bytes(wire, &mut buf)?,
            5 => e.trace_id = field_bytes(wire, &mut buf)?,
            _ => skip(&mut buf, field, wire, depth)?,
        }
    }
    e.attrs = start..attrs.len();
    Ok(e)
}

/// The first exemplar id of the wrong length, as `convert` names it.
fn exemplar_problem(exemplars: &[ExemplarFields<'_>]) -> Option<String> {
    exemplar_ids_problem(exemplars.iter().map(|e| (e.trace_id, e.span_id)))
}

/// A data point's attributes and exemplars, as the writer's lists hold them.
struct PointLists<'w, 'a> {
    attrs: &'w [&'a [u8]],
    exemplars: &'w [ExemplarFields<'a>],
    exemplar_attrs: &'w [&'a [u8]],
}

impl PointLists<'_, '_> {
    /// The maps every metric table has (resource, scope, point attributes) and the exemplar
    /// columns, as `convert` fills them.
    fn write(&self, cx: &mut Ctx<'_>, common: &mut MetricColumns, ex: &mut ExemplarColumns, depth: u32) -> Read<()> {
        cx.resource.insert_into(&mut common.resource_attributes);
        cx.scope.insert_into(&mut common.scope_attributes);
        let a = &mut common.attributes;
        attributes(self.attrs, cx, depth, |k, v| a.insert(k, v))?;
        for e in self.exemplars {
            let fa = &mut ex.filtered_attributes;
            attributes(&self.exemplar_attrs[e.attrs.clone()], cx, depth - 1, |k, v| fa.insert(k, v))?;
            let (mut tb, mut sb) = ([0u8; 32], [0u8; 32]);
            ex.add(ns(e.time), e.value, hex_fixed(e.span_id, 8, &mut sb), hex_fixed(e.trace_id, 16, &mut tb));
        }
        Ok(())
    }
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

    /// What prost and `convert::traces` make of `body`.
    fn general_traces(body: &[u8], limits: &Limits) -> Result<Decoded, String> {
        ExportTraceServiceRequest::decode(body).map(|r| crate::convert::traces(&r, limits)).map_err(|e| e.to_string())
    }

    /// What prost and `convert::metrics` make of `body`.
    fn general_metrics(body: &[u8], limits: &Limits) -> Result<Decoded, String> {
        ExportMetricsServiceRequest::decode(body)
            .map(|r| crate::convert::metrics(&r, limits))
            .map_err(|e| e.to_string())
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

    fn read_same_traces(body: &[u8], limits: &Limits, what: &str) -> Decoded {
        let ours = traces(body, limits).unwrap_or_else(|| panic!("{what}: handed over"));
        assert_same(&ours, &general_traces(body, limits).unwrap(), what);
        ours
    }

    fn read_same_metrics(body: &[u8], limits: &Limits, what: &str) -> Decoded {
        let ours = metrics(body, limits).unwrap_or_else(|| panic!("{what}: handed over"));
        assert_same(&ours, &general_metrics(body, limits).unwrap(), what);
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
        for path in ["otel-python-sdk/http/body-002.bin", "otel-python-sdk/grpc/grpc-002.bin"] {
            let d = read_same_traces(&fixture(path), &Limits::default(), path);
            assert!(d.accepted > 0, "{path}");
        }
    }

    #[test]
    fn the_sdk_and_k6_metric_requests_are_read_as_prost_reads_them() {
        // The Python SDK's (sums and histograms, with exemplars) and k6's OpenTelemetry output's.
        let mut paths =
            vec!["otel-python-sdk/http/body-001.bin".to_string(), "otel-python-sdk/grpc/grpc-001.bin".into()];
        paths.extend((1..=5).map(|i| format!("k6/outputs-small/otlp-http/body-{i:03}.bin")));
        paths.extend((1..=5).map(|i| format!("k6/outputs-small/otlp-grpc/grpc-{i:03}.bin")));
        let mut tables = std::collections::BTreeSet::new();
        for path in &paths {
            let d = read_same_metrics(&fixture(path), &Limits::default(), path);
            assert!(d.accepted > 0, "{path}");
            tables.extend(d.batches.iter().map(|(t, _)| *t));
        }
        assert_eq!(tables.len(), 3, "gauges, sums and histograms: {tables:?}");
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
        fn span(&mut self) -> Span {
            Span {
                trace_id: self.id(16),
                span_id: self.id(8),
                trace_state: self.text(),
                parent_span_id: self.id(8),
                flags: self.next() as u32,
                name: self.text(),
                kind: self.below(8) as i32 - 1,
                start_time_unix_nano: self.next(),
                end_time_unix_nano: self.next(),
                attributes: self.attrs(),
                dropped_attributes_count: 0,
                events: (0..self.below(3))
                    .map(|_| span::Event {
                        time_unix_nano: self.next(),
                        name: self.text(),
                        attributes: self.attrs(),
                        dropped_attributes_count: self.below(2) as u32,
                    })
                    .collect(),
                dropped_events_count: self.below(2) as u32,
                links: (0..self.below(3))
                    .map(|_| span::Link {
                        trace_id: self.id(16),
                        span_id: self.id(8),
                        trace_state: self.text(),
                        attributes: self.attrs(),
                        dropped_attributes_count: 0,
                        flags: self.next() as u32,
                    })
                    .collect(),
                dropped_links_count: 0,
                status: (self.below(3) > 0).then(|| Status { message: self.text(), code: self.below(5) as i32 - 1 }),
            }
        }
        fn resource(&mut self) -> Option<Resource> {
            (self.below(4) > 0).then(|| Resource { attributes: self.attrs(), dropped_attributes_count: 0 })
        }
        fn scope(&mut self, with_dropped: bool) -> Option<InstrumentationScope> {
            (self.below(4) > 0).then(|| InstrumentationScope {
                name: self.text(),
                version: self.text(),
                attributes: self.attrs(),
                dropped_attributes_count: if with_dropped { self.below(3) as u32 } else { 0 },
            })
        }
        fn exemplars(&mut self) -> Vec<Exemplar> {
            (0..self.below(3))
                .map(|_| Exemplar {
                    filtered_attributes: self.attrs(),
                    time_unix_nano: self.next(),
                    value: match self.below(3) {
                        0 => None,
                        1 => Some(exemplar::Value::AsDouble(-2.5)),
                        _ => Some(exemplar::Value::AsInt(self.next() as i64)),
                    },
                    span_id: if self.below(4) == 0 { self.id(8) } else { Vec::new() },
                    trace_id: if self.below(4) == 0 { self.id(16) } else { Vec::new() },
                })
                .collect()
        }
        fn number_point(&mut self) -> NumberDataPoint {
            NumberDataPoint {
                attributes: self.attrs(),
                start_time_unix_nano: self.next(),
                time_unix_nano: self.below(3) * u64::MAX / 2,
                value: match self.below(3) {
                    0 => None,
                    1 => Some(number_data_point::Value::AsDouble(0.25)),
                    _ => Some(number_data_point::Value::AsInt(self.next() as i64)),
                },
                exemplars: self.exemplars(),
                flags: self.below(2) as u32,
            }
        }
        fn histogram_point(&mut self) -> HistogramDataPoint {
            let buckets = self.below(5) as usize;
            HistogramDataPoint {
                attributes: self.attrs(),
                start_time_unix_nano: self.next(),
                time_unix_nano: self.next(),
                count: self.next(),
                sum: (self.below(2) == 1).then_some(12.5),
                bucket_counts: (0..buckets).map(|_| self.below(100)).collect(),
                explicit_bounds: (0..buckets.saturating_sub(1)).map(|i| i as f64 * 1.5).collect(),
                exemplars: self.exemplars(),
                flags: self.below(2) as u32,
                min: (self.below(2) == 1).then_some(-1.0),
                max: (self.below(2) == 1).then_some(1e9),
            }
        }
        fn metric(&mut self) -> Metric {
            let n = self.below(4);
            let data = match self.below(7) {
                0 => None,
                1 | 2 => {
                    Some(metric::Data::Gauge(Gauge { data_points: (0..n).map(|_| self.number_point()).collect() }))
                }
                3 | 4 => Some(metric::Data::Sum(Sum {
                    data_points: (0..n).map(|_| self.number_point()).collect(),
                    aggregation_temporality: self.below(4) as i32 - 1,
                    is_monotonic: self.below(2) == 1,
                })),
                _ => Some(metric::Data::Histogram(Histogram {
                    data_points: (0..n).map(|_| self.histogram_point()).collect(),
                    aggregation_temporality: self.below(3) as i32,
                })),
            };
            Metric { name: self.text(), description: self.text(), unit: self.text(), data, metadata: self.attrs() }
        }
        fn metrics_request(&mut self) -> ExportMetricsServiceRequest {
            let resource_metrics = (0..self.below(3))
                .map(|_| ResourceMetrics {
                    resource: self.resource(),
                    scope_metrics: (0..self.below(3))
                        .map(|_| ScopeMetrics {
                            scope: self.scope(true),
                            metrics: (0..self.below(4)).map(|_| self.metric()).collect(),
                            schema_url: self.text(),
                        })
                        .collect(),
                    schema_url: self.text(),
                })
                .collect();
            ExportMetricsServiceRequest { resource_metrics }
        }
        fn traces_request(&mut self) -> ExportTraceServiceRequest {
            let resource_spans = (0..self.below(3))
                .map(|_| ResourceSpans {
                    resource: self.resource(),
                    scope_spans: (0..self.below(3))
                        .map(|_| ScopeSpans {
                            scope: self.scope(false),
                            spans: (0..self.below(4)).map(|_| self.span()).collect(),
                            schema_url: self.text(),
                        })
                        .collect(),
                    schema_url: self.text(),
                })
                .collect();
            ExportTraceServiceRequest { resource_spans }
        }
    }

    /// 400 requests from `make` under each of two limit settings, each read as prost reads it:
    /// the rows accepted, refused and attribute values cut over all of them.
    fn generated_read_same(
        seed: u64,
        mut make: impl FnMut(&mut Gen) -> Vec<u8>,
        read_same: fn(&[u8], &Limits, &str) -> Decoded,
    ) -> (u64, u64, u64) {
        let mut g = Gen(seed);
        let (mut rows, mut rejected, mut truncated) = (0, 0, 0);
        for limits in [Limits::default(), Limits { max_attributes: 8, max_attribute_value_len: 3 }] {
            for i in 0..400 {
                let d = read_same(&make(&mut g), &limits, &format!("request {i}"));
                rows += d.accepted;
                rejected += d.rejected;
                truncated += d.truncated_attributes;
            }
        }
        (rows, rejected, truncated)
    }

    #[test]
    fn generated_requests_are_read_as_prost_reads_them() {
        let (rows, rejected, truncated) =
            generated_read_same(0x9e37_79b9_7f4a_7c15, |g| g.request().encode_to_vec(), read_same);
        // The generator reaches what it is meant to: rows, refused ids and cut values.
        assert!(rows > 1000 && rejected > 100 && truncated > 100, "{rows} {rejected} {truncated}");
    }

    #[test]
    fn generated_trace_requests_are_read_as_prost_reads_them() {
        let (rows, rejected, truncated) =
            generated_read_same(0x2545_f491_4f6c_dd1d, |g| g.traces_request().encode_to_vec(), read_same_traces);
        assert!(rows > 500 && rejected > 500 && truncated > 100, "{rows} {rejected} {truncated}");
    }

    #[test]
    fn generated_metric_requests_are_read_as_prost_reads_them() {
        let (rows, rejected, truncated) =
            generated_read_same(0x5851_f42d_4c95_7f2d, |g| g.metrics_request().encode_to_vec(), read_same_metrics);
        // Data points, points refused for an exemplar's id or metrics without data, cut values.
        assert!(rows > 1000 && rejected > 100 && truncated > 100, "{rows} {rejected} {truncated}");
    }

    /// Protobuf bytes by hand, for what prost never writes.
    fn field(n: u32, wire: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        chute_protowire::put_varint(&mut out, u64::from(n << 3 | u32::from(wire)));
        if wire == LEN {
            chute_protowire::put_varint(&mut out, payload.len() as u64);
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
        let spans = |span: &[u8]| msg(1, &[msg(2, &[field(2, LEN, span)])]);
        let status = msg(15, &[string(2, "m")]);
        assert!(traces(&spans(&status), &limits).is_some());
        assert!(traces(&spans(&[status.clone(), status].concat()), &limits).is_none(), "status twice");
        let event = msg(11, &[field(3, LEN, &msg(0, &[string(1, "k"), msg(2, &[msg(5, &[])])])[2..])]);
        assert!(traces(&spans(&event), &limits).is_none(), "array in an event's attributes");
        // A refused record's attributes over the limit are not counted: it is read here.
        let refused = [many.clone(), field(10, LEN, &[1; 3])].concat();
        let d = read_same(&request(&resource, &scope, &refused), &limits, "refused record");
        assert_eq!((d.accepted, d.rejected), (0, 1));
        assert!(d.rejection_message.unwrap().contains("log_records[0]: span_id has 3 bytes"));
    }

    /// A histogram data point's fields, bucket counts and bounds packed or one per field.
    fn histogram_point(packed: bool) -> Vec<u8> {
        let fixed = |n: u32, vals: &[u64]| -> Vec<u8> {
            if packed {
                field(n, LEN, &vals.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>())
            } else {
                vals.iter().flat_map(|v| field(n, FIXED64, &v.to_le_bytes())).collect()
            }
        };
        [
            attr(9, "k", "v"),
            field(4, FIXED64, &3u64.to_le_bytes()),
            fixed(6, &[1, 2]),
            fixed(7, &[1.5f64.to_bits()]),
            unknowns(),
            fixed(6, &[3]),
            field(5, FIXED64, &2.5f64.to_bits().to_le_bytes()),
        ]
        .concat()
    }
    fn metric_request(metric: &[u8]) -> Vec<u8> {
        msg(
            1,
            &[
                msg(2, &[field(2, LEN, metric), msg(1, &[string(1, "lib"), field(4, VARINT, &[3])])]),
                msg(1, &[attr(1, "service.name", "svc")]),
            ],
        )
    }

    #[test]
    fn metric_fields_packed_or_not_in_any_order_are_read_as_prost_reads_them() {
        for packed in [true, false] {
            // Data before the name, temporality after the points.
            let metric = [
                msg(9, &[field(1, LEN, &histogram_point(packed)), field(2, VARINT, &[2])]),
                unknowns(),
                string(1, "latency"),
                attr(12, "meta", "data"),
            ]
            .concat();
            let d = read_same_metrics(&metric_request(&metric), &Limits::default(), &format!("packed {packed}"));
            assert_eq!(d.accepted, 1);
        }
        // A number point's value: the last of as_double and as_int.
        let point =
            [field(4, FIXED64, &1.5f64.to_bits().to_le_bytes()), field(6, FIXED64, &7i64.to_le_bytes())].concat();
        let metric = [string(1, "n"), msg(5, &[field(1, LEN, &point)])].concat();
        let d = read_same_metrics(&metric_request(&metric), &Limits::default(), "oneof value");
        assert_eq!(d.accepted, 1);
    }

    #[test]
    fn metric_data_prost_merges_or_convert_reads_itself_is_handed_over() {
        let limits = Limits::default();
        let handed = |metric: Vec<u8>, what: &str| {
            let body = metric_request(&metric);
            assert!(metrics(&body, &limits).is_none(), "{what}");
            let d = crate::decode(crate::Signal::Metrics, crate::Encoding::Protobuf, &body, &limits).unwrap();
            assert_eq!(d.accepted, 1, "{what}: the general path reads it");
        };
        let point = field(1, LEN, &field(4, FIXED64, &1.0f64.to_bits().to_le_bytes()));
        handed([string(1, "g"), msg(5, std::slice::from_ref(&point)), msg(5, &[])].concat(), "gauge twice");
        handed([string(1, "g"), msg(7, &[]), msg(5, std::slice::from_ref(&point))].concat(), "sum then gauge");
        let exp = field(1, LEN, &field(4, FIXED64, &1u64.to_le_bytes()));
        handed([string(1, "e"), msg(10, &[exp])].concat(), "exponential histogram");
        let summary = field(1, LEN, &field(4, FIXED64, &1u64.to_le_bytes()));
        handed([string(1, "s"), msg(11, &[summary])].concat(), "summary");
        // A refused point's exemplar (span id of 3 bytes) is read here, and named as convert names it.
        let bad = field(
            1,
            LEN,
            &[field(4, FIXED64, &1.0f64.to_bits().to_le_bytes()), msg(5, &[field(4, LEN, &[1; 3])])].concat(),
        );
        let d = read_same_metrics(&metric_request(&[string(1, "g"), msg(5, &[bad])].concat()), &limits, "refused");
        assert_eq!((d.accepted, d.rejected), (0, 1));
        assert!(
            d.rejection_message
                .unwrap()
                .contains("metrics[0] (\"g\").data_points[0]: exemplars[0].span_id has 3 bytes")
        );
    }

    #[test]
    fn malformed_requests_get_prosts_errors() {
        let good = request(&msg(1, &[attr(1, "a", "b")]), &msg(1, &[string(1, "lib")]), &record(&[]));
        damaged_bodies_decode_as_prost_decodes_them(crate::Signal::Logs, &good);
        // A trace request with a span that has events, links and a status.
        let mut g = Gen(7);
        let good = loop {
            let r = g.traces_request();
            let full = |s: &Span| s.status.is_some() && !s.events.is_empty() && !s.links.is_empty();
            if r.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans).any(full) {
                break r.encode_to_vec();
            }
        };
        damaged_bodies_decode_as_prost_decodes_them(crate::Signal::Traces, &good);
        // A metric request with a gauge, a sum and a histogram, each with an exemplar.
        let mut g = Gen(11);
        let good = loop {
            let r = g.metrics_request();
            let metrics: Vec<&Metric> =
                r.resource_metrics.iter().flat_map(|r| &r.scope_metrics).flat_map(|s| &s.metrics).collect();
            let with_exemplar = |m: &&&Metric| match &m.data {
                Some(metric::Data::Gauge(x)) => x.data_points.iter().any(|p| !p.exemplars.is_empty()),
                Some(metric::Data::Sum(x)) => x.data_points.iter().any(|p| !p.exemplars.is_empty()),
                Some(metric::Data::Histogram(x)) => {
                    x.data_points.iter().any(|p| !p.exemplars.is_empty() && !p.bucket_counts.is_empty())
                }
                _ => false,
            };
            if metrics.iter().filter(with_exemplar).count() >= 3 {
                break r.encode_to_vec();
            }
        };
        damaged_bodies_decode_as_prost_decodes_them(crate::Signal::Metrics, &good);
    }

    /// `good` cut short at every byte and with bytes changed: `decode` (this reader, else prost)
    /// gives what prost alone gives, rows or error.
    fn damaged_bodies_decode_as_prost_decodes_them(signal: crate::Signal, good: &[u8]) {
        let limits = Limits::default();
        type Reader = fn(&[u8], &Limits) -> Option<Decoded>;
        type Reference = fn(&[u8], &Limits) -> Result<Decoded, String>;
        let (ours, general): (Reader, Reference) = match signal {
            crate::Signal::Logs => (logs, general),
            crate::Signal::Traces => (traces, general_traces),
            crate::Signal::Metrics => (metrics, general_metrics),
        };
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        for cut in 1..good.len() {
            cases.push((format!("cut at {cut}"), good[..cut].to_vec()));
        }
        for at in 0..good.len() {
            for flip in [0x80u8, 0x07, 0xff] {
                let mut b = good.to_vec();
                b[at] ^= flip;
                cases.push((format!("byte {at} ^ {flip:#x}"), b));
            }
        }
        let (mut errors, mut handed) = (0, 0);
        for (what, body) in cases {
            let decoded = crate::decode(signal, crate::Encoding::Protobuf, &body, &limits);
            match (decoded, general(&body, &limits)) {
                (Ok(a), Ok(b)) => assert_same(&a, &b, &what),
                (Err(crate::OtlpError::Protobuf { detail, .. }), Err(e)) => {
                    assert!(e.ends_with(&detail), "{what}: {detail} / {e}");
                    errors += 1;
                }
                (a, b) => panic!("{what}: {a:?} / {b:?}"),
            }
            handed += usize::from(ours(&body, &limits).is_none());
        }
        assert!(errors > 100 && handed >= errors, "{errors} errors, {handed} handed over");
    }
}
