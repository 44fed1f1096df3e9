//! OTLP/JSON into the protobuf message structs, per the OTLP specification's JSON encoding:
//! lowerCamelCase field names (snake_case accepted too), 64-bit integers as strings or numbers,
//! enums as integers or names, doubles as numbers or the strings "NaN", "Infinity",
//! "-Infinity", trace and span ids as hex (base64 accepted too), bytes values as base64,
//! `null` as the field's default, unknown fields ignored.

use crate::proto::*;
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

const B64_CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const B64: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, B64_CONFIG);
const B64_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, B64_CONFIG);

/// Base64, standard or URL-safe alphabet, padded or not.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let engine = if s.bytes().any(|b| b == b'-' || b == b'_') { &B64_URL } else { &B64 };
    engine.decode(s.trim_end_matches('=')).ok()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode_hex(s: &[u8]) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks_exact(2).map(|p| Some(hex_val(p[0])? << 4 | hex_val(p[1])?)).collect()
}

/// A trace or span id of `want` bytes, as OTLP/JSON says (hex) or as some senders do (base64).
/// A string that is neither comes back with a length other than `want`, so that the item
/// carrying it is refused.
pub(crate) fn decode_id(s: &str, want: usize) -> Vec<u8> {
    if s.is_empty() {
        return Vec::new();
    }
    if s.len() == want * 2
        && let Some(v) = decode_hex(s.as_bytes())
    {
        return v;
    }
    if let Some(v) = decode_base64(s)
        && v.len() == want
    {
        return v;
    }
    if let Some(v) = decode_hex(s.as_bytes()) {
        return v;
    }
    let mut raw = s.as_bytes().to_vec();
    if raw.len() == want {
        raw.push(0);
    }
    raw
}

// ---------------------------------------------------------------------------------------------
// field names without allocating

struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------------------------
// scalar values: numbers as numbers or strings, null as the default

