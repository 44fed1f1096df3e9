//! Event messages (one JSON object or one protobuf message each) decoded into one Arrow record
//! batch shaped like the target table: its insertable columns, in table order, because the
//! engine's Arrow ingest matches columns by position.
//!
//! The table's columns (name and ClickHouse type, as `system.columns` lists them) make a
//! [`Decoder`]; it never sees the network or the store. A message that cannot be decoded is
//! returned as rejected with the reason; the others still make the batch.
//!
//! Mapping, by column name:
//! - JSON: a field of the top-level object; protobuf: a field of the message by its proto name
//!   (the message is first turned into its canonical proto3 JSON form, so `Timestamp` is an
//!   RFC 3339 string, `Struct`/`Value`/nested messages are JSON objects, 64-bit integers are
//!   strings, bytes are base64).
//! - `DateTime64(p)` and `DateTime` take RFC 3339 strings or epoch numbers (seconds, milli-,
//!   micro- or nanoseconds, told apart by magnitude: below 1e11 seconds, 1e14 ms, 1e17 µs).
//! - `JSON` columns take an object (or a string holding one); `String` columns take strings,
//!   numbers and booleans as text, objects and arrays as JSON text.
//! - Missing or null fields: NULL in a `Nullable` column, else the type's zero value (empty
//!   string, 0, false, 1970-01-01, `{}`). ClickHouse `DEFAULT` expressions are not applied: the
//!   embedded engine's Arrow ingest needs every insertable column in the batch.
//! - The optional whole-message column (`json_column`) keeps the whole message as JSON text.
//! - Metadata columns, filled from the message and never from its payload: `_nats_stream`,
//!   `_nats_seq` (the stream sequence), `_nats_subject` and `_nats_published` (the time the
//!   stream stored the message). `_nats_stream` + `_nats_seq` let redelivered messages be
//!   recognised exactly (see the NATS consumer in chute-server). [`DecoderOptions::nats_metadata`]
//!   off (HTTP events) makes them ordinary columns.
//! - Options for sources other than NATS ([`DecoderOptions`]): an arrival-time column (a time
//!   column that takes [`Message::published_ns`] when the event has no value for it), and
//!   lowercase field names (`Timestamp` also takes a field `timestamp` when there is no field
//!   `Timestamp`).
//!
//! [`split_documents`] cuts NDJSON and JSON-array bodies into one message per event, with the
//! line each starts on.

mod documents;
mod fields;
mod time;

use arrow_array::builder::{
    BooleanBuilder, Float32Builder, Float64Builder, Int8Builder, Int16Builder, Int32Builder, Int64Builder,
    StringBuilder, UInt8Builder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::{Map, Value};
use std::sync::Arc;

pub use documents::{BodyFormat, Document, split_documents};
pub use time::parse_rfc3339_nanos;

/// The errors of building a decoder. Per-message problems are not errors: they are returned in
/// [`Decoded::rejected`].
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum EventsError {
    #[error("column {column}: type {ch_type} is not supported by the event decoders")]
    UnsupportedType { column: String, ch_type: String },
    #[error("json_column {0:?} is not a column of the table")]
    NoJsonColumn(String),
    #[error("descriptor set {path}: {message}")]
    Descriptor { path: String, message: String },
    #[error("message {name:?} is not in the descriptor set {path}")]
    UnknownMessage { name: String, path: String },
    #[error("the table has no columns")]
    NoColumns,
    #[error("time_column {0:?} is not a column of the table")]
    NoTimeColumn(String),
    #[error("time_column {column:?} has type {ch_type}: it must be DateTime or DateTime64")]
    NotATimeColumn { column: String, ch_type: String },
    /// A body of several events that cannot be split into them.
    #[error("line {line}: {message}")]
    Body { line: usize, message: String },
}

/// One column of the target table, as `system.columns` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub ch_type: String,
}

impl Column {
    pub fn new(name: &str, ch_type: &str) -> Self {
        Column { name: name.to_string(), ch_type: ch_type.to_string() }
    }
}

/// Where a message came from: filled into the `_nats_*` metadata columns.
#[derive(Clone, Copy, Debug, Default)]
pub struct Message<'a> {
    pub payload: &'a [u8],
    pub stream: &'a str,
    pub seq: u64,
    pub subject: &'a str,
    /// When the message arrived, nanoseconds since the epoch: for NATS when the stream stored
    /// it, for HTTP when chute received the request. Fills `_nats_published` and the
    /// arrival-time column ([`DecoderOptions::arrival_time_column`]).
    pub published_ns: i64,
}

