//! `influx_points`: InfluxDB line-protocol points that are not k6 samples, one row per point,
//! numeric and boolean fields as Float64 in one map and string fields in another.

use crate::TableDef;
use crate::columns::{DictStr, StrMap, ts_nanos, ts_type};
use arrow_array::builder::{Float64Builder, MapBuilder, MapFieldNames, StringBuilder, TimestampNanosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

pub const POINTS: TableDef = TableDef { name: "influx_points", schema: points_schema };

pub fn points_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("database", DictStr::data_type(), false),
            Field::new("measurement", DictStr::data_type(), false),
            Field::new("timestamp", ts_type(TimeUnit::Nanosecond), false),
            Field::new("tags", StrMap::data_type(), false),
            Field::new("fields", float_map_type(), false),
            Field::new("string_fields", StrMap::data_type(), false),
        ]))
    })
    .clone()
}

fn float_map_type() -> DataType {
    DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(
                vec![Field::new("keys", DataType::Utf8, false), Field::new("values", DataType::Float64, true)].into(),
            ),
            false,
        )),
        false,
    )
}

/// Builds `influx_points` rows: add tags and fields, then [`PointsBuilder::end_row`].
pub struct PointsBuilder {
    database: DictStr,
    measurement: DictStr,
    timestamp: TimestampNanosecondBuilder,
    pub tags: StrMap,
    fields: MapBuilder<StringBuilder, Float64Builder>,
    pub string_fields: StrMap,
    rows: usize,
}

impl PointsBuilder {
    pub fn new() -> Self {
        PointsBuilder {
            database: DictStr::new(),
            measurement: DictStr::new(),
            timestamp: ts_nanos(),
            tags: StrMap::new(),
            fields: MapBuilder::new(
                Some(MapFieldNames { entry: "entries".into(), key: "keys".into(), value: "values".into() }),
                StringBuilder::new(),
                Float64Builder::new(),
            ),
            string_fields: StrMap::new(),
            rows: 0,
        }
    }

    /// Adds a numeric (or boolean, as 0/1) field to the current row.
    pub fn field(&mut self, k: &str, v: f64) {
        self.fields.keys().append_value(k);
        self.fields.values().append_value(v);
    }

    pub fn end_row(&mut self, database: &str, measurement: &str, timestamp_ns: i64) {
        self.database.append(database);
        self.measurement.append(measurement);
        self.timestamp.append_value(timestamp_ns);
        self.tags.end_row();
        let _ = self.fields.append(true);
        self.string_fields.end_row();
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            self.database.finish(),
            self.measurement.finish(),
            Arc::new(self.timestamp.finish()),
            self.tags.finish(),
            Arc::new(self.fields.finish()),
            self.string_fields.finish(),
        ];
        RecordBatch::try_new(points_schema(), cols).expect("influx_points columns match the schema")
    }
}

impl Default for PointsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_matches_schema() {
        let mut b = PointsBuilder::new();
        b.tags.insert("host", "a");
        b.field("load", 0.5);
        b.string_fields.insert("msg", "hi");
        b.end_row("telegraf", "cpu", 1);
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), points_schema());
    }
}
