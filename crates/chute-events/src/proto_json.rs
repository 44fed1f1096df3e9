//! A decoded protobuf message as its canonical proto3 JSON value (proto field names, fields at
//! their default values included, 64-bit integers as strings, bytes as base64), built straight
//! from prost-reflect's dynamic message. prost-reflect's own serializer re-encodes every
//! well-known type (`Timestamp`, `Struct`, `Value`, wrappers) into prost's types before writing
//! it; here their fields are read in place, which makes an envelope about twice as cheap. `Any`
//! and `FieldMask` still go through prost-reflect. Same output as prost-reflect's serializer
//! with `use_proto_field_name` and no skipping of default fields (tested below).

use base64::Engine as _;
use prost_reflect::{DynamicMessage, Kind, MapKey, ReflectMessage, SerializeOptions, Value as Field};
use serde_json::{Map, Value};

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range proto3 JSON allows.
const MIN_TIMESTAMP_SECONDS: i64 = -62_135_596_800;
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;
const MAX_DURATION_SECONDS: u64 = 315_576_000_000;

/// The JSON value of `msg`, or why it has none (a time out of range, a non-finite number in a
/// `google.protobuf.Value`).
pub(crate) fn message(msg: &DynamicMessage) -> Result<Value, String> {
    let desc = msg.descriptor();
    match desc.full_name() {
        "google.protobuf.Timestamp" => {
            let (seconds, nanos) = (int64(msg, 1), int32(msg, 2));
            if !(MIN_TIMESTAMP_SECONDS..=MAX_TIMESTAMP_SECONDS).contains(&seconds) {
                return Err("timestamp out of range".into());
            }
            Ok(Value::String(prost_types::Timestamp { seconds, nanos }.to_string()))
        }
        "google.protobuf.Duration" => {
            let (seconds, nanos) = (int64(msg, 1), int32(msg, 2));
            if seconds.unsigned_abs() > MAX_DURATION_SECONDS || nanos.unsigned_abs() > 999_999_999 {
                return Err("duration out of range".into());
            }
            Ok(Value::String(prost_types::Duration { seconds, nanos }.to_string()))
        }
        "google.protobuf.Struct" => struct_fields(msg),
        "google.protobuf.ListValue" => list_values(msg),
        "google.protobuf.Value" => struct_value(msg),
        "google.protobuf.Empty" => Ok(Value::Object(Map::new())),
        "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.BoolValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => match desc.get_field(1) {
            Some(fd) => value(&msg.get_field(&fd), &fd.kind()),
            None => Err(format!("{} has no value field", desc.full_name())),
        },
        "google.protobuf.Any" | "google.protobuf.FieldMask" => {
            let opts = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);
            msg.serialize_with_options(serde_json::value::Serializer, &opts).map_err(|e| e.to_string())
        }
        _ => {
            let mut out = Map::new();
            for fd in desc.fields() {
                if fd.supports_presence() && !msg.has_field(&fd) {
                    continue;
                }
                out.insert(fd.name().to_string(), value(&msg.get_field(&fd), &fd.kind())?);
            }
            Ok(Value::Object(out))
        }
    }
}

fn int64(msg: &DynamicMessage, number: u32) -> i64 {
    msg.get_field_by_number(number).and_then(|v| v.as_i64()).unwrap_or(0)
}

fn int32(msg: &DynamicMessage, number: u32) -> i32 {
    msg.get_field_by_number(number).and_then(|v| v.as_i32()).unwrap_or(0)
}

/// `google.protobuf.Struct`: its `fields` map as an object.
fn struct_fields(msg: &DynamicMessage) -> Result<Value, String> {
    let mut out = Map::new();
    if let Some(field) = msg.get_field_by_number(1)
        && let Some(map) = field.as_map()
    {
        let mut entries: Vec<(&MapKey, &Field)> = map.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in entries {
            let key = match k {
                MapKey::String(s) => s.clone(),
                other => map_key(other),
            };
            let v = match v.as_message() {
                Some(m) => struct_value(m)?,
                None => Value::Null,
            };
            out.insert(key, v);
        }
    }
    Ok(Value::Object(out))
}