/// How a [`Decoder`] maps messages to columns, beyond field name = column name.
#[derive(Clone, Debug, Default)]
pub struct DecoderOptions<'a> {
    /// The column (String or JSON) that keeps the whole message as JSON text.
    pub json_column: Option<&'a str>,
    /// A DateTime/DateTime64 column that takes the message's arrival time
    /// ([`Message::published_ns`]) when the message has no value (or null) for it.
    pub arrival_time_column: Option<&'a str>,
    /// A column also takes the field named like it in lowercase when the message has no field of
    /// its exact name (`Timestamp` takes `timestamp`).
    pub lowercase_fields: bool,
    /// `_nats_stream`, `_nats_seq`, `_nats_subject` and `_nats_published` are filled from the
    /// message's NATS metadata (true) or are ordinary columns (false).
    pub nats_metadata: bool,
}

/// The wire format of the messages.
#[derive(Clone, Debug)]
pub enum Format {
    Json,
    Protobuf(MessageDescriptor),
}

impl Format {
    /// Loads `message` (a full name, e.g. `envelope.v1.Envelope`) from a descriptor set written by
    /// `protoc --include_imports --descriptor_set_out=FILE`.
    pub fn protobuf_from_file(path: &str, message: &str) -> Result<Format, EventsError> {
        let bytes = std::fs::read(path)
            .map_err(|e| EventsError::Descriptor { path: path.to_string(), message: format!("cannot read: {e}") })?;
        Format::protobuf_from_bytes(&bytes, path, message)
    }

    /// As [`Format::protobuf_from_file`], from the descriptor set's bytes (`path` names it in errors).
    pub fn protobuf_from_bytes(bytes: &[u8], path: &str, message: &str) -> Result<Format, EventsError> {
        let pool = DescriptorPool::decode(bytes).map_err(|e| EventsError::Descriptor {
            path: path.to_string(),
            message: format!("not a protobuf FileDescriptorSet: {e}"),
        })?;
        let desc = pool
            .get_message_by_name(message)
            .ok_or_else(|| EventsError::UnknownMessage { name: message.to_string(), path: path.to_string() })?;
        Ok(Format::Protobuf(desc))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Str,
    Json,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    F32,
    F64,
    Bool,
    /// DateTime64(p) / DateTime: values in `unit`.
    Time(TimeUnit),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    Field,
    WholeMessage,
    Stream,
    Seq,
    Subject,
    Published,
}

#[derive(Clone, Debug)]
struct Spec {
    name: String,
    /// The column's name in lowercase, when lowercase fields are on and it differs.
    lowercase: Option<String>,
    kind: Kind,
    nullable: bool,
    source: Source,
    /// Takes the arrival time when the message has no value.
    arrival: bool,
}

/// A decoder for one table and one message format.
#[derive(Clone, Debug)]
pub struct Decoder {
    specs: Vec<Spec>,
    schema: SchemaRef,
    format: Format,
    /// Field name → the columns it fills (JSON).
    keys: fields::FieldKeys,
}

/// The result of decoding a batch of messages.
#[derive(Debug)]
pub struct Decoded {
    /// One row per accepted message, in input order.
    pub batch: RecordBatch,
    /// The input index of each row.
    pub rows: Vec<usize>,
    /// Messages that could not be decoded: input index and reason.
    pub rejected: Vec<(usize, String)>,
}

impl Decoder {
    /// A decoder filling `columns` (the table's insertable columns, in table order). `json_column`
    /// names the column that keeps the whole message as JSON text, if any.
    pub fn new(columns: &[Column], format: Format, json_column: Option<&str>) -> Result<Decoder, EventsError> {
        Decoder::with_options(
            columns,
            format,
            &DecoderOptions { json_column, nats_metadata: true, ..Default::default() },
        )
    }

