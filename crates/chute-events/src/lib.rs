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
mod proto_json;
mod text_kinds;
mod time;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int8Builder, Int16Builder,
    Int32Builder, Int64Builder, StringBuilder, UInt8Builder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, ListArray, MapArray, RecordBatch, StructArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, FieldRef, Fields as ArrowFields, Schema, SchemaRef, TimeUnit};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde_json::{Map, Value};
use std::borrow::Cow;
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
    /// Text the engine parses, checked first (see text_kinds).
    Uuid,
    Ipv4,
    Ipv6,
    Decimal {
        precision: u8,
        scale: u8,
    },
    I128,
    U128,
    /// Date (`wide`: Date32): days since the epoch.
    Date {
        wide: bool,
    },
}

/// A column of single values, or an `Array(T)` / `Map(String, T)` of them (`nullable`: the
/// elements are `Nullable(T)`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Scalar,
    Array { nullable: bool },
    Map { nullable: bool },
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
    /// For `Array` and `Map` columns, the kind of the elements (values).
    kind: Kind,
    shape: Shape,
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
            let (shape, kind, nullable) = parse_column_type(&c.ch_type)
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
                Source::WholeMessage | Source::Stream | Source::Subject | Source::Seq | Source::Published
                    if shape != Shape::Scalar =>
                {
                    return Err(unsupported());
                }
                Source::WholeMessage | Source::Stream | Source::Subject if !matches!(kind, Kind::Str | Kind::Json) => {
                    return Err(unsupported());
                }
                Source::Seq if kind != Kind::U64 => return Err(unsupported()),
                Source::Published if !matches!(kind, Kind::Time(_)) => return Err(unsupported()),
                _ => {}
            }
            let arrival = options.arrival_time_column == Some(c.name.as_str());
            if arrival && (source != Source::Field || shape != Shape::Scalar || !matches!(kind, Kind::Time(_))) {
                return Err(EventsError::NotATimeColumn { column: c.name.clone(), ch_type: c.ch_type.clone() });
            }
            let lowercase = c.name.to_lowercase();
            let lowercase = (options.lowercase_fields && lowercase != c.name).then_some(lowercase);
            fields.push(Field::new(&c.name, column_type(shape, kind), nullable));
            specs.push(Spec { name: c.name.clone(), lowercase, kind, shape, nullable, source, arrival });
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
        let payload_bytes: usize = messages.iter().map(|m| m.payload.len()).sum();
        let mut cols: Vec<Builder> = self
            .specs
            .iter()
            .map(|s| match s.source {
                // The message's text, sized for all of it at once.
                Source::WholeMessage => Builder::Str(StringBuilder::with_capacity(messages.len(), payload_bytes)),
                _ => Builder::for_column(s.shape, s.kind, messages.len()),
            })
            .collect();
        let mut rows = Vec::with_capacity(messages.len());
        let mut rejected = Vec::new();
        let mut cells: Vec<Cell> = Vec::with_capacity(self.specs.len());
        for (i, m) in messages.iter().enumerate() {
            cells.clear();
            match self.row(m, &mut cells) {
                Ok(whole) => {
                    for (b, c) in cols.iter_mut().zip(cells.drain(..)) {
                        match (c, b, &whole) {
                            // Appended straight from the payload: no copy per column.
                            (Cell::Whole, Builder::Str(b), Some(text)) => b.append_value(text),
                            (c, b, _) => b.push(c),
                        }
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

    /// Converts one message into one cell per column, or says why it cannot. Returns the whole
    /// message as text when a column keeps it ([`Cell::Whole`] stands for it).
    fn row<'m>(&self, m: &Message<'m>, out: &mut Vec<Cell>) -> Result<Option<Cow<'m, str>>, String> {
        let (mut object, whole) = match &self.format {
            Format::Json => {
                // Only the fields columns take are built (no map of the whole object).
                let slots = self.keys.parse(m.payload)?;
                // The payload is already JSON text: kept as sent (borrowed when it is valid
                // UTF-8; `from_utf8` checks ASCII a word at a time, `from_utf8_lossy` did not).
                let whole = self.wants_whole().then(|| match std::str::from_utf8(m.payload) {
                    Ok(text) => Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(m.payload),
                });
                (Fields::Slots(slots), whole)
            }
            Format::Protobuf(desc) => {
                let msg = DynamicMessage::decode(desc.clone(), m.payload)
                    .map_err(|e| format!("invalid protobuf {}: {e}", desc.full_name()))?;
                let v = proto_json::message(&msg)
                    .map_err(|e| format!("protobuf {} has no JSON form: {e}", desc.full_name()))?;
                match v {
                    Value::Object(o) => {
                        let whole = self.wants_whole().then(|| Cow::Owned(Value::Object(o.clone()).to_string()));
                        (Fields::Map(o), whole)
                    }
                    other => return Err(format!("expected a message, got {}", kind_of(&other))),
                }
            }
        };
        for (i, s) in self.specs.iter().enumerate() {
            let cell = match s.source {
                Source::Field => {
                    // A JSON string into a String column is moved, not copied (what `scalar`
                    // would make of it is the same text).
                    if let (Fields::Slots(slots), Shape::Scalar, Kind::Str) = (&mut object, &s.shape, &s.kind)
                        && let Some(Value::String(x)) = slots[i].take_if(|v| matches!(v, Value::String(_)))
                    {
                        out.push(Cell::Str(x));
                        continue;
                    }
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
                Source::WholeMessage => Cell::Whole,
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
        Ok(whole)
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
        "UUID" => Kind::Uuid,
        "IPv4" => Kind::Ipv4,
        "IPv6" => Kind::Ipv6,
        "Int128" => Kind::I128,
        "UInt128" => Kind::U128,
        "Date" => Kind::Date { wide: false },
        "Date32" => Kind::Date { wide: true },
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
            } else if let Some((precision, scale)) = decimal_type(t) {
                Kind::Decimal { precision, scale }
            } else {
                return None;
            }
        }
    };
    Some((kind, false))
}

/// A column's type: `Array(T)` and `Map(String, T)` of the types [`parse_type`] knows (not JSON),
/// or one of those types.
fn parse_column_type(t: &str) -> Option<(Shape, Kind, bool)> {
    let t = t.trim();
    if let Some(inner) = strip_call(t, "Array") {
        let (kind, nullable) = parse_type(inner).filter(|(k, _)| *k != Kind::Json)?;
        return Some((Shape::Array { nullable }, kind, false));
    }
    if let Some(args) = strip_call(t, "Map") {
        let (key, value) = split_arguments(args)?;
        if parse_type(key)? != (Kind::Str, false) {
            return None;
        }
        let (kind, nullable) = parse_type(value).filter(|(k, _)| *k != Kind::Json)?;
        return Some((Shape::Map { nullable }, kind, false));
    }
    parse_type(t).map(|(kind, nullable)| (Shape::Scalar, kind, nullable))
}

/// `a, b` split at the comma outside any parentheses.
fn split_arguments(args: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in args.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return Some((args[..i].trim(), args[i + 1..].trim())),
            _ => {}
        }
    }
    None
}