/// `google.protobuf.ListValue`: its `values` as an array.
fn list_values(msg: &DynamicMessage) -> Result<Value, String> {
    let mut out = Vec::new();
    if let Some(field) = msg.get_field_by_number(1)
        && let Some(items) = field.as_list()
    {
        out.reserve(items.len());
        for item in items {
            out.push(match item.as_message() {
                Some(m) => struct_value(m)?,
                None => Value::Null,
            });
        }
    }
    Ok(Value::Array(out))
}

/// `google.protobuf.Value`: whichever of its kinds is set (none: null).
fn struct_value(msg: &DynamicMessage) -> Result<Value, String> {
    for number in 1..=6u32 {
        if !msg.has_field_by_number(number) {
            continue;
        }
        let Some(field) = msg.get_field_by_number(number) else { continue };
        return match (number, field.as_ref()) {
            (2, Field::F64(f)) if !f.is_finite() => Err(format!("google.protobuf.Value cannot hold {f}")),
            (2, Field::F64(f)) => Ok(Value::from(*f)),
            (3, Field::String(s)) => Ok(Value::String(s.clone())),
            (4, Field::Bool(b)) => Ok(Value::Bool(*b)),
            (5, Field::Message(m)) => struct_fields(m),
            (6, Field::Message(m)) => list_values(m),
            _ => Ok(Value::Null),
        };
    }
    Ok(Value::Null)
}

fn map_key(k: &MapKey) -> String {
    match k {
        MapKey::Bool(b) => b.to_string(),
        MapKey::I32(v) => v.to_string(),
        MapKey::I64(v) => v.to_string(),
        MapKey::U32(v) => v.to_string(),
        MapKey::U64(v) => v.to_string(),
        MapKey::String(s) => s.clone(),
    }
}

fn float(f: f64) -> Value {
    if f.is_finite() {
        Value::from(f)
    } else if f.is_nan() {
        Value::String("NaN".into())
    } else if f > 0.0 {
        Value::String("Infinity".into())
    } else {
        Value::String("-Infinity".into())
    }
}