    /// A decoder filling `columns` (the table's insertable columns, in table order) as `options`
    /// say.
    pub fn with_options(
        columns: &[Column],
        format: Format,
        options: &DecoderOptions<'_>,
    ) -> Result<Decoder, EventsError> {
        let json_column = options.json_column;
        if columns.is_empty() {
            return Err(EventsError::NoColumns);
        }
        if let Some(j) = json_column
            && !columns.iter().any(|c| c.name == j)
        {
            return Err(EventsError::NoJsonColumn(j.to_string()));
        }
        if let Some(t) = options.arrival_time_column
            && !columns.iter().any(|c| c.name == t)
        {
            return Err(EventsError::NoTimeColumn(t.to_string()));
        }
        let mut specs = Vec::with_capacity(columns.len());
        let mut fields = Vec::with_capacity(columns.len());
        for c in columns {
            let (kind, nullable) = parse_type(&c.ch_type)
                .ok_or_else(|| EventsError::UnsupportedType { column: c.name.clone(), ch_type: c.ch_type.clone() })?;
            let source = match c.name.as_str() {
                n if Some(n) == json_column => Source::WholeMessage,
                "_nats_stream" if options.nats_metadata => Source::Stream,
                "_nats_seq" if options.nats_metadata => Source::Seq,
                "_nats_subject" if options.nats_metadata => Source::Subject,
                "_nats_published" if options.nats_metadata => Source::Published,
                _ => Source::Field,
            };
            let unsupported = || EventsError::UnsupportedType { column: c.name.clone(), ch_type: c.ch_type.clone() };
            match source {
                Source::WholeMessage | Source::Stream | Source::Subject if !matches!(kind, Kind::Str | Kind::Json) => {
                    return Err(unsupported());
                }
                Source::Seq if kind != Kind::U64 => return Err(unsupported()),
                Source::Published if !matches!(kind, Kind::Time(_)) => return Err(unsupported()),
                _ => {}
            }
            let arrival = options.arrival_time_column == Some(c.name.as_str());
            if arrival && (source != Source::Field || !matches!(kind, Kind::Time(_))) {
                return Err(EventsError::NotATimeColumn { column: c.name.clone(), ch_type: c.ch_type.clone() });
            }
            let lowercase = c.name.to_lowercase();
            let lowercase = (options.lowercase_fields && lowercase != c.name).then_some(lowercase);
            fields.push(Field::new(&c.name, arrow_type(kind), nullable));
            specs.push(Spec { name: c.name.clone(), lowercase, kind, nullable, source, arrival });
        }
        let names: Vec<Option<(&str, Option<&str>)>> = specs
            .iter()
            .map(|s| (s.source == Source::Field).then_some((s.name.as_str(), s.lowercase.as_deref())))
            .collect();
        let keys = fields::FieldKeys::new(&names);
        Ok(Decoder { specs, schema: Arc::new(Schema::new(fields)), format, keys })
    }

    /// The Arrow schema of the batches, in table column order.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Whether the table has the `_nats_stream` and `_nats_seq` columns.
    pub fn has_sequence_columns(&self) -> bool {
        self.specs.iter().any(|s| s.source == Source::Stream) && self.specs.iter().any(|s| s.source == Source::Seq)
    }