macro_rules! integer {
    ($name:ident, $t:ty, $what:literal) => {
        struct $name($t);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$name, E> {
                        <$t>::try_from(v)
                            .map($name)
                            .map_err(|_| E::custom(format!("{v} is out of range for {}", $what)))
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$name, E> {
                        <$t>::try_from(v)
                            .map($name)
                            .map_err(|_| E::custom(format!("{v} is out of range for {}", $what)))
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$name, E> {
                        if v.fract() == 0.0 && v >= <$t>::MIN as f64 && v <= <$t>::MAX as f64 {
                            Ok($name(v as $t))
                        } else {
                            Err(E::custom(format!("{v} is not {}", $what)))
                        }
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        v.trim().parse::<$t>().map($name).map_err(|_| E::custom(format!("{v:?} is not {}", $what)))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<$name, E> {
                        Ok($name(0))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

integer!(U64, u64, "an unsigned 64-bit integer");
integer!(I64, i64, "a 64-bit integer");
integer!(U32, u32, "an unsigned 32-bit integer");
integer!(I32, i32, "a 32-bit integer");

/// A double: a JSON number, or a string holding a number, "NaN", "Infinity" or "-Infinity".
struct F64(f64);

fn parse_f64(v: &str) -> Option<f64> {
    match v.trim() {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        s => s.parse::<f64>().ok(),
    }
}

impl<'de> Deserialize<'de> for F64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = F64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a double")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<F64, E> {
                Ok(F64(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<F64, E> {
                Ok(F64(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<F64, E> {
                Ok(F64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<F64, E> {
                parse_f64(v).map(F64).ok_or_else(|| E::custom(format!("{v:?} is not a double")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<F64, E> {
                Ok(F64(0.0))
            }
        }
        d.deserialize_any(V)
    }
}

/// An optional double (`optional double` fields): null or absent is None.
struct OptF64(Option<f64>);

impl<'de> Deserialize<'de> for OptF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(OptF64(Option::<F64>::deserialize(d)?.map(|v| v.0)))
    }
}

struct Bool(bool);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bool, E> {
                Ok(Bool(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bool, E> {
                match v {
                    "true" => Ok(Bool(true)),
                    "false" => Ok(Bool(false)),
                    _ => Err(E::custom(format!("{v:?} is not a boolean"))),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<Bool, E> {
                Ok(Bool(false))
            }
        }
        d.deserialize_any(V)
    }
}

struct Str(String);

impl<'de> Deserialize<'de> for Str {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str, E> {
                Ok(Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str, E> {
                Ok(Str(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Str, E> {
                Ok(Str(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Bytes as base64.
struct Bytes(Vec<u8>);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Str::deserialize(d)?.0;
        decode_base64(&s).map(Bytes).ok_or_else(|| de::Error::custom(format!("{s:?} is not base64")))
    }
}

/// A trace id (16 bytes) or span id (8 bytes).
struct Id<const N: usize>(Vec<u8>);

impl<'de, const N: usize> Deserialize<'de> for Id<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<'de, const N: usize> Visitor<'de> for V<N> {
            type Value = Id<N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an id of {N} bytes in hex")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id<N>, E> {
                Ok(Id(decode_id(v, N)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Id<N>, E> {
                Ok(Id(Vec::new()))
            }
        }
        d.deserialize_any(V::<N>)
    }
}

type TraceId = Id<16>;
type SpanId = Id<8>;

/// A repeated field: a JSON array, or null for none.
struct List<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(x) = seq.next_element()? {
                    v.push(x);
                }
                Ok(List(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<List<T>, E> {
                Ok(List(Vec::new()))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

fn u64s(l: List<U64>) -> Vec<u64> {
    l.0.into_iter().map(|x| x.0).collect()
}

fn f64s(l: List<F64>) -> Vec<f64> {
    l.0.into_iter().map(|x| x.0).collect()
}

// ---------------------------------------------------------------------------------------------
// enums: integers or names

trait EnumNames {
    const WHAT: &'static str;
    /// The value of a name, with or without the enum's prefix.
    fn value(name: &str) -> Option<i32>;
}

struct Enum<K>(i32, PhantomData<K>);

impl<'de, K: EnumNames> Deserialize<'de> for Enum<K> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<K>(PhantomData<K>);
        impl<'de, K: EnumNames> Visitor<'de> for V<K> {
            type Value = Enum<K>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a {} (number or name)", K::WHAT)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Enum<K>, E> {
                i32::try_from(v)
                    .map(|v| Enum(v, PhantomData))
                    .map_err(|_| E::custom(format!("{v} is not a {}", K::WHAT)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Enum<K>, E> {
                i32::try_from(v)
                    .map(|v| Enum(v, PhantomData))
                    .map_err(|_| E::custom(format!("{v} is not a {}", K::WHAT)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Enum<K>, E> {
                if let Ok(n) = v.parse::<i32>() {
                    return Ok(Enum(n, PhantomData));
                }
                K::value(&v.to_ascii_uppercase())
                    .map(|n| Enum(n, PhantomData))
                    .ok_or_else(|| E::custom(format!("unknown {} {v:?}", K::WHAT)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Enum<K>, E> {
                Ok(Enum(0, PhantomData))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

fn strip<'a>(name: &'a str, prefix: &str) -> &'a str {
    name.strip_prefix(prefix).unwrap_or(name)
}

struct SeverityNumber;
impl EnumNames for SeverityNumber {
    const WHAT: &'static str = "SeverityNumber";
    fn value(name: &str) -> Option<i32> {
        let n = strip(name, "SEVERITY_NUMBER_");
        if n == "UNSPECIFIED" {
            return Some(0);
        }
        let levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
        let (level, sub) = match n.find(|c: char| c.is_ascii_digit()) {
            Some(i) => (&n[..i], n[i..].parse::<i32>().ok()?),
            None => (n, 1),
        };
        let base = levels.iter().position(|l| *l == level)? as i32 * 4;
        (1..=4).contains(&sub).then_some(base + sub)
    }
}

struct SpanKind;
impl EnumNames for SpanKind {
    const WHAT: &'static str = "SpanKind";
    fn value(name: &str) -> Option<i32> {
        ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]
            .iter()
            .position(|k| *k == strip(name, "SPAN_KIND_"))
            .map(|i| i as i32)
    }
}

struct StatusCode;
impl EnumNames for StatusCode {
    const WHAT: &'static str = "StatusCode";
    fn value(name: &str) -> Option<i32> {
        ["UNSET", "OK", "ERROR"].iter().position(|k| *k == strip(name, "STATUS_CODE_")).map(|i| i as i32)
    }
}

struct Temporality;
impl EnumNames for Temporality {
    const WHAT: &'static str = "AggregationTemporality";
    fn value(name: &str) -> Option<i32> {
        ["UNSPECIFIED", "DELTA", "CUMULATIVE"]
            .iter()
            .position(|k| *k == strip(name, "AGGREGATION_TEMPORALITY_"))
            .map(|i| i as i32)
    }
}

// ---------------------------------------------------------------------------------------------
// messages

/// Implements `Deserialize` for a message: a JSON object whose fields are matched by the arms
/// (`"name" | "alias" => statement,`); other fields are skipped.
macro_rules! message {
    ($ty:ty, $what:literal, |$m:ident, $map:ident| { $($arms:tt)* }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    #[allow(unused_mut)]
                    fn visit_map<A: MapAccess<'de>>(self, mut $map: A) -> Result<$ty, A::Error> {
                        let mut $m = <$ty>::default();
                        while let Some(Key(key)) = $map.next_key()? {
                            match &*key {
                                $($arms)*
                                _ => {
                                    $map.next_value::<IgnoredAny>()?;
                                }
                            }
                        }
                        Ok($m)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

message!(AnyValue, "an AnyValue object", |m, map| {
    "stringValue" | "string_value" => m.value = Some(any_value::Value::StringValue(map.next_value::<Str>()?.0)),
    "boolValue" | "bool_value" => m.value = Some(any_value::Value::BoolValue(map.next_value::<Bool>()?.0)),
    "intValue" | "int_value" => m.value = Some(any_value::Value::IntValue(map.next_value::<I64>()?.0)),
    "doubleValue" | "double_value" => m.value = Some(any_value::Value::DoubleValue(map.next_value::<F64>()?.0)),
    "arrayValue" | "array_value" => {
        if let Some(v) = map.next_value::<Option<ArrayValue>>()? {
            m.value = Some(any_value::Value::ArrayValue(v));
        }
    }
    "kvlistValue" | "kvlist_value" => {
        if let Some(v) = map.next_value::<Option<KeyValueList>>()? {
            m.value = Some(any_value::Value::KvlistValue(v));
        }
    }
    "bytesValue" | "bytes_value" => m.value = Some(any_value::Value::BytesValue(map.next_value::<Bytes>()?.0)),
});

message!(ArrayValue, "an ArrayValue object", |m, map| {
    "values" => m.values = map.next_value::<List<AnyValue>>()?.0,
});

message!(KeyValueList, "a KeyValueList object", |m, map| {
    "values" => m.values = map.next_value::<List<KeyValue>>()?.0,
});

message!(KeyValue, "a KeyValue object", |m, map| {
    "key" => m.key = map.next_value::<Str>()?.0,
    "value" => m.value = map.next_value::<Option<AnyValue>>()?,
});

message!(InstrumentationScope, "an InstrumentationScope object", |m, map| {
    "name" => m.name = map.next_value::<Str>()?.0,
    "version" => m.version = map.next_value::<Str>()?.0,
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "droppedAttributesCount" | "dropped_attributes_count" => m.dropped_attributes_count = map.next_value::<U32>()?.0,
});

message!(Resource, "a Resource object", |m, map| {
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "droppedAttributesCount" | "dropped_attributes_count" => m.dropped_attributes_count = map.next_value::<U32>()?.0,
});

// logs

message!(ExportLogsServiceRequest, "an ExportLogsServiceRequest object", |m, map| {
    "resourceLogs" | "resource_logs" => m.resource_logs = map.next_value::<List<ResourceLogs>>()?.0,
});

message!(ResourceLogs, "a ResourceLogs object", |m, map| {
    "resource" => m.resource = map.next_value()?,
    "scopeLogs" | "scope_logs" => m.scope_logs = map.next_value::<List<ScopeLogs>>()?.0,
    "schemaUrl" | "schema_url" => m.schema_url = map.next_value::<Str>()?.0,
});

message!(ScopeLogs, "a ScopeLogs object", |m, map| {
    "scope" => m.scope = map.next_value()?,
    "logRecords" | "log_records" => m.log_records = map.next_value::<List<LogRecord>>()?.0,
    "schemaUrl" | "schema_url" => m.schema_url = map.next_value::<Str>()?.0,
});

message!(LogRecord, "a LogRecord object", |m, map| {
    "timeUnixNano" | "time_unix_nano" => m.time_unix_nano = map.next_value::<U64>()?.0,
    "observedTimeUnixNano" | "observed_time_unix_nano" => m.observed_time_unix_nano = map.next_value::<U64>()?.0,
    "severityNumber" | "severity_number" => m.severity_number = map.next_value::<Enum<SeverityNumber>>()?.0,
    "severityText" | "severity_text" => m.severity_text = map.next_value::<Str>()?.0,
    "body" => m.body = map.next_value()?,
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "droppedAttributesCount" | "dropped_attributes_count" => m.dropped_attributes_count = map.next_value::<U32>()?.0,
    "flags" => m.flags = map.next_value::<U32>()?.0,
    "traceId" | "trace_id" => m.trace_id = map.next_value::<TraceId>()?.0,
    "spanId" | "span_id" => m.span_id = map.next_value::<SpanId>()?.0,
    "eventName" | "event_name" => m.event_name = map.next_value::<Str>()?.0,
});

// traces

message!(ExportTraceServiceRequest, "an ExportTraceServiceRequest object", |m, map| {
    "resourceSpans" | "resource_spans" => m.resource_spans = map.next_value::<List<ResourceSpans>>()?.0,
});

message!(ResourceSpans, "a ResourceSpans object", |m, map| {
    "resource" => m.resource = map.next_value()?,
    "scopeSpans" | "scope_spans" => m.scope_spans = map.next_value::<List<ScopeSpans>>()?.0,
    "schemaUrl" | "schema_url" => m.schema_url = map.next_value::<Str>()?.0,
});

message!(ScopeSpans, "a ScopeSpans object", |m, map| {
    "scope" => m.scope = map.next_value()?,
    "spans" => m.spans = map.next_value::<List<Span>>()?.0,
    "schemaUrl" | "schema_url" => m.schema_url = map.next_value::<Str>()?.0,
});

message!(Span, "a Span object", |m, map| {
    "traceId" | "trace_id" => m.trace_id = map.next_value::<TraceId>()?.0,
    "spanId" | "span_id" => m.span_id = map.next_value::<SpanId>()?.0,
    "traceState" | "trace_state" => m.trace_state = map.next_value::<Str>()?.0,
    "parentSpanId" | "parent_span_id" => m.parent_span_id = map.next_value::<SpanId>()?.0,
    "flags" => m.flags = map.next_value::<U32>()?.0,
    "name" => m.name = map.next_value::<Str>()?.0,
    "kind" => m.kind = map.next_value::<Enum<SpanKind>>()?.0,
    "startTimeUnixNano" | "start_time_unix_nano" => m.start_time_unix_nano = map.next_value::<U64>()?.0,
    "endTimeUnixNano" | "end_time_unix_nano" => m.end_time_unix_nano = map.next_value::<U64>()?.0,
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "droppedAttributesCount" | "dropped_attributes_count" => m.dropped_attributes_count = map.next_value::<U32>()?.0,
    "events" => m.events = map.next_value::<List<span::Event>>()?.0,
    "droppedEventsCount" | "dropped_events_count" => m.dropped_events_count = map.next_value::<U32>()?.0,
    "links" => m.links = map.next_value::<List<span::Link>>()?.0,
    "droppedLinksCount" | "dropped_links_count" => m.dropped_links_count = map.next_value::<U32>()?.0,
    "status" => m.status = map.next_value()?,
});

message!(span::Event, "a Span.Event object", |m, map| {
    "timeUnixNano" | "time_unix_nano" => m.time_unix_nano = map.next_value::<U64>()?.0,
    "name" => m.name = map.next_value::<Str>()?.0,
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "droppedAttributesCount" | "dropped_attributes_count" => m.dropped_attributes_count = map.next_value::<U32>()?.0,
});

message!(span::Link, "a Span.Link object", |m, map| {
    "traceId" | "trace_id" => m.trace_id = map.next_value::<TraceId>()?.0,
    "spanId" | "span_id" => m.span_id = map.next_value::<SpanId>()?.0,
    "traceState" | "trace_state" => m.trace_state = map.next_value::<Str>()?.0,
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "droppedAttributesCount" | "dropped_attributes_count" => m.dropped_attributes_count = map.next_value::<U32>()?.0,
    "flags" => m.flags = map.next_value::<U32>()?.0,
});

message!(Status, "a Status object", |m, map| {
    "message" => m.message = map.next_value::<Str>()?.0,
    "code" => m.code = map.next_value::<Enum<StatusCode>>()?.0,
});

// metrics

message!(ExportMetricsServiceRequest, "an ExportMetricsServiceRequest object", |m, map| {
    "resourceMetrics" | "resource_metrics" => m.resource_metrics = map.next_value::<List<ResourceMetrics>>()?.0,
});

message!(ResourceMetrics, "a ResourceMetrics object", |m, map| {
    "resource" => m.resource = map.next_value()?,
    "scopeMetrics" | "scope_metrics" => m.scope_metrics = map.next_value::<List<ScopeMetrics>>()?.0,
    "schemaUrl" | "schema_url" => m.schema_url = map.next_value::<Str>()?.0,
});

message!(ScopeMetrics, "a ScopeMetrics object", |m, map| {
    "scope" => m.scope = map.next_value()?,
    "metrics" => m.metrics = map.next_value::<List<Metric>>()?.0,
    "schemaUrl" | "schema_url" => m.schema_url = map.next_value::<Str>()?.0,
});

message!(Metric, "a Metric object", |m, map| {
    "name" => m.name = map.next_value::<Str>()?.0,
    "description" => m.description = map.next_value::<Str>()?.0,
    "unit" => m.unit = map.next_value::<Str>()?.0,
    "metadata" => m.metadata = map.next_value::<List<KeyValue>>()?.0,
    "gauge" => {
        if let Some(v) = map.next_value::<Option<Gauge>>()? {
            m.data = Some(metric::Data::Gauge(v));
        }
    }
    "sum" => {
        if let Some(v) = map.next_value::<Option<Sum>>()? {
            m.data = Some(metric::Data::Sum(v));
        }
    }
    "histogram" => {
        if let Some(v) = map.next_value::<Option<Histogram>>()? {
            m.data = Some(metric::Data::Histogram(v));
        }
    }
    "exponentialHistogram" | "exponential_histogram" => {
        if let Some(v) = map.next_value::<Option<ExponentialHistogram>>()? {
            m.data = Some(metric::Data::ExponentialHistogram(v));
        }
    }
    "summary" => {
        if let Some(v) = map.next_value::<Option<Summary>>()? {
            m.data = Some(metric::Data::Summary(v));
        }
    }
});

message!(Gauge, "a Gauge object", |m, map| {
    "dataPoints" | "data_points" => m.data_points = map.next_value::<List<NumberDataPoint>>()?.0,
});

message!(Sum, "a Sum object", |m, map| {
    "dataPoints" | "data_points" => m.data_points = map.next_value::<List<NumberDataPoint>>()?.0,
    "aggregationTemporality" | "aggregation_temporality" => {
        m.aggregation_temporality = map.next_value::<Enum<Temporality>>()?.0
    }
    "isMonotonic" | "is_monotonic" => m.is_monotonic = map.next_value::<Bool>()?.0,
});

message!(Histogram, "a Histogram object", |m, map| {
    "dataPoints" | "data_points" => m.data_points = map.next_value::<List<HistogramDataPoint>>()?.0,
    "aggregationTemporality" | "aggregation_temporality" => {
        m.aggregation_temporality = map.next_value::<Enum<Temporality>>()?.0
    }
});

message!(ExponentialHistogram, "an ExponentialHistogram object", |m, map| {
    "dataPoints" | "data_points" => m.data_points = map.next_value::<List<ExponentialHistogramDataPoint>>()?.0,
    "aggregationTemporality" | "aggregation_temporality" => {
        m.aggregation_temporality = map.next_value::<Enum<Temporality>>()?.0
    }
});

message!(Summary, "a Summary object", |m, map| {
    "dataPoints" | "data_points" => m.data_points = map.next_value::<List<SummaryDataPoint>>()?.0,
});

message!(NumberDataPoint, "a NumberDataPoint object", |m, map| {
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "startTimeUnixNano" | "start_time_unix_nano" => m.start_time_unix_nano = map.next_value::<U64>()?.0,
    "timeUnixNano" | "time_unix_nano" => m.time_unix_nano = map.next_value::<U64>()?.0,
    "asDouble" | "as_double" => m.value = Some(number_data_point::Value::AsDouble(map.next_value::<F64>()?.0)),
    "asInt" | "as_int" => m.value = Some(number_data_point::Value::AsInt(map.next_value::<I64>()?.0)),
    "exemplars" => m.exemplars = map.next_value::<List<Exemplar>>()?.0,
    "flags" => m.flags = map.next_value::<U32>()?.0,
});

message!(HistogramDataPoint, "a HistogramDataPoint object", |m, map| {
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "startTimeUnixNano" | "start_time_unix_nano" => m.start_time_unix_nano = map.next_value::<U64>()?.0,
    "timeUnixNano" | "time_unix_nano" => m.time_unix_nano = map.next_value::<U64>()?.0,
    "count" => m.count = map.next_value::<U64>()?.0,
    "sum" => m.sum = map.next_value::<OptF64>()?.0,
    "bucketCounts" | "bucket_counts" => m.bucket_counts = u64s(map.next_value()?),
    "explicitBounds" | "explicit_bounds" => m.explicit_bounds = f64s(map.next_value()?),
    "exemplars" => m.exemplars = map.next_value::<List<Exemplar>>()?.0,
    "flags" => m.flags = map.next_value::<U32>()?.0,
    "min" => m.min = map.next_value::<OptF64>()?.0,
    "max" => m.max = map.next_value::<OptF64>()?.0,
});

message!(ExponentialHistogramDataPoint, "an ExponentialHistogramDataPoint object", |m, map| {
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "startTimeUnixNano" | "start_time_unix_nano" => m.start_time_unix_nano = map.next_value::<U64>()?.0,
    "timeUnixNano" | "time_unix_nano" => m.time_unix_nano = map.next_value::<U64>()?.0,
    "count" => m.count = map.next_value::<U64>()?.0,
    "sum" => m.sum = map.next_value::<OptF64>()?.0,
    "scale" => m.scale = map.next_value::<I32>()?.0,
    "zeroCount" | "zero_count" => m.zero_count = map.next_value::<U64>()?.0,
    "positive" => m.positive = map.next_value()?,
    "negative" => m.negative = map.next_value()?,
    "flags" => m.flags = map.next_value::<U32>()?.0,
    "exemplars" => m.exemplars = map.next_value::<List<Exemplar>>()?.0,
    "min" => m.min = map.next_value::<OptF64>()?.0,
    "max" => m.max = map.next_value::<OptF64>()?.0,
    "zeroThreshold" | "zero_threshold" => m.zero_threshold = map.next_value::<F64>()?.0,
});

message!(exponential_histogram_data_point::Buckets, "a Buckets object", |m, map| {
    "offset" => m.offset = map.next_value::<I32>()?.0,
    "bucketCounts" | "bucket_counts" => m.bucket_counts = u64s(map.next_value()?),
});

message!(SummaryDataPoint, "a SummaryDataPoint object", |m, map| {
    "attributes" => m.attributes = map.next_value::<List<KeyValue>>()?.0,
    "startTimeUnixNano" | "start_time_unix_nano" => m.start_time_unix_nano = map.next_value::<U64>()?.0,
    "timeUnixNano" | "time_unix_nano" => m.time_unix_nano = map.next_value::<U64>()?.0,
    "count" => m.count = map.next_value::<U64>()?.0,
    "sum" => m.sum = map.next_value::<F64>()?.0,
    "quantileValues" | "quantile_values" => {
        m.quantile_values = map.next_value::<List<summary_data_point::ValueAtQuantile>>()?.0
    }
    "flags" => m.flags = map.next_value::<U32>()?.0,
});

message!(summary_data_point::ValueAtQuantile, "a ValueAtQuantile object", |m, map| {
    "quantile" => m.quantile = map.next_value::<F64>()?.0,
    "value" => m.value = map.next_value::<F64>()?.0,
});

message!(Exemplar, "an Exemplar object", |m, map| {
    "filteredAttributes" | "filtered_attributes" => m.filtered_attributes = map.next_value::<List<KeyValue>>()?.0,
    "timeUnixNano" | "time_unix_nano" => m.time_unix_nano = map.next_value::<U64>()?.0,
    "asDouble" | "as_double" => m.value = Some(exemplar::Value::AsDouble(map.next_value::<F64>()?.0)),
    "asInt" | "as_int" => m.value = Some(exemplar::Value::AsInt(map.next_value::<I64>()?.0)),
    "spanId" | "span_id" => m.span_id = map.next_value::<SpanId>()?.0,
    "traceId" | "trace_id" => m.trace_id = map.next_value::<TraceId>()?.0,
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_or_base64_and_anything_else_has_a_wrong_length() {
        let hex = "5b8efff798038103d269b633813fc60c";
        let bytes = decode_id(hex, 16);
        assert_eq!(bytes.len(), 16);
        assert_eq!(bytes[0], 0x5b);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(b64.len(), 24);
        assert_eq!(decode_id(&b64, 16), bytes);
        assert_eq!(decode_id(b64.trim_end_matches('='), 16), bytes, "unpadded base64");
        assert_eq!(decode_id("EEE19B7EC3C1B174", 8), vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!(decode_id("", 8), Vec::<u8>::new());
        assert_eq!(decode_id("abcd", 8).len(), 2, "short hex keeps its (wrong) length");
        assert_ne!(decode_id("!!!!!!!!", 8).len(), 8, "garbage never has the right length");
    }

    #[test]
    fn numbers_come_as_numbers_or_strings_and_null_is_the_default() {
        let r: LogRecord = serde_json::from_str(
            r#"{"timeUnixNano":"1795433498833614848","observed_time_unix_nano":17,"severityNumber":"SEVERITY_NUMBER_WARN2",
                "flags":null,"severityText":null,"unknown":{"deep":[1,2,{"x":null}]}}"#,
        )
        .unwrap();
        assert_eq!(r.time_unix_nano, 1_795_433_498_833_614_848);
        assert_eq!(r.observed_time_unix_nano, 17);
        assert_eq!(r.severity_number, 14);
        assert_eq!(r.flags, 0);
        let p: HistogramDataPoint = serde_json::from_str(
            r#"{"sum":"NaN","min":"-Infinity","max":null,"bucketCounts":["1",2],"explicitBounds":[0.5,"Infinity"]}"#,
        )
        .unwrap();
        assert!(p.sum.unwrap().is_nan());
        assert_eq!(p.min, Some(f64::NEG_INFINITY));
        assert_eq!(p.max, None);
        assert_eq!(p.bucket_counts, vec![1, 2]);
        assert_eq!(p.explicit_bounds, vec![0.5, f64::INFINITY]);
    }

    #[test]
    fn enums_come_as_numbers_or_names() {
        let s: Span =
            serde_json::from_str(r#"{"kind":"SPAN_KIND_SERVER","status":{"code":"STATUS_CODE_ERROR"}}"#).unwrap();
        assert_eq!((s.kind, s.status.unwrap().code), (2, 2));
        let s: Span = serde_json::from_str(r#"{"kind":3,"status":{"code":1}}"#).unwrap();
        assert_eq!((s.kind, s.status.unwrap().code), (3, 1));
        let m: Sum = serde_json::from_str(r#"{"aggregationTemporality":"AGGREGATION_TEMPORALITY_DELTA"}"#).unwrap();
        assert_eq!(m.aggregation_temporality, 1);
        assert!(serde_json::from_str::<Span>(r#"{"kind":"SPAN_KIND_SIDEWAYS"}"#).is_err());
    }

    #[test]
    fn any_values_of_every_kind() {
        let kv: KeyValueList = serde_json::from_str(
            r#"{"values":[
                {"key":"s","value":{"stringValue":"x"}},
                {"key":"b","value":{"boolValue":true}},
                {"key":"i","value":{"intValue":"-5"}},
                {"key":"d","value":{"doubleValue":1.5}},
                {"key":"a","value":{"arrayValue":{"values":[{"intValue":1}]}}},
                {"key":"m","value":{"kvlistValue":{"values":[{"key":"k","value":{"stringValue":"v"}}]}}},
                {"key":"y","value":{"bytesValue":"AQI="}},
                {"key":"e","value":{}}
            ]}"#,
        )
        .unwrap();
        use any_value::Value as V;
        let v: Vec<Option<V>> = kv.values.into_iter().map(|kv| kv.value.unwrap().value).collect();
        assert_eq!(v[0], Some(V::StringValue("x".into())));
        assert_eq!(v[1], Some(V::BoolValue(true)));
        assert_eq!(v[2], Some(V::IntValue(-5)));
        assert_eq!(v[3], Some(V::DoubleValue(1.5)));
        assert!(matches!(&v[4], Some(V::ArrayValue(a)) if a.values.len() == 1));
        assert!(matches!(&v[5], Some(V::KvlistValue(m)) if m.values[0].key == "k"));
        assert_eq!(v[6], Some(V::BytesValue(vec![1, 2])));
        assert_eq!(v[7], None);
    }
}