/// One field's value (`kind` says what a list's elements, a map's values or an enum are).
fn value(v: &Field, kind: &Kind) -> Result<Value, String> {
    Ok(match v {
        Field::Bool(b) => Value::Bool(*b),
        Field::I32(n) => Value::from(*n),
        Field::I64(n) => Value::String(n.to_string()),
        Field::U32(n) => Value::from(*n),
        Field::U64(n) => Value::String(n.to_string()),
        Field::F32(f) if f.is_finite() => Value::from(*f),
        Field::F32(f) => float(f64::from(*f)),
        Field::F64(f) => float(*f),
        Field::String(s) => Value::String(s.clone()),
        Field::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Field::EnumNumber(n) => match kind {
            Kind::Enum(e) if e.full_name() == "google.protobuf.NullValue" => Value::Null,
            Kind::Enum(e) => match e.get_value(*n) {
                Some(ev) => Value::String(ev.name().to_string()),
                None => Value::from(*n),
            },
            _ => Value::from(*n),
        },
        Field::Message(m) => message(m)?,
        Field::List(items) => Value::Array(items.iter().map(|i| value(i, kind)).collect::<Result<_, _>>()?),
        Field::Map(map) => {
            let value_kind = match kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut entries: Vec<(&MapKey, &Field)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(map_key(k), value(v, &value_kind)?);
            }
            Value::Object(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use prost_reflect::DescriptorPool;

    /// prost-reflect's own serializer, the reference.
    fn reference(msg: &DynamicMessage) -> Value {
        let opts = SerializeOptions::new().use_proto_field_name(true).skip_default_fields(false);
        msg.serialize_with_options(serde_json::value::Serializer, &opts).unwrap()
    }

    fn from_json(pool: &DescriptorPool, name: &str, json: &str) -> DynamicMessage {
        let desc = pool.get_message_by_name(name).unwrap();
        let mut de = serde_json::Deserializer::from_str(json);
        let m = DynamicMessage::deserialize(desc.clone(), &mut de).unwrap();
        // Through the wire, as messages arrive.
        DynamicMessage::decode(desc, m.encode_to_vec().as_slice()).unwrap()
    }

    #[test]
    fn envelopes_and_well_known_types_match_prost_reflects_json() {
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/nats-envelope/envelope.pb")).unwrap();
        let pool = DescriptorPool::decode(bytes.as_slice()).unwrap();
        for json in [
            r#"{"organization_id":"org-1","end_device_id":"d","occurred_at":"2026-11-23T10:00:00.123456789Z",
                "processed_at":"2026-11-23T10:00:01Z","data":{"t":21.5,"ok":true,"none":null,"tags":["a",1,{"x":[]}],"n":{"i":7,"s":"x"}}}"#,
            r#"{"occurred_at":"1970-01-01T00:00:00.001Z"}"#,
            r#"{"organization_id":"only"}"#,
            r#"{"data":{}}"#,
        ] {
            let m = from_json(&pool, "envelope.v1.Envelope", json);
            assert_eq!(message(&m).unwrap(), reference(&m), "{json}");
        }
        let global = DescriptorPool::global();
        for (name, json) in [
            ("google.protobuf.Duration", r#""-1.500s""#),
            ("google.protobuf.Timestamp", r#""2026-11-23T10:00:00.120Z""#),
            ("google.protobuf.Value", r#"[1.5,"x",null,true,{"k":[{}]}]"#),
            ("google.protobuf.Int64Value", r#""-9007199254740993""#),
            ("google.protobuf.BytesValue", r#""aGVsbG8=""#),
            ("google.protobuf.Empty", r#"{}"#),
            ("google.protobuf.FieldMask", r#""a.b,c""#),
        ] {
            let m = from_json(&global, name, json);
            assert_eq!(message(&m).unwrap(), reference(&m), "{name} {json}");
        }
    }

    #[test]
    fn plain_messages_with_every_field_kind_match_prost_reflects_json() {
        // descriptor.proto's own messages: proto2 optional fields (presence), enums, repeated
        // and nested messages, strings, integers and booleans; the envelope's descriptor set
        // as the data.
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/nats-envelope/envelope.pb")).unwrap();
        let desc = DescriptorPool::global().get_message_by_name("google.protobuf.FileDescriptorSet").unwrap();
        let m = DynamicMessage::decode(desc, bytes.as_slice()).unwrap();
        assert_eq!(message(&m).unwrap(), reference(&m));
        // proto3 scalars at their defaults and set: google.protobuf.Type / Field (enums,
        // repeated messages, int32, bool, string).
        let m = from_json(
            &DescriptorPool::global(),
            "google.protobuf.Type",
            r#"{"name":"T","fields":[{"kind":"TYPE_INT64","cardinality":"CARDINALITY_REPEATED","number":3,"name":"n","packed":true},{}],
               "oneofs":["a"],"syntax":"SYNTAX_PROTO3","edition":"2023"}"#,
        );
        assert_eq!(message(&m).unwrap(), reference(&m));
    }

    #[test]
    fn times_out_of_range_are_refused() {
        let desc = DescriptorPool::global().get_message_by_name("google.protobuf.Timestamp").unwrap();
        let ts = prost_types::Timestamp { seconds: MAX_TIMESTAMP_SECONDS + 1, nanos: 0 };
        let m = DynamicMessage::decode(desc, ts.encode_to_vec().as_slice()).unwrap();
        assert_eq!(message(&m).unwrap_err(), "timestamp out of range");
    }
}