    /// Decodes `messages` into one batch; undecodable messages are rejected with the reason.
    pub fn decode(&self, messages: &[Message<'_>]) -> Decoded {
        let mut cols: Vec<Builder> = self.specs.iter().map(|s| Builder::new(s.kind, messages.len())).collect();
        let mut rows = Vec::with_capacity(messages.len());
        let mut rejected = Vec::new();
        let mut cells: Vec<Cell> = Vec::with_capacity(self.specs.len());
        for (i, m) in messages.iter().enumerate() {
            cells.clear();
            match self.row(m, &mut cells) {
                Ok(()) => {
                    for (b, c) in cols.iter_mut().zip(cells.drain(..)) {
                        b.push(c);
                    }
                    rows.push(i);
                }
                Err(e) => rejected.push((i, e)),
            }
        }
        let arrays: Vec<ArrayRef> = cols.into_iter().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .unwrap_or_else(|_| RecordBatch::new_empty(self.schema.clone()));
        Decoded { batch, rows, rejected }
    }

    /// Converts one message into one cell per column, or says why it cannot.
    fn row(&self, m: &Message<'_>, out: &mut Vec<Cell>) -> Result<(), String> {
        let (object, whole) = match &self.format {
            Format::Json => {
                // Only the fields columns take are built (no map of the whole object).
                let slots = self.keys.parse(m.payload)?;
                // The payload is already JSON text: kept as sent.
                let whole = self.wants_whole().then(|| String::from_utf8_lossy(m.payload).into_owned());
                (Fields::Slots(slots), whole)
            }
            Format::Protobuf(desc) => {
                let msg = DynamicMessage::decode(desc.clone(), m.payload)
                    .map_err(|e| format!("invalid protobuf {}: {e}", desc.full_name()))?;
                let opts = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);
                let v = msg
                    .serialize_with_options(serde_json::value::Serializer, &opts)
                    .map_err(|e| format!("protobuf {} has no JSON form: {e}", desc.full_name()))?;
                match v {
                    Value::Object(o) => {
                        let whole = self.wants_whole().then(|| Value::Object(o.clone()).to_string());
                        (Fields::Map(o), whole)
                    }
                    other => return Err(format!("expected a message, got {}", kind_of(&other))),
                }
            }
        };
        for (i, s) in self.specs.iter().enumerate() {
            let cell = match s.source {
                Source::Field => {
                    let v = match &object {
                        Fields::Slots(slots) => slots[i].as_ref(),
                        Fields::Map(object) => {
                            let mut v = object.get(&s.name);
                            if v.is_none()
                                && let Some(l) = &s.lowercase
                            {
                                v = object.get(l);
                            }
                            v
                        }
                    };
                    match (s.kind, v) {
                        (Kind::Time(unit), None | Some(Value::Null)) if s.arrival => {
                            Cell::I64(m.published_ns.div_euclid(nanos_per(unit)))
                        }
                        _ => convert(s, v)?,
                    }
                }
                Source::WholeMessage => Cell::Str(whole.clone().unwrap_or_default()),
                Source::Stream => Cell::Str(m.stream.to_string()),
                Source::Subject => Cell::Str(m.subject.to_string()),
                Source::Seq => Cell::U64(m.seq),
                Source::Published => match s.kind {
                    Kind::Time(unit) => Cell::I64(m.published_ns / nanos_per(unit)),
                    _ => Cell::Null,
                },
            };
            out.push(cell);
        }
        Ok(())
    }

    fn wants_whole(&self) -> bool {
        self.specs.iter().any(|s| s.source == Source::WholeMessage)
    }
}

/// A message's fields: the whole object (protobuf), or the value of each column's field (JSON).
enum Fields {
    Map(Map<String, Value>),
    Slots(Vec<Option<Value>>),
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `Nullable(...)`, `LowCardinality(...)` and the scalar types chute fills.
fn parse_type(t: &str) -> Option<(Kind, bool)> {
    let t = t.trim();
    if let Some(inner) = strip_call(t, "Nullable") {
        return parse_type(inner).map(|(k, _)| (k, true));
    }
    if let Some(inner) = strip_call(t, "LowCardinality") {
        return parse_type(inner);
    }
    let kind = match t {
        "String" => Kind::Str,
        "JSON" | "Object('json')" => Kind::Json,
        "Int8" => Kind::I8,
        "Int16" => Kind::I16,
        "Int32" => Kind::I32,
        "Int64" => Kind::I64,
        "UInt8" => Kind::U8,
        "UInt16" => Kind::U16,
        "UInt32" => Kind::U32,
        "UInt64" => Kind::U64,
        "Float32" => Kind::F32,
        "Float64" => Kind::F64,
        "Bool" => Kind::Bool,
        "DateTime" => Kind::Time(TimeUnit::Second),
        _ => {
            if t.starts_with("FixedString(") || t.starts_with("Enum8(") || t.starts_with("Enum16(") {
                Kind::Str
            } else if t.starts_with("JSON(") {
                Kind::Json
            } else if let Some(args) = strip_call(t, "DateTime64") {
                let p: u32 = args.split(',').next()?.trim().parse().ok()?;
                Kind::Time(match p {
                    0 => TimeUnit::Second,
                    1..=3 => TimeUnit::Millisecond,
                    4..=6 => TimeUnit::Microsecond,
                    7..=9 => TimeUnit::Nanosecond,
                    _ => return None,
                })
            } else if strip_call(t, "DateTime").is_some() {
                Kind::Time(TimeUnit::Second)
            } else {
                return None;
            }
        }
    };
    Some((kind, false))
}

fn strip_call<'a>(t: &'a str, name: &str) -> Option<&'a str> {
    t.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')
}

