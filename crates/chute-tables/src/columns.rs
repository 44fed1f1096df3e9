//! Column builders shared by the table builders: string maps, timestamps, dictionary strings.

use arrow_array::ArrayRef;
use arrow_array::builder::{
    MapBuilder, MapFieldNames, StringBuilder, StringDictionaryBuilder, TimestampMicrosecondBuilder,
    TimestampMillisecondBuilder, TimestampNanosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_schema::{DataType, Field, TimeUnit};
use std::sync::Arc;

/// `Map(LowCardinality(String), String)` on the ClickHouse side.
pub struct StrMap(MapBuilder<StringBuilder, StringBuilder>);

impl StrMap {
    pub fn new() -> Self {
        StrMap(MapBuilder::new(Some(field_names()), StringBuilder::new(), StringBuilder::new()))
    }
    /// Adds an entry to the current row.
    #[inline]
    pub fn insert(&mut self, k: &str, v: &str) {
        self.0.keys().append_value(k);
        self.0.values().append_value(v);
    }
    /// Ends the current row.
    #[inline]
    pub fn end_row(&mut self) {
        // Appending a non-null map entry list cannot fail: keys and values grow together.
        let _ = self.0.append(true);
    }
    pub fn finish(&mut self) -> ArrayRef {
        Arc::new(self.0.finish())
    }
    pub fn data_type() -> DataType {
        DataType::Map(
            Arc::new(Field::new(
                "entries",
                DataType::Struct(
                    vec![Field::new("keys", DataType::Utf8, false), Field::new("values", DataType::Utf8, true)].into(),
                ),
                false,
            )),
            false,
        )
    }
}

impl Default for StrMap {
    fn default() -> Self {
        Self::new()
    }
}

fn field_names() -> MapFieldNames {
    MapFieldNames { entry: "entries".into(), key: "keys".into(), value: "values".into() }
}

/// A dictionary-encoded string column (small on the wire and in the spool; `LowCardinality`
/// on the ClickHouse side).
pub struct DictStr(StringDictionaryBuilder<Int32Type>);

impl DictStr {
    pub fn new() -> Self {
        DictStr(StringDictionaryBuilder::new())
    }
    #[inline]
    pub fn append(&mut self, v: &str) {
        // Int32 keys cannot overflow within one batch of at most a few million rows.
        let _ = self.0.append(v);
    }
    pub fn finish(&mut self) -> ArrayRef {
        Arc::new(self.0.finish())
    }
    pub fn data_type() -> DataType {
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
    }
}

impl Default for DictStr {
    fn default() -> Self {
        Self::new()
    }
}

pub fn ts_type(unit: TimeUnit) -> DataType {
    DataType::Timestamp(unit, Some("UTC".into()))
}

pub fn ts_micros() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
}

pub fn ts_millis() -> TimestampMillisecondBuilder {
    TimestampMillisecondBuilder::new().with_timezone("UTC")
}

pub fn ts_nanos() -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::new().with_timezone("UTC")
}
