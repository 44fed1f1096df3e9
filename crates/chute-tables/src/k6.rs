//! k6 tables: `k6_samples` (every sample), `k6_metrics` (metric declarations with thresholds)
//! and `k6_imports` (the ledger of imported files). `k6_runs` is filled by the engine from
//! `k6_samples` (a materialized view), so it has no builder here.

use crate::TableDef;
use crate::columns::{DictStr, StrMap, ts_micros, ts_millis, ts_type};
use arrow_array::builder::{
    Float64Builder, ListBuilder, StringBuilder, TimestampMicrosecondBuilder, TimestampMillisecondBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

pub const SAMPLES: TableDef = TableDef { name: "k6_samples", schema: samples_schema };
pub const METRICS: TableDef = TableDef { name: "k6_metrics", schema: metrics_schema };
pub const IMPORTS: TableDef = TableDef { name: "k6_imports", schema: imports_schema };

/// Insertable columns of `k6_samples`, in table order. The common system tags (scenario, name,
/// url, method, status, group, check, expected_response, error_code) are materialized by the
/// engine from `tags`.
pub fn samples_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("run_id", DictStr::data_type(), false),
            Field::new("timestamp", ts_type(TimeUnit::Microsecond), false),
            Field::new("metric", DictStr::data_type(), false),
            Field::new("metric_type", DictStr::data_type(), false),
            Field::new("value", DataType::Float64, false),
            Field::new("tags", StrMap::data_type(), false),
            Field::new("vu", DataType::UInt32, true),
            Field::new("iter", DataType::UInt64, true),
            Field::new("metadata", StrMap::data_type(), false),
            Field::new("source", DictStr::data_type(), false),
        ]))
    })
    .clone()
}

/// Builds `k6_samples` rows: add the row's tags and metadata, then call [`SamplesBuilder::end_row`].
pub struct SamplesBuilder {
    run_id: DictStr,
    timestamp: TimestampMicrosecondBuilder,
    metric: DictStr,
    metric_type: DictStr,
    value: Float64Builder,
    pub tags: StrMap,
    vu: UInt32Builder,
    iter: UInt64Builder,
    pub metadata: StrMap,
    source: DictStr,
    rows: usize,
}

/// The scalar columns of one sample.
pub struct SampleRow<'a> {
    pub run_id: &'a str,
    pub timestamp_us: i64,
    pub metric: &'a str,
    /// `counter`, `gauge`, `rate`, `trend`, or empty when the source does not say.
    pub metric_type: &'a str,
    pub value: f64,
    pub vu: Option<u32>,
    pub iter: Option<u64>,
    pub source: &'a str,
}

impl SamplesBuilder {
    pub fn new() -> Self {
        SamplesBuilder {
            run_id: DictStr::new(),
            timestamp: ts_micros(),
            metric: DictStr::new(),
            metric_type: DictStr::new(),
            value: Float64Builder::new(),
            tags: StrMap::new(),
            vu: UInt32Builder::new(),
            iter: UInt64Builder::new(),
            metadata: StrMap::new(),
            source: DictStr::new(),
            rows: 0,
        }
    }

    /// Ends a row whose tags and metadata were added with `tags.insert` / `metadata.insert`.
    pub fn end_row(&mut self, r: &SampleRow<'_>) {
        self.run_id.append(r.run_id);
        self.timestamp.append_value(r.timestamp_us);
        self.metric.append(r.metric);
        self.metric_type.append(r.metric_type);
        self.value.append_value(r.value);
        self.tags.end_row();
        self.vu.append_option(r.vu);
        self.iter.append_option(r.iter);
        self.metadata.end_row();
        self.source.append(r.source);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows so far as a record batch; the builder starts over empty.
    pub fn finish(&mut self) -> RecordBatch {
        self.rows = 0;
        let cols: Vec<ArrayRef> = vec![
            self.run_id.finish(),
            Arc::new(self.timestamp.finish()),
            self.metric.finish(),
            self.metric_type.finish(),
            Arc::new(self.value.finish()),
            self.tags.finish(),
            Arc::new(self.vu.finish()),
            Arc::new(self.iter.finish()),
            self.metadata.finish(),
            self.source.finish(),
        ];
        RecordBatch::try_new(samples_schema(), cols).expect("k6_samples columns match the schema")
    }
}

impl Default for SamplesBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Insertable columns of `k6_metrics`: one row per (run, metric) declaration. The newest row
/// for a (run, metric) wins (ReplacingMergeTree on `updated_at`).
pub fn metrics_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("run_id", DataType::Utf8, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("type", DataType::Utf8, false),
            Field::new("contains", DataType::Utf8, false),
            Field::new("thresholds", list_of_strings(), false),
            Field::new("submetrics", list_of_strings(), false),
            Field::new("source", DataType::Utf8, false),
            Field::new("updated_at", ts_type(TimeUnit::Millisecond), false),
        ]))
    })
    .clone()
}