fn arrow_type(k: Kind) -> DataType {
    match k {
        Kind::Str | Kind::Json => DataType::Utf8,
        Kind::I8 => DataType::Int8,
        Kind::I16 => DataType::Int16,
        Kind::I32 => DataType::Int32,
        Kind::I64 => DataType::Int64,
        Kind::U8 => DataType::UInt8,
        Kind::U16 => DataType::UInt16,
        Kind::U32 => DataType::UInt32,
        Kind::U64 => DataType::UInt64,
        Kind::F32 => DataType::Float32,
        Kind::F64 => DataType::Float64,
        Kind::Bool => DataType::Boolean,
        Kind::Time(u) => DataType::Timestamp(u, Some("UTC".into())),
    }
}

fn nanos_per(u: TimeUnit) -> i64 {
    match u {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// One converted value.
enum Cell {
    Null,
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

fn convert(s: &Spec, v: Option<&Value>) -> Result<Cell, String> {
    let v = match v {
        None | Some(Value::Null) => {
            return Ok(if s.nullable {
                Cell::Null
            } else {
                match s.kind {
                    Kind::Str => Cell::Str(String::new()),
                    Kind::Json => Cell::Str("{}".into()),
                    Kind::F32 | Kind::F64 => Cell::F64(0.0),
                    Kind::Bool => Cell::Bool(false),
                    Kind::U64 => Cell::U64(0),
                    _ => Cell::I64(0),
                }
            });
        }
        Some(v) => v,
    };
    let bad = |why: &str| format!("field {}: {why}", s.name);
    Ok(match s.kind {
        Kind::Str => Cell::Str(match v {
            Value::String(x) => x.clone(),
            other => other.to_string(),
        }),
        Kind::Json => match v {
            Value::Object(_) => Cell::Str(v.to_string()),
            Value::String(x)
                if x.trim_start().starts_with('{') && serde_json::from_str::<Map<String, Value>>(x).is_ok() =>
            {
                Cell::Str(x.clone())
            }
            other => return Err(bad(&format!("a JSON column needs an object, got {}", kind_of(other)))),
        },
        Kind::F32 | Kind::F64 => Cell::F64(match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| bad("not a number"))?,
            Value::String(x) => x.trim().parse().map_err(|_| bad(&format!("{x:?} is not a number")))?,
            Value::Bool(b) => f64::from(u8::from(*b)),
            other => return Err(bad(&format!("expected a number, got {}", kind_of(other)))),
        }),
        Kind::Bool => Cell::Bool(match v {
            Value::Bool(b) => *b,
            Value::Number(n) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => n.as_u64() == Some(1),
            Value::String(x) if x == "true" || x == "false" => x == "true",
            other => return Err(bad(&format!("expected a boolean, got {other}"))),
        }),
        Kind::U64 => Cell::U64(unsigned(v).map_err(|e| bad(&e))?),
        Kind::U8 | Kind::U16 | Kind::U32 => {
            let max = match s.kind {
                Kind::U8 => u8::MAX as u64,
                Kind::U16 => u16::MAX as u64,
                _ => u32::MAX as u64,
            };
            let n = unsigned(v).map_err(|e| bad(&e))?;
            if n > max {
                return Err(bad(&format!("{n} is out of range (at most {max})")));
            }
            Cell::I64(n as i64)
        }
        Kind::I8 | Kind::I16 | Kind::I32 | Kind::I64 => {
            let (lo, hi) = match s.kind {
                Kind::I8 => (i8::MIN as i64, i8::MAX as i64),
                Kind::I16 => (i16::MIN as i64, i16::MAX as i64),
                Kind::I32 => (i32::MIN as i64, i32::MAX as i64),
                _ => (i64::MIN, i64::MAX),
            };
            let n = signed(v).map_err(|e| bad(&e))?;
            if n < lo || n > hi {
                return Err(bad(&format!("{n} is out of range ({lo} to {hi})")));
            }
            Cell::I64(n)
        }
        Kind::Time(unit) => Cell::I64(time_value(v, unit).map_err(|e| bad(&e))?),
    })
}

fn signed(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.2e18).map(|f| f as i64))
            .ok_or_else(|| format!("{n} is not an integer in range")),
        Value::String(x) => x.trim().parse().map_err(|_| format!("{x:?} is not an integer")),
        Value::Bool(b) => Ok(i64::from(*b)),
        other => Err(format!("expected an integer, got {}", kind_of(other))),
    }
}