/// `Decimal(P, S)` and `Decimal32/64/128/256(S)`: (precision, scale).
fn decimal_type(t: &str) -> Option<(u8, u8)> {
    let (precision, scale) = if let Some(args) = strip_call(t, "Decimal") {
        let (p, s) = args.split_once(',').unwrap_or((args, "0"));
        (p.trim().parse().ok()?, s.trim().parse().ok()?)
    } else {
        let (p, s) = [("Decimal32", 9), ("Decimal64", 18), ("Decimal128", 38), ("Decimal256", 76)]
            .iter()
            .find_map(|(name, p)| strip_call(t, name).map(|s| (*p, s)))?;
        (p, s.trim().parse().ok()?)
    };
    (1..=76).contains(&precision).then_some(())?;
    (scale <= precision).then_some((precision, scale))
}

fn strip_call<'a>(t: &'a str, name: &str) -> Option<&'a str> {
    t.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')
}

/// The Arrow type of a column. Elements of arrays and values of maps are nullable fields
/// whatever the column says (the engine takes both; a non-nullable element never holds a null).
fn column_type(shape: Shape, kind: Kind) -> DataType {
    match shape {
        Shape::Scalar => arrow_type(kind),
        Shape::Array { .. } => DataType::List(list_item(kind)),
        Shape::Map { .. } => DataType::Map(map_entries(kind), false),
    }
}

