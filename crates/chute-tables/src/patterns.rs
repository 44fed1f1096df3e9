//! `otel_log_patterns`: log templates counted per service, severity and hour, built at ingest
//! from the `otel_logs` batch of the same request (see `chute-patterns`) and submitted with it,
//! so its counts are as durable and as deduplicated as the logs themselves.
//!
//! On the engine side the table is an `AggregatingMergeTree` whose non-key columns are
//! `SimpleAggregateFunction(any | sum, T)`; Arrow carries the plain `T`.

use crate::TableDef;
use crate::columns::{DictStr, ts_type};
use arrow_array::builder::{StringBuilder, TimestampSecondBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

pub const LOG_PATTERNS: TableDef = TableDef { name: "otel_log_patterns", schema: log_patterns_schema };

/// Insertable columns of `otel_log_patterns`, in table order.
pub fn log_patterns_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("ServiceName", DictStr::data_type(), false),
            Field::new("TemplateId", DataType::UInt64, false),
            Field::new("SeverityText", DictStr::data_type(), false),
            Field::new("Bucket", ts_type(TimeUnit::Second), false),
            Field::new("Template", DataType::Utf8, false),
            Field::new("Count", DataType::UInt64, false),
            Field::new("Example", DataType::Utf8, false),
        ]))
    })
    .clone()
}

/// One aggregated row: `count` log records of `template` in the hour starting at `bucket_s`.
#[derive(Clone, Copy, Debug)]
pub struct PatternRow<'a> {
    pub service: &'a str,
    pub template_id: u64,
    pub severity: &'a str,
    pub bucket_s: i64,
    pub template: &'a str,
    pub count: u64,
    pub example: &'a str,
}

pub struct LogPatternsBuilder {
    service: DictStr,
    template_id: UInt64Builder,
    severity: DictStr,
    bucket: TimestampSecondBuilder,
    template: StringBuilder,
    count: UInt64Builder,
    example: StringBuilder,
    rows: usize,
}

impl LogPatternsBuilder {
    pub fn new() -> Self {
        LogPatternsBuilder {
            service: DictStr::new(),
            template_id: UInt64Builder::new(),
            severity: DictStr::new(),
            bucket: TimestampSecondBuilder::new().with_timezone("UTC"),
            template: StringBuilder::new(),
            count: UInt64Builder::new(),
            example: StringBuilder::new(),
            rows: 0,
        }
    }

    pub fn push(&mut self, r: &PatternRow<'_>) {
        self.service.append(r.service);
        self.template_id.append_value(r.template_id);
        self.severity.append(r.severity);
        self.bucket.append_value(r.bucket_s);
        self.template.append_value(r.template);
        self.count.append_value(r.count);
        self.example.append_value(r.example);
        self.rows += 1;
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn finish(mut self) -> RecordBatch {
        let cols: Vec<ArrayRef> = vec![
            self.service.finish(),
            Arc::new(self.template_id.finish()),
            self.severity.finish(),
            Arc::new(self.bucket.finish()),
            Arc::new(self.template.finish()),
            Arc::new(self.count.finish()),
            Arc::new(self.example.finish()),
        ];
        // The columns are built to the schema above, so this cannot fail.
        RecordBatch::try_new(log_patterns_schema(), cols)
            .unwrap_or_else(|_| RecordBatch::new_empty(log_patterns_schema()))
    }
}

impl Default for LogPatternsBuilder {
    fn default() -> Self {
        Self::new()
    }
}
