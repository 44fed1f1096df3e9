//! `chute_dead_letters`: rows (or messages) the store refused for what they contain, with the
//! store's error, so nothing is dropped silently.

use crate::TableDef;
use crate::columns::{DictStr, StrMap, ts_millis, ts_type};
use arrow_array::builder::{Int32Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

pub const DEAD_LETTERS: TableDef = TableDef { name: "chute_dead_letters", schema: dead_letters_schema };

pub fn dead_letters_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        Arc::new(Schema::new(vec![
            Field::new("time", ts_type(TimeUnit::Millisecond), false),
            Field::new("table", DictStr::data_type(), false),
            Field::new("source", DictStr::data_type(), false),
            Field::new("error_code", DataType::Int32, false),
            Field::new("error", DataType::Utf8, false),
            Field::new("row", DataType::Utf8, false),
            Field::new("context", StrMap::data_type(), false),
        ]))
    })
    .clone()
}

/// One refused row.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub time_ms: i64,
    pub table: String,
    pub source: String,
    /// The store's error code (ClickHouse's `Code: N`), 0 when there is none.
    pub error_code: i32,
    pub error: String,
    /// The row as a JSON object (or the raw message, for undecodable input).
    pub row: String,
    /// Where it came from: for stream messages, stream, subject, sequence, headers.
    pub context: Vec<(String, String)>,
}

pub fn dead_letters_batch(rows: &[DeadLetter]) -> RecordBatch {
    let mut time: TimestampMillisecondBuilder = ts_millis();
    let mut table = DictStr::new();
    let mut source = DictStr::new();
    let mut code = Int32Builder::new();
    let mut error = StringBuilder::new();
    let mut row = StringBuilder::new();
    let mut context = StrMap::new();
    for r in rows {
        time.append_value(r.time_ms);
        table.append(&r.table);
        source.append(&r.source);
        code.append_value(r.error_code);
        error.append_value(&r.error);
        row.append_value(&r.row);
        for (k, v) in &r.context {
            context.insert(k, v);
        }
        context.end_row();
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(time.finish()),
        table.finish(),
        source.finish(),
        Arc::new(code.finish()),
        Arc::new(error.finish()),
        Arc::new(row.finish()),
        context.finish(),
    ];
    RecordBatch::try_new(dead_letters_schema(), cols).expect("chute_dead_letters columns match the schema")
}