fn list_item(kind: Kind) -> FieldRef {
    Arc::new(Field::new("item", arrow_type(kind), true))
}

fn map_entries(kind: Kind) -> FieldRef {
    let fields =
        ArrowFields::from(vec![Field::new("key", DataType::Utf8, false), Field::new("value", arrow_type(kind), true)]);
    Arc::new(Field::new("entries", DataType::Struct(fields), false))
}

fn arrow_type(k: Kind) -> DataType {
    match k {
        Kind::Str
        | Kind::Json
        | Kind::Uuid
        | Kind::Ipv4
        | Kind::Ipv6
        | Kind::Decimal { .. }
        | Kind::I128
        | Kind::U128 => DataType::Utf8,
        Kind::Date { .. } => DataType::Date32,
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
    /// The whole message, as the row's text (see [`Decoder::decode`]).
    Whole,
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    List(Vec<Cell>),
    Map(Vec<(String, Cell)>),
}

fn convert(s: &Spec, v: Option<&Value>) -> Result<Cell, String> {
    let field = |e: String| format!("field {}: {e}", s.name);
    match s.shape {
        Shape::Scalar => scalar(s.kind, s.nullable, v).map_err(field),
        Shape::Array { nullable } => match v {
            None | Some(Value::Null) => Ok(Cell::List(Vec::new())),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, x)| scalar(s.kind, nullable, Some(x)).map_err(|e| format!("field {}[{i}]: {e}", s.name)))
                .collect::<Result<_, _>>()
                .map(Cell::List),
            Some(other) => Err(field(format!("an Array column needs an array, got {}", kind_of(other)))),
        },
        Shape::Map { nullable } => match v {
            None | Some(Value::Null) => Ok(Cell::Map(Vec::new())),
            Some(Value::Object(o)) => o
                .iter()
                .map(|(k, x)| {
                    let value = scalar(s.kind, nullable, Some(x)).map_err(|e| format!("field {}.{k}: {e}", s.name))?;
                    Ok((k.clone(), value))
                })
                .collect::<Result<_, String>>()
                .map(Cell::Map),
            Some(other) => Err(field(format!("a Map column needs an object, got {}", kind_of(other)))),
        },
    }
}

