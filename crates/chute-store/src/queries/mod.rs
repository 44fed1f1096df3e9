//! The SQL behind chute's answers, one module per subject, each returning plain typed rows.

pub mod explorer;
pub mod k6;
pub mod k6_outputs;
pub mod tables;

use crate::{ErrorKind, StoreError};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};

/// Typed access to a result column by name, tolerant of the integer widths and string
/// encodings the engine picks.
pub(crate) struct Col<'a>(&'a ArrayRef);

pub(crate) fn col<'a>(b: &'a RecordBatch, name: &str) -> Result<Col<'a>, StoreError> {
    b.column_by_name(name)
        .map(Col)
        .ok_or_else(|| StoreError::new(ErrorKind::Schema, format!("query result has no column {name}")))
}

impl Col<'_> {
    pub fn str(&self, i: usize) -> String {
        match crate::rows::value_at(self.0, i) {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    pub fn f64(&self, i: usize) -> f64 {
        let c = self.0;
        if c.is_null(i) {
            return f64::NAN;
        }
        match c.data_type() {
            DataType::Float64 => c.as_primitive::<Float64Type>().value(i),
            DataType::Float32 => c.as_primitive::<Float32Type>().value(i) as f64,
            _ => self.i64(i) as f64,
        }
    }

    pub fn u64(&self, i: usize) -> u64 {
        self.i64(i).max(0) as u64
    }

    pub fn i64(&self, i: usize) -> i64 {
        let c = self.0;
        if c.is_null(i) {
            return 0;
        }
        match c.data_type() {
            DataType::UInt8 => c.as_primitive::<UInt8Type>().value(i) as i64,
            DataType::UInt16 => c.as_primitive::<UInt16Type>().value(i) as i64,
            DataType::UInt32 => c.as_primitive::<UInt32Type>().value(i) as i64,
            DataType::UInt64 => c.as_primitive::<UInt64Type>().value(i) as i64,
            DataType::Int8 => c.as_primitive::<Int8Type>().value(i) as i64,
            DataType::Int16 => c.as_primitive::<Int16Type>().value(i) as i64,
            DataType::Int32 => c.as_primitive::<Int32Type>().value(i) as i64,
            DataType::Int64 => c.as_primitive::<Int64Type>().value(i),
            DataType::Float64 => c.as_primitive::<Float64Type>().value(i) as i64,
            DataType::Timestamp(unit, _) => match unit {
                TimeUnit::Second => c.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => c.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => c.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => c.as_primitive::<TimestampNanosecondType>().value(i),
            },
            _ => 0,
        }
    }

    /// A timestamp column in microseconds since the epoch, whatever its unit.
    pub fn micros(&self, i: usize) -> i64 {
        let v = self.i64(i);
        match self.0.data_type() {
            DataType::Timestamp(TimeUnit::Second, _) => v * 1_000_000,
            DataType::Timestamp(TimeUnit::Millisecond, _) => v * 1_000,
            DataType::Timestamp(TimeUnit::Nanosecond, _) => v / 1_000,
            _ => v,
        }
    }

    pub fn strings(&self, i: usize) -> Vec<String> {
        match crate::rows::value_at(self.0, i) {
            serde_json::Value::Array(a) => a
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A `Array(Float64)` cell.
    pub fn floats(&self, i: usize) -> Vec<f64> {
        let c = self.0;
        if c.is_null(i) {
            return Vec::new();
        }
        match c.data_type() {
            DataType::List(_) => {
                let l = c.as_list::<i32>().value(i);
                let wrapped = Col(&l);
                (0..l.len()).map(|j| wrapped.f64(j)).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// Rows of all batches, with the batch for column access.
pub(crate) fn rows(batches: &[RecordBatch]) -> impl Iterator<Item = (&RecordBatch, usize)> {
    batches.iter().flat_map(|b| (0..b.num_rows()).map(move |i| (b, i)))
}