fn unsigned(v: &Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19).map(|f| f as u64))
            .ok_or_else(|| format!("{n} is not an unsigned integer in range")),
        Value::String(x) => x.trim().parse().map_err(|_| format!("{x:?} is not an unsigned integer")),
        Value::Bool(b) => Ok(u64::from(*b)),
        other => Err(format!("expected an unsigned integer, got {}", kind_of(other))),
    }
}

/// An RFC 3339 string or an epoch number as a count of `unit` since the epoch.
fn time_value(v: &Value, unit: TimeUnit) -> Result<i64, String> {
    let nanos: i128 = match v {
        Value::String(x) => match time::parse_rfc3339_nanos(x) {
            Some(n) => n,
            None => match x.trim().parse::<f64>() {
                Ok(f) => epoch_nanos(f),
                Err(_) => return Err(format!("{x:?} is neither an RFC 3339 time nor an epoch number")),
            },
        },
        Value::Number(n) => match n.as_i64() {
            Some(i) => epoch_nanos_int(i),
            None => epoch_nanos(n.as_f64().ok_or_else(|| format!("{n} is not a time"))?),
        },
        other => return Err(format!("expected a time, got {}", kind_of(other))),
    };
    let per = nanos_per(unit) as i128;
    i64::try_from(nanos.div_euclid(per)).map_err(|_| "time out of range".to_string())
}

/// Epoch seconds, milli-, micro- or nanoseconds, told apart by magnitude.
fn epoch_nanos_int(i: i64) -> i128 {
    let a = i.unsigned_abs();
    let i = i as i128;
    if a < 100_000_000_000 {
        i * 1_000_000_000
    } else if a < 100_000_000_000_000 {
        i * 1_000_000
    } else if a < 100_000_000_000_000_000 {
        i * 1_000
    } else {
        i
    }
}

fn epoch_nanos(f: f64) -> i128 {
    let a = f.abs();
    let scale = if a < 1e11 {
        1e9
    } else if a < 1e14 {
        1e6
    } else if a < 1e17 {
        1e3
    } else {
        1.0
    };
    (f * scale).round() as i128
}

enum Builder {
    Str(StringBuilder),
    I8(Int8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Time(TimeUnit, Int64Builder),
}

impl Builder {
    fn new(k: Kind, n: usize) -> Builder {
        match k {
            Kind::Str | Kind::Json => Builder::Str(StringBuilder::with_capacity(n, n * 16)),
            Kind::I8 => Builder::I8(Int8Builder::with_capacity(n)),
            Kind::I16 => Builder::I16(Int16Builder::with_capacity(n)),
            Kind::I32 => Builder::I32(Int32Builder::with_capacity(n)),
            Kind::I64 => Builder::I64(Int64Builder::with_capacity(n)),
            Kind::U8 => Builder::U8(UInt8Builder::with_capacity(n)),
            Kind::U16 => Builder::U16(UInt16Builder::with_capacity(n)),
            Kind::U32 => Builder::U32(UInt32Builder::with_capacity(n)),
            Kind::U64 => Builder::U64(UInt64Builder::with_capacity(n)),
            Kind::F32 => Builder::F32(Float32Builder::with_capacity(n)),
            Kind::F64 => Builder::F64(Float64Builder::with_capacity(n)),
            Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(n)),
            Kind::Time(u) => Builder::Time(u, Int64Builder::with_capacity(n)),
        }
    }

