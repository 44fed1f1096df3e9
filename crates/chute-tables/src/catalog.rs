//! `otel_attribute_catalog_feed`: the attribute catalog's input, built by chute at ingest from the
//! `otel_*` batches of a request (see `chute_patterns::catalog`) and submitted with them. The
//! engine keeps no feed rows (a `Null` table): a materialized view folds them into
//! `otel_attribute_catalog`'s uniqExact states, sums, minima and maxima.

use crate::TableDef;
use crate::columns::{DictStr, ts_type};
use arrow_array::builder::{StringBuilder, TimestampSecondBuilder, UInt8Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

pub const ATTRIBUTE_CATALOG_FEED: TableDef =
    TableDef { name: "otel_attribute_catalog_feed", schema: attribute_catalog_feed_schema };

/// Insertable columns of `otel_attribute_catalog_feed`, in table order.
pub fn attribute_catalog_feed_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("Signal", DictStr::data_type(), false),
            Field::new("Scope", DictStr::data_type(), false),
            Field::new("ServiceName", DictStr::data_type(), false),
            Field::new("Key", DataType::Utf8, false),
            Field::new("Name", DataType::Utf8, false),
            Field::new("Value", DataType::Utf8, false),
            Field::new("Sample", DataType::UInt8, false),
            Field::new("Occurrences", DataType::UInt64, false),
            Field::new("FirstSeen", ts_type(TimeUnit::Second), false),
            Field::new("LastSeen", ts_type(TimeUnit::Second), false),
        ]))
    })
    .clone()
}

/// One feed row: a value of `key` in the group (signal, scope, service, key, name), and the
/// group's occurrences and first/last second (carried by one row of the group; 0 on the others).
#[derive(Clone, Copy, Debug)]
pub struct FeedRow<'a> {
    pub signal: &'a str,
    pub scope: &'a str,
    pub service: &'a str,
    pub key: &'a str,
    pub name: &'a str,
    pub value: &'a str,
    /// Whether the value is one of the group's samples.
    pub sample: bool,
    pub occurrences: u64,
    pub first_s: i64,
    pub last_s: i64,
}

pub struct AttributeCatalogFeedBuilder {
    signal: DictStr,
    scope: DictStr,
    service: DictStr,
    key: StringBuilder,
    name: StringBuilder,
    value: StringBuilder,
    sample: UInt8Builder,
    occurrences: UInt64Builder,
    first: TimestampSecondBuilder,
    last: TimestampSecondBuilder,
    rows: usize,
}

impl AttributeCatalogFeedBuilder {
    pub fn new() -> Self {
        AttributeCatalogFeedBuilder {
            signal: DictStr::new(),
            scope: DictStr::new(),
            service: DictStr::new(),
            key: StringBuilder::new(),
            name: StringBuilder::new(),
            value: StringBuilder::new(),
            sample: UInt8Builder::new(),
            occurrences: UInt64Builder::new(),
            first: TimestampSecondBuilder::new().with_timezone("UTC"),
            last: TimestampSecondBuilder::new().with_timezone("UTC"),
            rows: 0,
        }
    }

    pub fn push(&mut self, r: &FeedRow<'_>) {
        self.signal.append(r.signal);
        self.scope.append(r.scope);
        self.service.append(r.service);
        self.key.append_value(r.key);
        self.name.append_value(r.name);
        self.value.append_value(r.value);
        self.sample.append_value(u8::from(r.sample));
        self.occurrences.append_value(r.occurrences);
        self.first.append_value(r.first_s);
        self.last.append_value(r.last_s);
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
            self.signal.finish(),
            self.scope.finish(),
            self.service.finish(),
            Arc::new(self.key.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.sample.finish()),
            Arc::new(self.occurrences.finish()),
            Arc::new(self.first.finish()),
            Arc::new(self.last.finish()),
        ];
        // The columns are built to the schema above, so this cannot fail.
        RecordBatch::try_new(attribute_catalog_feed_schema(), cols)
            .unwrap_or_else(|_| RecordBatch::new_empty(attribute_catalog_feed_schema()))
    }
}

impl Default for AttributeCatalogFeedBuilder {
    fn default() -> Self {
        Self::new()
    }
}
