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

/// `a == b`, without calling `memcmp` for two empty strings: an empty `String`'s pointer is
/// dangling, and glibc's AVX-512 `memcmp` reads it with a fully masked load, which the CPU
/// completes with a microcode assist costing some hundred cycles (a fifth of OTLP logs decoding,
/// whose schema URL and scope version columns are mostly empty).
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && (a.is_empty() || a == b)
}

/// A dictionary-encoded string column (small on the wire and in the spool; `LowCardinality`
/// on the ClickHouse side). Runs of one value (a batch's run id or source, a metric's
/// consecutive samples) are appended with one dictionary lookup per run, not per row.
pub struct DictStr {
    builder: StringDictionaryBuilder<Int32Type>,
    /// The value of the run not yet appended, and its length in rows.
    last: String,
    pending: usize,
}

impl DictStr {
    pub fn new() -> Self {
        DictStr { builder: StringDictionaryBuilder::new(), last: String::new(), pending: 0 }
    }
    #[inline]
    pub fn append(&mut self, v: &str) {
        if self.pending > 0 && same_text(&self.last, v) {
            self.pending += 1;
            return;
        }
        self.flush();
        self.last.push_str(v);
        self.pending = 1;
    }
    fn flush(&mut self) {
        if self.pending > 0 {
            // Int32 keys cannot overflow within one batch of at most a few million rows.
            let _ = self.builder.append_n(&self.last, self.pending);
        }
        self.last.clear();
        self.pending = 0;
    }
    pub fn finish(&mut self) -> ArrayRef {
        self.flush();
        Arc::new(self.builder.finish())
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    #[test]
    fn dictionary_strings_keep_every_row_in_order_through_runs_and_repeats() {
        let input = ["a", "a", "a", "b", "a", "", "", "c", "b", "b"];
        let mut d = DictStr::new();
        for v in input {
            d.append(v);
        }
        let a = d.finish();
        let dict = a.as_dictionary::<Int32Type>();
        let values = dict.values().as_string::<i32>();
        let got: Vec<&str> = dict.keys().iter().map(|k| values.value(k.unwrap() as usize)).collect();
        assert_eq!(got, input);
        assert_eq!(values.len(), 4, "each distinct value once in the dictionary");
        // The builder starts over empty.
        d.append("z");
        assert_eq!(d.finish().len(), 1);
        assert_eq!(d.finish().len(), 0);
    }

    #[test]
    fn same_text_is_string_equality_including_never_allocated_empty_strings() {
        let never_allocated = String::new();
        let emptied = {
            let mut s = String::from("abc");
            s.clear();
            s
        };
        let values = [never_allocated.as_str(), emptied.as_str(), "", "a", "ab", "ba", "abc"];
        for a in values {
            for b in values {
                assert_eq!(same_text(a, b), a == b, "{a:?} against {b:?}");
            }
        }
    }
}