    /// Appends a cell. The cell was converted for this column's kind, so the casts below are
    /// within range (checked in [`convert`]).
    fn push(&mut self, c: Cell) {
        let int = |c: &Cell| match c {
            Cell::I64(v) => Some(*v),
            Cell::U64(v) => Some(*v as i64),
            _ => None,
        };
        match self {
            Builder::Str(b) => match c {
                Cell::Str(s) => b.append_value(s),
                _ => b.append_null(),
            },
            Builder::I8(b) => b.append_option(int(&c).map(|v| v as i8)),
            Builder::I16(b) => b.append_option(int(&c).map(|v| v as i16)),
            Builder::I32(b) => b.append_option(int(&c).map(|v| v as i32)),
            Builder::I64(b) | Builder::Time(_, b) => b.append_option(int(&c)),
            Builder::U8(b) => b.append_option(int(&c).map(|v| v as u8)),
            Builder::U16(b) => b.append_option(int(&c).map(|v| v as u16)),
            Builder::U32(b) => b.append_option(int(&c).map(|v| v as u32)),
            Builder::U64(b) => b.append_option(match c {
                Cell::U64(v) => Some(v),
                Cell::I64(v) => Some(v as u64),
                _ => None,
            }),
            Builder::F32(b) => b.append_option(match c {
                Cell::F64(v) => Some(v as f32),
                _ => None,
            }),
            Builder::F64(b) => b.append_option(match c {
                Cell::F64(v) => Some(v),
                _ => None,
            }),
            Builder::Bool(b) => b.append_option(match c {
                Cell::Bool(v) => Some(v),
                _ => None,
            }),
        }
    }