/// One value for a column (or element) of `kind`; the error says why, without the field's name.
fn scalar(kind: Kind, nullable: bool, v: Option<&Value>) -> Result<Cell, String> {
    let v = match v {
        None | Some(Value::Null) => {
            return Ok(if nullable {
                Cell::Null
            } else {
                match kind {
                    Kind::Str => Cell::Str(String::new()),
                    Kind::Json => Cell::Str("{}".into()),
                    Kind::Uuid => Cell::Str("00000000-0000-0000-0000-000000000000".into()),
                    Kind::Ipv4 => Cell::Str("0.0.0.0".into()),
                    Kind::Ipv6 => Cell::Str("::".into()),
                    Kind::Decimal { .. } | Kind::I128 | Kind::U128 => Cell::Str("0".into()),
                    Kind::F32 | Kind::F64 => Cell::F64(0.0),
                    Kind::Bool => Cell::Bool(false),
                    Kind::U64 => Cell::U64(0),
                    _ => Cell::I64(0),
                }
            });
        }
        Some(v) => v,
    };
    let bad = |why: &str| why.to_string();
    let text = |v: &Value| match v {
        Value::String(x) => Ok(x.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("expected a string, got {}", kind_of(other))),
    };
    Ok(match kind {
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
            let max = match kind {
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
            let (lo, hi) = match kind {
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
        Kind::Uuid => Cell::Str(text_kinds::uuid(&text(v)?)?),
        Kind::Ipv4 => Cell::Str(match v {
            Value::Number(n) => {
                text_kinds::ipv4_number(n.as_u64().ok_or_else(|| format!("{n} is not an IPv4 address"))?)?
            }
            other => text_kinds::ipv4_text(&text(other)?)?,
        }),
        Kind::Ipv6 => Cell::Str(text_kinds::ipv6(&text(v)?)?),
        Kind::Decimal { precision, scale } => Cell::Str(text_kinds::decimal(&text(v)?, precision, scale)?),
        Kind::I128 | Kind::U128 => Cell::Str(match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => text_kinds::int128(&n.to_string(), kind == Kind::I128)?,
            Value::Number(n) => {
                return Err(format!("{n} is not an exact integer (send integers beyond 64 bits as strings)"));
            }
            other => text_kinds::int128(&text(other)?, kind == Kind::I128)?,
        }),
        Kind::Date { wide } => Cell::I64(match v {
            Value::String(x) => text_kinds::date_days(x, wide)?,
            other => return Err(format!("expected a date (YYYY-MM-DD), got {}", kind_of(other))),
        }),
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
    Date(Date32Builder),
    /// `Array(T)`: the elements of all rows, and where each row's end.
    List {
        item: FieldRef,
        elements: Box<Builder>,
        offsets: Vec<i32>,
    },
    /// `Map(String, T)`: keys and values of all rows, and where each row's end.
    Map {
        entries: FieldRef,
        keys: StringBuilder,
        values: Box<Builder>,
        offsets: Vec<i32>,
    },
}

impl Builder {
    fn for_column(shape: Shape, k: Kind, n: usize) -> Builder {
        let offsets = || {
            let mut o = Vec::with_capacity(n + 1);
            o.push(0);
            o
        };
        match shape {
            Shape::Scalar => Builder::new(k, n),
            Shape::Array { .. } => {
                Builder::List { item: list_item(k), elements: Box::new(Builder::new(k, n)), offsets: offsets() }
            }
            Shape::Map { .. } => Builder::Map {
                entries: map_entries(k),
                keys: StringBuilder::with_capacity(n, n * 8),
                values: Box::new(Builder::new(k, n)),
                offsets: offsets(),
            },
        }
    }

    fn new(k: Kind, n: usize) -> Builder {
        match k {
            Kind::Str
            | Kind::Json
            | Kind::Uuid
            | Kind::Ipv4
            | Kind::Ipv6
            | Kind::Decimal { .. }
            | Kind::I128
            | Kind::U128 => Builder::Str(StringBuilder::with_capacity(n, n * 16)),
            Kind::Date { .. } => Builder::Date(Date32Builder::with_capacity(n)),
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
            // Days within Date32's range (checked in text_kinds::date_days).
            Builder::Date(b) => b.append_option(int(&c).map(|v| v as i32)),
            Builder::List { elements, offsets, .. } => {
                if let Cell::List(cells) = c {
                    for cell in cells {
                        elements.push(cell);
                    }
                }
                offsets.push(elements.len() as i32);
            }
            Builder::Map { keys, values, offsets, .. } => {
                if let Cell::Map(pairs) = c {
                    for (k, v) in pairs {
                        keys.append_value(k);
                        values.push(v);
                    }
                }
                offsets.push(keys.len() as i32);
            }
        }
    }

    /// Values appended so far.
    fn len(&self) -> usize {
        match self {
            Builder::Str(b) => b.len(),
            Builder::I8(b) => b.len(),
            Builder::I16(b) => b.len(),
            Builder::I32(b) => b.len(),
            Builder::I64(b) | Builder::Time(_, b) => b.len(),
            Builder::U8(b) => b.len(),
            Builder::U16(b) => b.len(),
            Builder::U32(b) => b.len(),
            Builder::U64(b) => b.len(),
            Builder::F32(b) => b.len(),
            Builder::F64(b) => b.len(),
            Builder::Bool(b) => b.len(),
            Builder::Date(b) => b.len(),
            Builder::List { offsets, .. } | Builder::Map { offsets, .. } => offsets.len() - 1,
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
            Builder::Date(mut b) => Arc::new(b.finish()),
            Builder::List { item, elements, offsets } => {
                Arc::new(ListArray::new(item, OffsetBuffer::new(offsets.into()), elements.finish(), None))
            }
            Builder::Map { entries, mut keys, values, offsets } => {
                let DataType::Struct(fields) = entries.data_type() else { unreachable!("map entries are a struct") };
                let keys: ArrayRef = Arc::new(keys.finish());
                let pairs = StructArray::new(fields.clone(), vec![keys, values.finish()], None);
                Arc::new(MapArray::new(entries, OffsetBuffer::new(offsets.into()), pairs, None, false))
            }
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
    fn the_whole_message_is_kept_as_sent_and_bytes_that_are_not_utf8_become_replacement_characters() {
        let d = Decoder::new(&cols(), Format::Json, Some("raw")).unwrap();
        // A field no column takes is skipped without being read as text: its bad byte reaches
        // only the whole-message column.
        let bad: &[u8] = b"{\"id\":\"e\",\"note\":\"caf\xe9\"}";
        let good = r#"{"id":"f", "note":"café ☕"}"#;
        let msgs = [
            Message { payload: bad, stream: "s", seq: 1, subject: "x", published_ns: 0 },
            msg(good, 2),
            msg(r#"{"id":"g"}"#, 3),
        ];
        let out = d.decode(&msgs);
        assert_eq!(out.rows, vec![0, 1, 2], "{:?}", out.rejected);
        let raw = out.batch.column(5).as_string::<i32>();
        assert_eq!(raw.value(0), "{\"id\":\"e\",\"note\":\"caf\u{fffd}\"}");
        assert_eq!(raw.value(1), good);
        assert_eq!(raw.value(2), r#"{"id":"g"}"#);
        assert_eq!(out.batch.column(0).as_string::<i32>().value(1), "f");
    }

    #[test]
    fn unsupported_types_and_unknown_json_columns_are_named() {
        let e = Decoder::new(&[Column::new("pair", "Tuple(String, Int64)")], Format::Json, None).unwrap_err();
        assert_eq!(e.to_string(), "column pair: type Tuple(String, Int64) is not supported by the event decoders");
        for t in [
            "Array(Array(String))",
            "Map(Int32, String)",
            "Array(JSON)",
            "Map(String, Array(String))",
            "Decimal(80, 2)",
        ] {
            let e = Decoder::new(&[Column::new("c", t)], Format::Json, None).unwrap_err();
            assert_eq!(e, EventsError::UnsupportedType { column: "c".into(), ch_type: t.into() });
        }
        let e = Decoder::new(&[Column::new("_nats_subject", "Array(String)")], Format::Json, None).unwrap_err();
        assert!(matches!(e, EventsError::UnsupportedType { .. }), "metadata columns are single values");
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
    fn arrays_maps_uuids_addresses_decimals_and_dates_are_checked_and_built() {
        let cols = [
            Column::new("id", "UUID"),
            Column::new("ip", "IPv4"),
            Column::new("ip6", "Nullable(IPv6)"),
            Column::new("price", "Decimal(18, 4)"),
            Column::new("day", "Date"),
            Column::new("tags", "Array(LowCardinality(String))"),
            Column::new("scores", "Array(Nullable(Int32))"),
            Column::new("labels", "Map(LowCardinality(String), String)"),
            Column::new("gauges", "Map(String, Float64)"),
            Column::new("big", "Int128"),
        ];
        let d = Decoder::new(&cols, Format::Json, None).unwrap();
        let out = d.decode(&[
            msg(
                r#"{"id":"6F9619FF-8B86-D011-B42D-00CF4FC964FF","ip":"10.1.2.3","ip6":"10.1.2.3","price":12.5,"day":"2026-11-23","tags":["a","b"],"scores":[1,null,3],"labels":{"env":"prod","n":7},"gauges":{"cpu":0.5},"big":"-170141183460469231731687303715884105728"}"#,
                1,
            ),
            msg(r#"{"ip":167838211}"#, 2),
            msg(r#"{"id":"nope"}"#, 3),
            msg(r#"{"tags":"a,b"}"#, 4),
            msg(r#"{"scores":[1,"x"]}"#, 5),
            msg(r#"{"gauges":{"cpu":"hot"}}"#, 6),
            msg(r#"{"price":"1.23456"}"#, 7),
            msg(r#"{"day":"2026-02-30"}"#, 8),
            msg(r#"{"ip":"300.1.1.1"}"#, 9),
        ]);
        assert_eq!(out.rows, vec![0, 1]);
        let why: Vec<&str> = out.rejected.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(
            why,
            [
                "field id: \"nope\" is not a UUID",
                "field tags: an Array column needs an array, got a string",
                "field scores[1]: \"x\" is not an integer",
                "field gauges.cpu: \"hot\" is not a number",
                "field price: 1.23456 has more than 4 decimal places (Decimal(18, 4))",
                "field day: \"2026-02-30\" is not a date (YYYY-MM-DD)",
                "field ip: \"300.1.1.1\" is not an IPv4 address",
            ]
        );
        let b = &out.batch;
        let s = |c: usize, r: usize| b.column(c).as_string::<i32>().value(r).to_string();
        assert_eq!(s(0, 0), "6f9619ff-8b86-d011-b42d-00cf4fc964ff");
        assert_eq!(s(0, 1), "00000000-0000-0000-0000-000000000000", "a missing UUID is the zero UUID");
        assert_eq!((s(1, 0), s(1, 1)), ("10.1.2.3".into(), "10.1.2.3".into()));
        assert_eq!((s(2, 0), b.column(2).is_null(1)), ("::ffff:10.1.2.3".into(), true));
        assert_eq!((s(3, 0), s(3, 1)), ("12.5".into(), "0".into()));
        let day = b.column(4).as_primitive::<Date32Type>();
        assert_eq!((day.value(0), day.value(1)), (20_780, 0));
        let tags = b.column(5).as_list::<i32>();
        assert_eq!(tags.value(0).as_string::<i32>().iter().flatten().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(tags.value(1).len(), 0, "a missing array is empty");
        let scores = tags_of(b.column(6).as_list::<i32>(), 0);
        assert_eq!(scores, [Some(1), None, Some(3)]);
        let labels = b.column(7).as_map();
        let row0 = labels.value(0);
        let keys: Vec<&str> = row0.column(0).as_string::<i32>().iter().flatten().collect();
        let values: Vec<&str> = row0.column(1).as_string::<i32>().iter().flatten().collect();
        assert_eq!((keys, values), (vec!["env", "n"], vec!["prod", "7"]));
        assert_eq!(labels.value(1).len(), 0, "a missing map is empty");
        assert_eq!(b.column(8).as_map().value(0).column(1).as_primitive::<Float64Type>().value(0), 0.5);
        assert_eq!(s(9, 0), i128::MIN.to_string());
    }

    fn tags_of(list: &arrow_array::ListArray, row: usize) -> Vec<Option<i32>> {
        list.value(row).as_primitive::<Int32Type>().iter().collect()
    }

    #[test]
    fn integers_out_of_range_are_rejected() {
        let d = Decoder::new(&[Column::new("v", "UInt8")], Format::Json, None).unwrap();
        let out = d.decode(&[msg(r#"{"v":256}"#, 1), msg(r#"{"v":-1}"#, 2), msg(r#"{"v":255}"#, 3)]);
        assert_eq!(out.rows, vec![2]);
        assert_eq!(out.rejected[0].1, "field v: 256 is out of range (at most 255)");
    }
}
