//! The parsed form of one line: [`Point`] and its [`FieldValue`]s.

use std::borrow::Cow;

/// One parsed line of line protocol.
///
/// Strings borrow from the request body unless they contained escapes. Duplicate tag keys
/// and duplicate field keys are all kept, in the order written; deciding what a duplicate
/// means (InfluxDB keeps the last field, for example) is up to the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct Point<'a> {
    /// The measurement name, unescaped.
    pub measurement: Cow<'a, str>,
    /// Tag keys and values, unescaped, in the order written (not sorted, duplicates kept).
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Field keys and values, in the order written (duplicates kept); never empty.
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    /// The timestamp converted to nanoseconds since the epoch; None when the line has none.
    pub timestamp_ns: Option<i64>,
}

/// A field value.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue<'a> {
    /// A number without suffix (`1`, `-1.5e3`).
    Float(f64),
    /// A number with the `i` suffix (`123i`).
    Integer(i64),
    /// A number with the `u` suffix (`123u`).
    UInteger(u64),
    /// A double-quoted string, unescaped.
    String(Cow<'a, str>),
    /// `t`, `T`, `true`, `True`, `TRUE`, `f`, `F`, `false`, `False` or `FALSE`.
    Boolean(bool),
}

impl<'a> Point<'a> {
    /// The value of the first tag named `key`.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_ref())
    }

    /// The value of the first field named `key`.
    pub fn field(&self, key: &str) -> Option<&FieldValue<'a>> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Copies every borrowed string so the point outlives the body it was parsed from.
    pub fn into_owned(self) -> Point<'static> {
        Point {
            measurement: Cow::Owned(self.measurement.into_owned()),
            tags: self
                .tags
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
            fields: self.fields.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())).collect(),
            timestamp_ns: self.timestamp_ns,
        }
    }
}

impl FieldValue<'_> {
    /// Copies a borrowed string value so it outlives the body it was parsed from.
    pub fn into_owned(self) -> FieldValue<'static> {
        match self {
            FieldValue::Float(v) => FieldValue::Float(v),
            FieldValue::Integer(v) => FieldValue::Integer(v),
            FieldValue::UInteger(v) => FieldValue::UInteger(v),
            FieldValue::String(s) => FieldValue::String(Cow::Owned(s.into_owned())),
            FieldValue::Boolean(b) => FieldValue::Boolean(b),
        }
    }

    /// The line protocol name of the value's type ("float", "integer", "unsigned", "string", "boolean").
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::Float(_) => "float",
            FieldValue::Integer(_) => "integer",
            FieldValue::UInteger(_) => "unsigned",
            FieldValue::String(_) => "string",
            FieldValue::Boolean(_) => "boolean",
        }
    }
}