    fn finish(self) -> ArrayRef {
        use arrow_array::{
            TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
        };
        match self {
            Builder::Str(mut b) => Arc::new(b.finish()),
            Builder::I8(mut b) => Arc::new(b.finish()),
            Builder::I16(mut b) => Arc::new(b.finish()),
            Builder::I32(mut b) => Arc::new(b.finish()),
            Builder::I64(mut b) => Arc::new(b.finish()),
            Builder::U8(mut b) => Arc::new(b.finish()),
            Builder::U16(mut b) => Arc::new(b.finish()),
            Builder::U32(mut b) => Arc::new(b.finish()),
            Builder::U64(mut b) => Arc::new(b.finish()),
            Builder::F32(mut b) => Arc::new(b.finish()),
            Builder::F64(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::Time(unit, mut b) => {
                let a = b.finish();
                let (_, values, nulls) = a.into_parts();
                match unit {
                    TimeUnit::Second => Arc::new(TimestampSecondArray::new(values, nulls).with_timezone("UTC")),
                    TimeUnit::Millisecond => {
                        Arc::new(TimestampMillisecondArray::new(values, nulls).with_timezone("UTC"))
                    }
                    TimeUnit::Microsecond => {
                        Arc::new(TimestampMicrosecondArray::new(values, nulls).with_timezone("UTC"))
                    }
                    TimeUnit::Nanosecond => Arc::new(TimestampNanosecondArray::new(values, nulls).with_timezone("UTC")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;

    fn cols() -> Vec<Column> {
        vec![
            Column::new("id", "String"),
            Column::new("n", "Nullable(Int32)"),
            Column::new("at", "DateTime64(3, 'UTC')"),
            Column::new("ok", "Bool"),
            Column::new("data", "JSON"),
            Column::new("raw", "String"),
            Column::new("_nats_seq", "UInt64"),
        ]
    }

    fn msg(p: &str, seq: u64) -> Message<'_> {
        Message { payload: p.as_bytes(), stream: "s", seq, subject: "x", published_ns: 0 }
    }

    #[test]
    fn json_fields_map_by_name_and_bad_messages_are_rejected_with_the_reason() {
        let d = Decoder::new(&cols(), Format::Json, Some("raw")).unwrap();
        let msgs = [
            msg(r#"{"id":"a","n":5,"at":"2026-11-23T10:00:00.123Z","ok":true,"data":{"k":1}}"#, 7),
            msg(r#"{"id":"b","at":1700000000}"#, 8),
            msg(r#"{"id":"c","n":"x"}"#, 9),
            msg("not json", 10),
            msg(r#"{"id":"d","at":1700000000123,"data":"{\"t\":2}"}"#, 11),
        ];
        let out = d.decode(&msgs);
        assert_eq!(out.rows, vec![0, 1, 4]);
        assert_eq!(out.rejected.len(), 2);
        assert_eq!(out.rejected[0], (2, "field n: \"x\" is not an integer".to_string()));
        assert!(out.rejected[1].1.starts_with("invalid JSON"), "{:?}", out.rejected[1]);
        let b = &out.batch;
        assert_eq!(b.num_rows(), 3);
        let n = b.column(1).as_primitive::<Int32Type>();
        assert_eq!((n.value(0), n.is_null(1)), (5, true));
        let at = b.column(2).as_primitive::<TimestampMillisecondType>();
        assert_eq!(at.values().to_vec(), vec![1_795_428_000_123, 1_700_000_000_000, 1_700_000_000_123]);
        let data = b.column(4).as_string::<i32>();
        assert_eq!((data.value(0), data.value(1), data.value(2)), (r#"{"k":1}"#, "{}", r#"{"t":2}"#));
        assert_eq!(b.column(5).as_string::<i32>().value(1), r#"{"id":"b","at":1700000000}"#);
        assert_eq!(b.column(6).as_primitive::<UInt64Type>().values().to_vec(), vec![7, 8, 11]);
    }

    #[test]
    fn unsupported_types_and_unknown_json_columns_are_named() {
        let e = Decoder::new(&[Column::new("tags", "Array(String)")], Format::Json, None).unwrap_err();
        assert_eq!(e.to_string(), "column tags: type Array(String) is not supported by the event decoders");
        let e = Decoder::new(&cols(), Format::Json, Some("nope")).unwrap_err();
        assert_eq!(e.to_string(), "json_column \"nope\" is not a column of the table");
    }

    #[test]
    fn arrival_time_fills_a_missing_time_and_lowercase_fields_match() {
        let cols = [
            Column::new("Timestamp", "DateTime64(9)"),
            Column::new("Name", "LowCardinality(String)"),
            Column::new("_nats_seq", "UInt64"),
            Column::new("Event", "String"),
        ];
        let opts = DecoderOptions {
            json_column: Some("Event"),
            arrival_time_column: Some("Timestamp"),
            lowercase_fields: true,
            nats_metadata: false,
        };
        let d = Decoder::with_options(&cols, Format::Json, &opts).unwrap();
        let at = |p: &'static str| Message {
            payload: p.as_bytes(),
            published_ns: 1_795_428_000_123_456_789,
            ..Default::default()
        };
        let out = d.decode(&[
            at(r#"{"name":"signup","timestamp":"2026-11-23T10:00:00Z","_nats_seq":4}"#),
            at(r#"{"Name":"login","name":"ignored","Timestamp":null}"#),
            at(r#"{"name":"x","timestamp":"yesterday"}"#),
        ]);
        assert_eq!(out.rows, vec![0, 1]);
        assert_eq!(out.rejected[0].1, "field Timestamp: \"yesterday\" is neither an RFC 3339 time nor an epoch number");
        let ts = out.batch.column(0).as_primitive::<TimestampNanosecondType>();
        assert_eq!(ts.values().to_vec(), vec![1_795_428_000_000_000_000, 1_795_428_000_123_456_789]);
        let names = out.batch.column(1).as_string::<i32>();
        assert_eq!((names.value(0), names.value(1)), ("signup", "login"));
        assert_eq!(out.batch.column(2).as_primitive::<UInt64Type>().values().to_vec(), vec![4, 0], "not NATS metadata");
        // Without the options, the same table keeps exact names and zero times.
        let plain = Decoder::new(&cols, Format::Json, None).unwrap();
        let out = plain.decode(&[at(r#"{"name":"signup"}"#)]);
        assert_eq!(out.batch.column(0).as_primitive::<TimestampNanosecondType>().value(0), 0);
        assert_eq!(out.batch.column(1).as_string::<i32>().value(0), "");
    }

    #[test]
    fn an_arrival_time_column_must_exist_and_be_a_time() {
        let cols = [Column::new("at", "String")];
        let o = |c| DecoderOptions { arrival_time_column: Some(c), ..Default::default() };
        let e = Decoder::with_options(&cols, Format::Json, &o("nope")).unwrap_err();
        assert_eq!(e.to_string(), "time_column \"nope\" is not a column of the table");
        let e = Decoder::with_options(&cols, Format::Json, &o("at")).unwrap_err();
        assert_eq!(e.to_string(), "time_column \"at\" has type String: it must be DateTime or DateTime64");
    }

    #[test]
    fn integers_out_of_range_are_rejected() {
        let d = Decoder::new(&[Column::new("v", "UInt8")], Format::Json, None).unwrap();
        let out = d.decode(&[msg(r#"{"v":256}"#, 1), msg(r#"{"v":-1}"#, 2), msg(r#"{"v":255}"#, 3)]);
        assert_eq!(out.rows, vec![2]);
        assert_eq!(out.rejected[0].1, "field v: 256 is out of range (at most 255)");
    }
}