fn list_of_strings() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

/// One metric declaration (a k6 JSON `Metric` line, or types and thresholds given by a user).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricRow {
    pub run_id: String,
    pub name: String,
    pub metric_type: String,
    pub contains: String,
    pub thresholds: Vec<String>,
    pub submetrics: Vec<String>,
    pub source: String,
    pub updated_at_ms: i64,
}

pub fn metrics_batch(rows: &[MetricRow]) -> RecordBatch {
    let mut run = StringBuilder::new();
    let mut name = StringBuilder::new();
    let mut ty = StringBuilder::new();
    let mut contains = StringBuilder::new();
    let mut thresholds = ListBuilder::new(StringBuilder::new());
    let mut submetrics = ListBuilder::new(StringBuilder::new());
    let mut source = StringBuilder::new();
    let mut updated: TimestampMillisecondBuilder = ts_millis();
    for r in rows {
        run.append_value(&r.run_id);
        name.append_value(&r.name);
        ty.append_value(&r.metric_type);
        contains.append_value(&r.contains);
        for t in &r.thresholds {
            thresholds.values().append_value(t);
        }
        thresholds.append(true);
        for s in &r.submetrics {
            submetrics.values().append_value(s);
        }
        submetrics.append(true);
        source.append_value(&r.source);
        updated.append_value(r.updated_at_ms);
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(run.finish()),
        Arc::new(name.finish()),
        Arc::new(ty.finish()),
        Arc::new(contains.finish()),
        Arc::new(thresholds.finish()),
        Arc::new(submetrics.finish()),
        Arc::new(source.finish()),
        Arc::new(updated.finish()),
    ];
    RecordBatch::try_new(metrics_schema(), cols).expect("k6_metrics columns match the schema")
}

/// Insertable columns of `k6_imports`: one row per imported file, keyed by its content hash.
pub fn imports_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("file_sha256", DataType::Utf8, false),
            Field::new("file_name", DataType::Utf8, false),
            Field::new("format", DataType::Utf8, false),
            Field::new("run_id", DataType::Utf8, false),
            Field::new("samples", DataType::UInt64, false),
            Field::new("imported_at", ts_type(TimeUnit::Millisecond), false),
        ]))
    })
    .clone()
}

#[derive(Clone, Debug, PartialEq)]
pub struct ImportRow {
    pub file_sha256: String,
    pub file_name: String,
    pub format: String,
    pub run_id: String,
    pub samples: u64,
    pub imported_at_ms: i64,
}

pub fn imports_batch(rows: &[ImportRow]) -> RecordBatch {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(arrow_array::StringArray::from_iter_values(rows.iter().map(|r| &r.file_sha256))),
        Arc::new(arrow_array::StringArray::from_iter_values(rows.iter().map(|r| &r.file_name))),
        Arc::new(arrow_array::StringArray::from_iter_values(rows.iter().map(|r| &r.format))),
        Arc::new(arrow_array::StringArray::from_iter_values(rows.iter().map(|r| &r.run_id))),
        Arc::new(arrow_array::UInt64Array::from_iter_values(rows.iter().map(|r| r.samples))),
        Arc::new(
            arrow_array::TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.imported_at_ms))
                .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(imports_schema(), cols).expect("k6_imports columns match the schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;
    use arrow_array::cast::AsArray;

    #[test]
    fn samples_builder_fills_every_column_in_schema_order() {
        let mut b = SamplesBuilder::new();
        b.tags.insert("status", "200");
        b.tags.insert("testid", "t1");
        b.end_row(&SampleRow {
            run_id: "t1",
            timestamp_us: 1_795_433_093_125_392,
            metric: "http_reqs",
            metric_type: "counter",
            value: 1.0,
            vu: Some(3),
            iter: None,
            source: "influxdb",
        });
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), samples_schema());
        let tags = batch.column(5).as_map();
        assert_eq!(tags.value(0).len(), 2);
        assert!(batch.column(7).is_null(0), "unknown iter is null, not zero");
        assert!(b.is_empty(), "finish starts over");
    }

    #[test]
    fn metric_and_import_batches_match_their_schemas() {
        let m = metrics_batch(&[MetricRow {
            run_id: "r".into(),
            name: "http_req_duration".into(),
            metric_type: "trend".into(),
            contains: "time".into(),
            thresholds: vec!["p(95)<200".into()],
            submetrics: vec![],
            source: "json".into(),
            updated_at_ms: 1,
        }]);
        assert_eq!(m.num_rows(), 1);
        let i = imports_batch(&[ImportRow {
            file_sha256: "ab".into(),
            file_name: "x.json".into(),
            format: "json".into(),
            run_id: "r".into(),
            samples: 3,
            imported_at_ms: 1,
        }]);
        assert_eq!(i.num_rows(), 1);
    }
}
